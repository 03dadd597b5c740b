//! Pipelined video: the model works on frame N+1 while the pixel stages finish frame N.
//!
//! On a live preview the two halves of the pipeline have different costs: preprocess +
//! inference (tract, one thread) and upsample + blur + composite (rayon). Run one after the other
//! they add up; a [`Stream`] overlaps them instead. A worker thread owns a
//! [`SegmenterSession`](crate::SegmenterSession) and segments each submitted frame; the caller's
//! thread runs the pixel stages of the previous frame meanwhile, on a rayon pool of its own with
//! one thread fewer than the machine has cores, so the two halves never oversubscribe the CPU.
//! The frame time becomes the larger half instead of the sum.
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
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::frame::{Frame, FrameMut, FrameRef, PixelFormat};
use crate::mask::Mask;
use crate::options::{Options, StageTimings};
use crate::orient::Orientation;
use crate::pipeline::Pipeline;
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
    pool: WorkerPool,
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
        let pool = WorkerPool::new(cores.saturating_sub(1).max(1), |i| format!("bokeh-pixels-{i}"))?;
        let (to_worker, work_rx) = sync_channel::<Work>(1);
        let (done_tx, from_worker) = sync_channel::<Work>(1);
        let mut session = segmenter.session();
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
                        work.result = match work.tracking {
                            Some(tracking) => tracker
                                .segment(&mut session, work.frame.as_ref(), &tracking, &mut work.mask)
                                .map(|times| work.segment_time = times),
                            None => {
                                let t0 = Instant::now();
                                session.preprocess(work.frame.as_ref()).and_then(|prepared| {
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
            pool,
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
    /// previous one. A frame that cannot be filled leaves the stream as it was.
    fn submit(&mut self, fill: impl FnOnce(&mut Frame) -> Result<()>, output: &mut FrameMut<'_>) -> Result<bool> {
        let mut work = self.spares.pop().ok_or_else(worker_gone)?;
        if let Err(e) = fill(&mut work.frame) {
            self.spares.push(work);
            return Err(e);
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
        self.frames_submitted += 1;
        let sender = self.to_worker.as_ref().ok_or_else(worker_gone)?;
        sender.send(work).map_err(|_| worker_gone())?;
        self.in_flight = true;
        match done {
            Some(done) => self.composite(done, output).map(|()| true),
            None => Ok(false),
        }
    }

    /// Writes the result of the frame still in flight into `output`; returns `false` if there
    /// was none.
    pub fn finish(&mut self, output: &mut FrameMut<'_>) -> Result<bool> {
        if !self.in_flight {
            return Ok(false);
        }
        let done = self.receive()?;
        self.composite(done, output).map(|()| true)
    }

    fn receive(&mut self) -> Result<Work> {
        self.in_flight = false;
        self.from_worker.recv().map_err(|_| worker_gone())
    }

    /// The pixel stages of a frame back from the worker, on the stream's pixel pool.
    fn composite(&mut self, mut work: Work, output: &mut FrameMut<'_>) -> Result<()> {
        let result = std::mem::replace(&mut work.result, Ok(()));
        let pixels = &mut self.pixels;
        let last_mask = &mut self.last_mask;
        let fresh = result.and_then(|()| {
            self.pool.install(|| {
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
