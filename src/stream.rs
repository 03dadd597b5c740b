//! Pipelined video: the model works on frame N+1 while the pixel stages finish frame N.
//!
//! On a live preview the two halves of the pipeline have different costs: preprocess +
//! inference (tract, one thread) and upsample + blur + composite (rayon). Run one after the other
//! they add up; a [`Stream`] can overlap them. A worker thread owns a
//! [`SegmenterSession`](crate::SegmenterSession) and segments each submitted frame; the caller's
//! thread runs the pixel stages of the previous frame on a rayon pool of the stream's own.
//! With the GPU backend the worker does what a sequential pipeline does: it preprocesses on the
//! pixel stages' GPU (its own upload of the frame; a 4K frame resampled on one core took ≈ 23 ms)
//! and runs the model there too where [`crate::Options::model_backend`] puts it; the tracking
//! crop is still sampled on the CPU.
//!
//! **Which schedule wins depends on the frame size, the machine and its load** ([`Schedule`]):
//! - [`Schedule::Overlapped`]: the pixel stages on one thread fewer than the cores while the model
//!   has the last core: a frame takes the longer half. Wins where the pixel stages on the fewer
//!   cores take no longer than the model; on two cores that leaves the pixel stages one core,
//!   and at 1080p the model's core idles half of each frame.
//! - [`Schedule::Shared`]: both at once, the pixel stages on every core, the OS sharing the cores
//!   with the model's thread: no core idles while either half has work.
//! - [`Schedule::Sequential`]: the pixel stages of frame N on every core, then frame N+1 handed to
//!   the model, which runs while the caller is between pushes: a frame takes the sum, less the
//!   caller's own time — the sequential pipeline's frame time at worst.
//!
//! With [`Schedule::Auto`] (the default) the stream tries them in turn, four frames at a time,
//! for [`Schedule::PROBE_FRAMES`] frames — from the first frame, after [`Stream::prepare`] or a
//! change of frame size, [`Schedule::FIRST_REPROBE_FRAMES`] frames after that and every
//! [`Schedule::REPROBE_FRAMES`] frames from then on — and keeps the one whose
//! `push` returned soonest (the lower quartile of the times the caller was blocked in `push`,
//! leaving out the first two frames of each turn: what a live preview feels, with the caller's
//! own time between pushes counted as it really is). The numbers are in
//! `BENCHMARKS.md`. The pictures are the same under every schedule; only where the work runs
//! changes.
//!
//! The price is **one frame of latency**: [`Stream::push`] hands in frame N and writes out frame
//! N−1, each mask applied to the very frame it was computed from (frames are copied into the
//! stream, so the caller's buffer is free again when `push` returns). [`Stream::finish`] drains
//! the last frame. Input buffers and masks travel between the threads and are reused, so steady
//! state allocates nothing in bokeh's own code (tract allocates inside each model run).
//!
//! Two knobs trade mask freshness for CPU ([`Stream::set_mask_interval`],
//! [`Stream::set_still_threshold`]): run the model only on every N-th frame, and/or only when
//! the picture changed by more than a threshold since the last frame that was segmented. A frame
//! that is not segmented still travels through the worker (so outputs stay in order and the
//! latency stays one frame) and is composited with the newest mask, already smoothed, without
//! smoothing it again. [`Stream::mask_age`] says how many frames old the applied mask was.
//!
//! With the temporal filter on, the worker segments through the subject-tracking crop
//! ([`crate::Tracking`], `src/track.rs`), as a [`Pipeline`] does: the crop for frame N comes
//! from the masks of the frames before it, so the latency stays one frame.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
#[cfg(feature = "gpu")]
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::frame::{Frame, FrameMut, FrameRef, PixelFormat};
use crate::mask::Mask;
use crate::options::{Options, StageTimings};
use crate::orient::Orientation;
use crate::pipeline::Pipeline;
use crate::pixels::Pixels;
use crate::pool::WorkerPool;
use crate::segment::Segmenter;
use crate::track::{TrackStats, Tracker, Tracking};
use crate::yuv::YuvFrameRef;

/// A 32×18 luma thumbnail of `frame` (nearest samples), for telling a still scene.
fn thumbnail(frame: &Frame, out: &mut Vec<u8>) {
    crate::temporal::luma_at(frame.as_ref(), 32, 18, out);
}

fn mean_difference(a: &[u8], b: &[u8]) -> f32 {
    let sum: u32 = a.iter().zip(b).map(|(x, y)| u32::from(x.abs_diff(*y))).sum();
    sum as f32 / a.len().max(1) as f32
}

/// How a [`Stream`] shares the cores between the model and the pixel stages (see the module
/// documentation). The pictures are the same under every schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Schedule {
    /// Measure the others on a few frames now and then, and use the fastest (the default).
    #[default]
    Auto,
    /// The model on its own core, working on frame N+1 while the pixel stages of frame N run
    /// on the other cores: a frame takes the longer of the two halves.
    Overlapped,
    /// Both at once on every core, the OS sharing them.
    Shared,
    /// The pixel stages of frame N on every core first, then the model on frame N+1 while the
    /// caller is between pushes: a frame takes the sum, less the caller's own time.
    Sequential,
}

impl Schedule {
    /// The schedules [`Schedule::Auto`] chooses from, in the order it tries them.
    pub const MEASURED: [Schedule; 3] = [Schedule::Overlapped, Schedule::Shared, Schedule::Sequential];

    /// Frames one measurement under [`Schedule::Auto`] takes: four rounds, each giving every
    /// schedule a turn of four frames in a row, of which the first two are left out of the
    /// comparison (the change of schedule shows in them: after overlapped frames the shared
    /// schedule took 3–4 frames to come down to its steady time on the 2-core VM, 11–15 ms
    /// instead of 9 at 720p). Interleaving the turns keeps a noisy machine's slow moments from
    /// landing on one schedule only.
    pub const PROBE_FRAMES: usize = PROBE_ROUNDS * TURN_FRAMES * Schedule::MEASURED.len();

    /// Frames between two measurements under [`Schedule::Auto`] (scenes, tracking crops and the
    /// machine's load change what wins). The second comes sooner, after
    /// [`Schedule::FIRST_REPROBE_FRAMES`]: the first measures a stream's first frames, when its
    /// threads and caches are cold.
    pub const REPROBE_FRAMES: u64 = 1800;

    /// Frames between the first measurement under [`Schedule::Auto`] and the second.
    pub const FIRST_REPROBE_FRAMES: u64 = 300;

    /// The schedule's name in lower case ("auto", "overlapped", "shared", "sequential").
    pub fn name(self) -> &'static str {
        match self {
            Schedule::Auto => "auto",
            Schedule::Overlapped => "overlapped",
            Schedule::Shared => "shared",
            Schedule::Sequential => "sequential",
        }
    }
}

/// Turns each schedule gets in one measurement.
const PROBE_ROUNDS: usize = 4;
/// Frames in a row a schedule gets in one turn.
const TURN_FRAMES: usize = 4;
/// Frames at the start of a turn that are not counted.
const SETTLE_FRAMES: usize = 2;
/// Frames of a turn that are counted.
const COUNTED_FRAMES: usize = TURN_FRAMES - SETTLE_FRAMES;
/// Push times kept for each schedule in one measurement.
const SAMPLES: usize = PROBE_ROUNDS * COUNTED_FRAMES;

/// The choice of [`Schedule`] with [`Schedule::Auto`]: gives each of [`Schedule::MEASURED`]
/// [`PROBE_ROUNDS`] turns, interleaved, and keeps the one with the smallest lower quartile of
/// its counted push times.
#[derive(Debug, Clone)]
pub(crate) struct Scheduler {
    requested: Schedule,
    /// The schedule in use.
    active: Schedule,
    /// While measuring: frames measured so far in this measurement.
    probe: Option<usize>,
    /// Each schedule's counted push times (the frames of its turns after the first
    /// [`SETTLE_FRAMES`]).
    times: [[Duration; SAMPLES]; Schedule::MEASURED.len()],
    /// Frames since the last measurement ended.
    since_probe: u64,
    /// Measurements finished since the last restart.
    measured: u32,
}

impl Scheduler {
    pub(crate) fn new(requested: Schedule) -> Self {
        let mut s = Scheduler {
            requested,
            active: Schedule::Overlapped,
            probe: None,
            times: [[Duration::ZERO; SAMPLES]; Schedule::MEASURED.len()],
            since_probe: 0,
            measured: 0,
        };
        s.set(requested);
        s
    }

    /// Uses `requested` from now on (`Auto` starts measuring again).
    pub(crate) fn set(&mut self, requested: Schedule) {
        self.requested = requested;
        if requested == Schedule::Auto {
            self.restart();
        } else {
            self.active = requested;
            self.probe = None;
        }
    }

    /// Starts measuring afresh under `Auto` (after prepare or a change of size).
    pub(crate) fn restart(&mut self) {
        self.measured = 0;
        self.measure();
    }

    /// Starts a measurement under `Auto`.
    fn measure(&mut self) {
        if self.requested == Schedule::Auto {
            self.probe = Some(0);
            self.active = Schedule::MEASURED[0];
            self.since_probe = 0;
        }
    }

    /// The schedule in use for the next push.
    pub(crate) fn active(&self) -> Schedule {
        self.active
    }

    /// Whether `Auto` is measuring the schedules now.
    pub(crate) fn is_measuring(&self) -> bool {
        self.probe.is_some()
    }

    /// Counts one push that wrote a frame, blocking the caller for `time`.
    pub(crate) fn record(&mut self, time: Duration) {
        if self.requested != Schedule::Auto {
            return;
        }
        let Some(step) = self.probe else {
            self.since_probe += 1;
            let every = if self.measured == 1 { Schedule::FIRST_REPROBE_FRAMES } else { Schedule::REPROBE_FRAMES };
            if self.since_probe >= every {
                self.measure();
            }
            return;
        };
        // Step k: round k / (TURN_FRAMES × 3), schedule (k / TURN_FRAMES) % 3, frame k % TURN_FRAMES
        // of the schedule's turn (the first SETTLE_FRAMES of a turn are not counted).
        let n = Schedule::MEASURED.len();
        let frame = step % TURN_FRAMES;
        if frame >= SETTLE_FRAMES {
            let round = step / (TURN_FRAMES * n);
            self.times[(step / TURN_FRAMES) % n][round * COUNTED_FRAMES + frame - SETTLE_FRAMES] = time;
        }
        let next = step + 1;
        if next < Schedule::PROBE_FRAMES {
            self.probe = Some(next);
            self.active = Schedule::MEASURED[(next / TURN_FRAMES) % n];
        } else {
            self.probe = None;
            self.since_probe = 0;
            self.measured = self.measured.saturating_add(1);
            self.active = Schedule::MEASURED[fastest(&mut self.times)];
        }
    }
}

/// The index of the schedule with the smallest lower quartile of its push times (the earliest
/// on a tie). A busy machine only ever adds time to a frame — another process, a change of
/// schedule still settling — so the faster frames say more about what a schedule costs; the
/// quartile, not the minimum, so that one lucky frame does not decide.
fn fastest(times: &mut [[Duration; SAMPLES]; Schedule::MEASURED.len()]) -> usize {
    let mut best = (0, Duration::MAX);
    for (i, run) in times.iter_mut().enumerate() {
        run.sort_unstable();
        let quartile = run[(run.len() - 1) / 4];
        if quartile < best.1 {
            best = (i, quartile);
        }
    }
    best.0
}

/// A frame travelling to the worker and back with its mask.
struct Work {
    frame: Frame,
    mask: Mask,
    /// Run the model on this frame (else reuse the newest mask).
    segment: bool,
    /// Segment through the tracking crop with these settings (video with the temporal filter).
    tracking: Option<Tracking>,
    /// Forget the tracked people before this frame.
    reset_tracking: bool,
    /// How the frame is stored relative to upright.
    orientation: Orientation,
    /// The GPU of the pixel stages (the worker preprocesses there too, as a sequential
    /// pipeline does) and the model's, as the stream's options have them for this frame.
    #[cfg(feature = "gpu")]
    gpu: (Option<Arc<crate::gpu::GpuContext>>, Option<Arc<crate::gpu::GpuContext>>),
    /// The worker's tracker counts after this frame.
    track_stats: TrackStats,
    pushed: Instant,
    segment_time: (Duration, Duration),
    result: Result<()>,
}

/// A pipelined portrait-mode stream (see the module documentation).
pub struct Stream {
    to_worker: Option<SyncSender<Work>>,
    from_worker: Receiver<Work>,
    worker: Option<JoinHandle<()>>,
    pixels: Pipeline,
    /// The pixel stages' pool while the model has a core to itself (one thread fewer than the
    /// cores; `None` on one core, where it would be `wide`).
    narrow: Option<WorkerPool>,
    /// The pixel stages' pool on every core.
    wide: WorkerPool,
    scheduler: Scheduler,
    /// The frame size of the last push (a new size starts a new measurement).
    size: (u32, u32),
    /// Buffers not in use: two in all, one travelling while the other is composited.
    spares: Vec<Work>,
    in_flight: bool,
    latency: Duration,
    /// The newest model mask, after smoothing, for frames that reuse it.
    last_mask: Mask,
    /// Frames since `last_mask` was computed, as of the last output.
    mask_age: u32,
    /// Run the model on every `interval`-th frame at least.
    interval: u32,
    /// Reuse the mask while the picture changes less than this (mean 8-bit difference).
    still_threshold: Option<f32>,
    /// Luma thumbnail of the last frame sent to the model, and of the current one.
    thumb: Vec<u8>,
    thumb_now: Vec<u8>,
    /// Frames submitted since the last one sent to the model.
    since_segmented: u32,
    masks_computed: u64,
    frames_submitted: u64,
    /// The tracking settings the worker last got, and its counts as of the last output.
    tracking: Option<Tracking>,
    track_stats: TrackStats,
    /// Tell the worker to forget the tracked people with the next frame.
    reset_tracking: bool,
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stream").field("in_flight", &self.in_flight).finish_non_exhaustive()
    }
}

fn worker_gone() -> Error {
    Error::Model { context: "stream".into(), message: "the inference thread stopped".into() }
}

impl Stream {
    /// A stream running `segmenter` with `options`.
    pub fn new(segmenter: &Segmenter, options: Options) -> Result<Self> {
        let pixels = Pipeline::new(segmenter, options)?;
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let narrow = match cores {
            0 | 1 => None,
            n => Some(WorkerPool::new(n - 1, |i| format!("bokeh-pixels-{i}"))?),
        };
        let wide = WorkerPool::new(cores, |i| format!("bokeh-pixels-all-{i}"))?;
        let (to_worker, work_rx) = sync_channel::<Work>(1);
        let (done_tx, from_worker) = sync_channel::<Work>(1);
        let mut session = segmenter.session();
        // Where the worker preprocesses: the CPU, or the pixel stages' GPU (its own upload of
        // the frame: at 4K one core resamples for ≈ 23 ms, the GPU in well under one).
        let mut prep = Pixels::cpu();
        let mut tracker = Tracker::new(segmenter);
        let worker = std::thread::Builder::new()
            .name("bokeh-inference".into())
            .spawn(move || {
                // The worker's own rayon calls (preprocessing) stay on its one core.
                let Ok(pool) = WorkerPool::new(1, |_| "bokeh-inference-pool".into()) else { return };
                pool.install(move || {
                    while let Ok(mut work) = work_rx.recv() {
                        if !work.segment {
                            work.result = Ok(());
                            work.segment_time = Default::default();
                            if done_tx.send(work).is_err() {
                                break;
                            }
                            continue;
                        }
                        if work.reset_tracking {
                            tracker.reset();
                        }
                        session.set_orientation(work.orientation);
                        #[cfg(feature = "gpu")]
                        {
                            session.set_gpu(work.gpu.1.clone());
                            let same = match (&work.gpu.0, prep.gpu_context()) {
                                (Some(a), Some(b)) => Arc::ptr_eq(a, &b),
                                (None, None) => true,
                                _ => false,
                            };
                            if !same {
                                prep = work.gpu.0.clone().map_or_else(Pixels::cpu, Pixels::gpu);
                            }
                        }
                        work.result = match work.tracking {
                            Some(tracking) => tracker
                                .segment(&mut session, work.frame.as_ref(), &tracking, &mut work.mask)
                                .map(|times| work.segment_time = times),
                            None => {
                                let t0 = Instant::now();
                                prep.preprocess(&mut session, work.frame.as_ref()).and_then(|prepared| {
                                    let t1 = Instant::now();
                                    let r = session.infer_into(prepared, &mut work.mask);
                                    work.segment_time = (t1 - t0, t1.elapsed());
                                    r
                                })
                            }
                        };
                        work.track_stats = tracker.stats();
                        if done_tx.send(work).is_err() {
                            break;
                        }
                    }
                })
            })
            .map_err(|e| Error::InvalidOption(format!("cannot start the inference thread: {e}")))?;
        let mut spares = Vec::with_capacity(2);
        for _ in 0..2 {
            spares.push(Work {
                frame: Frame::new(1, 1, PixelFormat::Rgb8)?,
                mask: Mask::new(0, 0),
                segment: true,
                tracking: None,
                reset_tracking: false,
                orientation: Orientation::UPRIGHT,
                #[cfg(feature = "gpu")]
                gpu: (None, None),
                track_stats: TrackStats::default(),
                pushed: Instant::now(),
                segment_time: Default::default(),
                result: Ok(()),
            });
        }
        Ok(Stream {
            to_worker: Some(to_worker),
            from_worker,
            worker: Some(worker),
            pixels,
            narrow,
            wide,
            scheduler: Scheduler::new(Schedule::Auto),
            size: (0, 0),
            spares,
            in_flight: false,
            latency: Duration::ZERO,
            last_mask: Mask::new(0, 0),
            mask_age: 0,
            interval: 1,
            still_threshold: None,
            thumb: Vec::new(),
            thumb_now: Vec::new(),
            since_segmented: 0,
            masks_computed: 0,
            frames_submitted: 0,
            tracking: None,
            track_stats: TrackStats::default(),
            reset_tracking: false,
        })
    }

    /// Runs the model on every `n`-th frame only (1, the default, = every frame); the frames in
    /// between reuse the newest mask. Takes effect from the next frame pushed.
    pub fn set_mask_interval(&mut self, n: u32) -> Result<()> {
        if n == 0 {
            return Err(Error::InvalidOption("the mask interval must be at least 1 frame".into()));
        }
        self.interval = n;
        Ok(())
    }

    /// Reuses the newest mask while the frame differs from the last segmented one by less than
    /// `threshold` (mean absolute difference of a 32×18 luma thumbnail, in 8-bit codes: camera
    /// noise on a still scene is about 1–2); `None` (the default) segments regardless. With an
    /// interval as well, the model runs at most every `n` frames, and then only if the picture
    /// moved. The comparison is with the last segmented frame, so a slow drift adds up.
    pub fn set_still_threshold(&mut self, threshold: Option<f32>) -> Result<()> {
        if threshold.is_some_and(|t| !t.is_finite() || t < 0.0) {
            return Err(Error::InvalidOption("the still threshold must be a non-negative number".into()));
        }
        self.still_threshold = threshold;
        Ok(())
    }

    /// Readies the stream for `width × height` frames of `format` (see [`Pipeline::prepare`]):
    /// the model plans compiled, the worker's inference states made, one black frame pushed
    /// through both threads and forgotten (counts, timings and tracking start afresh). Call it
    /// before the first frame, and again after a change of size or orientation; nothing may be
    /// in flight (call [`Stream::finish`] first).
    pub fn prepare(&mut self, width: u32, height: u32, format: PixelFormat) -> Result<()> {
        if self.in_flight {
            return Err(Error::InvalidOption("prepare: a frame is in flight; call finish first".into()));
        }
        // The plans (shared with the worker through the segmenter); the black frame below then
        // warms the worker's states and the pixel stages once, through the threads that use them.
        self.pixels.prepare_model(width, height)?;
        let frame = Frame::new(width, height, format)?;
        let (w, h) = self.pixels.options().output_size(width, height);
        let mut out = Frame::new(w, h, self.pixels.options().output_format(format))?;
        let counts = (self.frames_submitted, self.masks_computed, self.track_stats, self.latency);
        let timings = *self.pixels.timings();
        let result = self.push(frame.as_ref(), &mut out.as_mut()).and_then(|_| self.finish(&mut out.as_mut()));
        (self.frames_submitted, self.masks_computed, self.track_stats, self.latency) = counts;
        self.pixels.set_timings(timings);
        self.reset_temporal();
        self.thumb.clear();
        self.since_segmented = 0;
        self.scheduler.restart();
        result.map(|_| ())
    }

    /// The full-resolution mask of the last output frame, as the input is stored (see
    /// [`Pipeline::mask`]).
    pub fn mask(&mut self) -> &crate::Mask {
        self.pixels.mask()
    }

    /// Frames between a frame being pushed and its output: 1 (the model runs one frame ahead).
    pub fn latency_frames(&self) -> u32 {
        1
    }

    /// Chooses how the model and the pixel stages share the cores from the next push on (see
    /// [`Schedule`]); [`Schedule::Auto`], the default, measures the others and keeps the fastest.
    pub fn set_schedule(&mut self, schedule: Schedule) {
        self.scheduler.set(schedule);
    }

    /// The schedule in use for the next push (under [`Schedule::Auto`], the one being measured
    /// or the one it chose), and whether `Auto` is still measuring.
    pub fn schedule(&self) -> (Schedule, bool) {
        (self.scheduler.active(), self.scheduler.is_measuring())
    }

    /// How many frames older than the last output frame its mask was (0 = its own mask).
    pub fn mask_age(&self) -> u32 {
        self.mask_age
    }

    /// Frames pushed, and how many of them the model ran on.
    pub fn mask_counts(&self) -> (u64, u64) {
        (self.frames_submitted, self.masks_computed)
    }

    /// Whether the model should run on `frame`: always on the first, then on every
    /// `interval`-th frame, and (with a still threshold) only if the picture moved since the last
    /// segmented frame.
    fn wants_mask(&mut self, frame: &Frame) -> bool {
        let due = self.since_segmented + 1 >= self.interval;
        let moved = match self.still_threshold {
            None => true,
            Some(threshold) => {
                thumbnail(frame, &mut self.thumb_now);
                self.thumb.len() != self.thumb_now.len() || mean_difference(&self.thumb, &self.thumb_now) >= threshold
            }
        };
        let segment = self.masks_computed == 0 || (due && moved);
        if segment {
            std::mem::swap(&mut self.thumb, &mut self.thumb_now);
            self.since_segmented = 0;
            self.masks_computed += 1;
        } else {
            self.since_segmented += 1;
        }
        segment
    }

    /// The current options.
    pub fn options(&self) -> &Options {
        self.pixels.options()
    }

    /// The output format for an input of `format` (see [`Options::output_format`]).
    pub fn output_format(&self, format: PixelFormat) -> PixelFormat {
        self.pixels.options().output_format(format)
    }

    /// Changes the options; they apply from the next output on (the tracking crop from the
    /// next frame pushed).
    pub fn set_options(&mut self, options: Options) -> Result<()> {
        let turned = options.orientation != self.pixels.options().orientation;
        self.pixels.set_options(options)?;
        if turned {
            // The newest mask is in the old geometry: segment the next frame afresh.
            self.reset_temporal();
            self.since_segmented = self.interval;
            self.thumb.clear();
        }
        Ok(())
    }

    /// Forgets the temporal filter's past and the tracked people (after a scene cut or a
    /// camera switch): the next frame pushed is segmented whole and taken as the model gives it.
    pub fn reset_temporal(&mut self) {
        self.pixels.reset_temporal();
        self.reset_tracking = true;
    }

    /// What the subject-tracking crop did so far, as of the last output (see
    /// [`crate::TrackStats`]).
    pub fn tracking_stats(&self) -> TrackStats {
        self.track_stats
    }

    /// Model blinks the temporal filter bridged so far.
    pub fn blinks_bridged(&self) -> u64 {
        self.pixels.blinks_bridged()
    }

    /// Stage times of the last output frame (preprocess and inference as measured on the
    /// worker thread).
    pub fn timings(&self) -> &StageTimings {
        self.pixels.timings()
    }

    /// Where the pixel stages run (see [`Pipeline::backend_description`]).
    pub fn backend_description(&self) -> &str {
        self.pixels.backend_description()
    }

    /// Where the model runs (see [`Pipeline::model_description`]): on the pixel stages' GPU
    /// when its graph allows, else in tract on the inference thread.
    pub fn model_description(&self) -> String {
        self.pixels.model_description()
    }

    /// Time from the `push` of the last output frame to its output being written.
    pub fn latency(&self) -> Duration {
        self.latency
    }

    /// Submits `input`; when a previous frame is in flight, writes its result into `output`
    /// (which must have that frame's output size and format, see [`Options::output_size`]) and
    /// returns `true`.
    pub fn push(&mut self, input: FrameRef<'_>, output: &mut FrameMut<'_>) -> Result<bool> {
        self.submit(
            |frame| {
                frame.copy_from(input);
                Ok(())
            },
            output,
        )
    }

    /// Like [`Stream::push`] for a camera frame in NV12, NV21, I420 or YUYV: it is converted
    /// straight into the stream's own buffer as `format` (RGB, RGBA or BGRA), which is then the
    /// input format that [`Stream::output_format`] and `output` follow.
    pub fn push_yuv(&mut self, input: YuvFrameRef<'_>, format: PixelFormat, output: &mut FrameMut<'_>) -> Result<bool> {
        self.submit(
            |frame| {
                if (frame.width(), frame.height(), frame.format()) != (input.width(), input.height(), format) {
                    *frame = Frame::new(input.width(), input.height(), format)?;
                }
                input.to_rgb_into(&mut frame.as_mut())
            },
            output,
        )
    }

    /// Fills a spare buffer with the next frame, sends it to the worker and composites the
    /// previous one, in the order the schedule in use says. A frame that cannot be filled
    /// leaves the stream as it was.
    fn submit(&mut self, fill: impl FnOnce(&mut Frame) -> Result<()>, output: &mut FrameMut<'_>) -> Result<bool> {
        let started = Instant::now();
        let mut work = self.spares.pop().ok_or_else(worker_gone)?;
        if let Err(e) = fill(&mut work.frame) {
            self.spares.push(work);
            return Err(e);
        }
        let size = (work.frame.width(), work.frame.height());
        if size != self.size {
            self.size = size;
            self.scheduler.restart();
        }
        let done = if self.in_flight { Some(self.receive()?) } else { None };
        work.pushed = Instant::now();
        work.segment = self.wants_mask(&work.frame);
        let tracking = self.pixels.options().video_tracking();
        // New tracking settings start from the whole frame.
        work.reset_tracking = std::mem::take(&mut self.reset_tracking) || tracking != self.tracking;
        self.tracking = tracking;
        work.tracking = tracking;
        work.orientation = self.pixels.options().orientation;
        #[cfg(feature = "gpu")]
        {
            work.gpu = (self.pixels.gpu_context(), self.pixels.model_gpu());
        }
        self.frames_submitted += 1;
        let schedule = self.scheduler.active();
        let written = match done {
            None => self.send(work).map(|()| false),
            Some(done) if schedule == Schedule::Sequential => {
                // The pixel stages first, on every core; the model runs after this push returns.
                let written = self.composite(done, output, schedule);
                self.send(work)?;
                written.map(|()| true)
            }
            Some(done) => {
                self.send(work)?;
                self.composite(done, output, schedule).map(|()| true)
            }
        };
        if let Ok(true) = written {
            self.scheduler.record(started.elapsed());
        }
        written
    }

    /// Hands `work` to the worker; a frame is then in flight.
    fn send(&mut self, work: Work) -> Result<()> {
        let sender = self.to_worker.as_ref().ok_or_else(worker_gone)?;
        sender.send(work).map_err(|_| worker_gone())?;
        self.in_flight = true;
        Ok(())
    }

    /// Writes the result of the frame still in flight into `output`; returns `false` if there
    /// was none.
    pub fn finish(&mut self, output: &mut FrameMut<'_>) -> Result<bool> {
        if !self.in_flight {
            return Ok(false);
        }
        let done = self.receive()?;
        self.composite(done, output, self.scheduler.active()).map(|()| true)
    }

    fn receive(&mut self) -> Result<Work> {
        self.in_flight = false;
        self.from_worker.recv().map_err(|_| worker_gone())
    }

    /// The pixel stages of a frame back from the worker, on the pool `schedule` gives them.
    fn composite(&mut self, mut work: Work, output: &mut FrameMut<'_>, schedule: Schedule) -> Result<()> {
        let result = std::mem::replace(&mut work.result, Ok(()));
        let pool = match schedule {
            Schedule::Overlapped => self.narrow.as_ref().unwrap_or(&self.wide),
            _ => &self.wide,
        };
        let pixels = &mut self.pixels;
        let last_mask = &mut self.last_mask;
        let fresh = result.and_then(|()| {
            pool.install(|| {
                if work.segment {
                    pixels.finish_model_mask(work.frame.as_ref(), &mut work.mask, output)?;
                    // Kept smoothed: a reused mask is not smoothed a second time.
                    last_mask.clone_from(&work.mask);
                    Ok(true)
                } else {
                    pixels.process_with_mask(work.frame.as_ref(), last_mask, output).map(|()| false)
                }
            })
        });
        let written = fresh.map(|fresh| self.mask_age = if fresh { 0 } else { self.mask_age + 1 });
        pixels.set_segment_timings(work.segment_time.0, work.segment_time.1);
        if work.segment {
            self.track_stats = work.track_stats;
        }
        self.latency = work.pushed.elapsed();
        self.spares.push(work);
        written
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        // Closing the channel ends the worker's loop.
        self.to_worker = None;
        if self.in_flight {
            let _ = self.from_worker.recv();
        }
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    /// Feeds one measurement: `time(schedule index, frame of its turn)`.
    fn measure(s: &mut Scheduler, time: impl Fn(usize, usize) -> Duration) -> Vec<Schedule> {
        let mut order = Vec::new();
        for k in 0..Schedule::PROBE_FRAMES {
            assert!(s.is_measuring(), "frame {k}");
            order.push(s.active());
            let i = Schedule::MEASURED.iter().position(|&m| m == s.active()).expect("a measured schedule");
            s.record(time(i, k % TURN_FRAMES));
        }
        order
    }

    #[test]
    fn auto_keeps_the_fastest_schedule_and_measures_again_later() {
        let mut s = Scheduler::new(Schedule::Auto);
        // 20, 15 and 18 ms; the first two frames of each turn (left out) are slow.
        let order = measure(&mut s, |i, frame| ms(if frame < SETTLE_FRAMES { 90 } else { [20, 15, 18][i] }));
        let [o, sh, sq] = Schedule::MEASURED;
        assert_eq!(order[..13], [o, o, o, o, sh, sh, sh, sh, sq, sq, sq, sq, o], "turns, interleaved");
        assert_eq!((s.active(), s.is_measuring()), (Schedule::Shared, false));
        // The second measurement comes sooner than the ones after it.
        let mut chosen = Schedule::Shared;
        for (every, fastest) in [(Schedule::FIRST_REPROBE_FRAMES, 2), (Schedule::REPROBE_FRAMES, 1)] {
            for _ in 0..every - 1 {
                s.record(ms(1));
            }
            assert_eq!((s.active(), s.is_measuring()), (chosen, false));
            s.record(ms(1));
            assert_eq!((s.active(), s.is_measuring()), (Schedule::Overlapped, true), "measures again");
            measure(&mut s, |i, _| ms(if i == fastest { 9 } else { 30 }));
            chosen = Schedule::MEASURED[fastest];
            assert_eq!(s.active(), chosen);
        }
    }

    #[test]
    fn slow_frames_do_not_decide_nor_one_fast_frame_and_ties_keep_the_earlier_schedule() {
        let mut s = Scheduler::new(Schedule::Auto);
        let counted = std::cell::Cell::new(0);
        // Sequential is fastest, but five of its eight counted frames are slow (a slow spell of
        // the machine, a schedule still settling: the shared one on the 2-core VM).
        measure(&mut s, |i, frame| {
            if i == 2 && frame >= SETTLE_FRAMES {
                counted.set(counted.get() + 1);
                if counted.get() <= 5 {
                    return ms(500);
                }
            }
            ms([12, 12, 10][i])
        });
        assert_eq!(s.active(), Schedule::Sequential);
        // One lucky frame of overlapped's does not beat shared's steady 10 ms.
        s.restart();
        let lucky = std::cell::Cell::new(true);
        measure(&mut s, |i, frame| match i {
            0 if frame >= SETTLE_FRAMES && lucky.replace(false) => ms(5),
            0 => ms(14),
            1 => ms(10),
            _ => ms(12),
        });
        assert_eq!(s.active(), Schedule::Shared);
        s.restart();
        measure(&mut s, |_, _| ms(10));
        assert_eq!(s.active(), Schedule::Overlapped);
    }

    #[test]
    fn a_fixed_schedule_is_kept_and_auto_restarts_measuring() {
        let mut s = Scheduler::new(Schedule::Sequential);
        for _ in 0..100 {
            s.record(ms(5));
        }
        s.restart();
        assert_eq!((s.active(), s.is_measuring()), (Schedule::Sequential, false));
        s.set(Schedule::Auto);
        assert_eq!((s.active(), s.is_measuring()), (Schedule::Overlapped, true));
        s.set(Schedule::Shared);
        assert_eq!((s.active(), s.is_measuring()), (Schedule::Shared, false));
    }
}
