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

use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::frame::{Frame, FrameMut, FrameRef, PixelFormat};
use crate::mask::Mask;
use crate::pipeline::{Options, Pipeline, StageTimings};
use crate::segment::Segmenter;

/// A frame travelling to the worker and back with its mask.
struct Work {
    frame: Frame,
    mask: Mask,
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
    pool: rayon::ThreadPool,
    /// Buffers not in use: two in all, one travelling while the other is composited.
    spares: Vec<Work>,
    in_flight: bool,
    latency: Duration,
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
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(cores.saturating_sub(1).max(1))
            .thread_name(|i| format!("bokeh-pixels-{i}"))
            .build()
            .map_err(|e| Error::InvalidOption(format!("cannot start pixel threads: {e}")))?;
        let (to_worker, work_rx) = sync_channel::<Work>(1);
        let (done_tx, from_worker) = sync_channel::<Work>(1);
        let mut session = segmenter.session();
        let worker = std::thread::Builder::new()
            .name("bokeh-inference".into())
            .spawn(move || {
                // The worker's own rayon calls (preprocessing) stay on its one core.
                let Ok(pool) = rayon::ThreadPoolBuilder::new().num_threads(1).build() else { return };
                pool.install(move || {
                    while let Ok(mut work) = work_rx.recv() {
                        let t0 = Instant::now();
                        work.result = session.preprocess(work.frame.as_ref()).and_then(|(variant, size)| {
                            let t1 = Instant::now();
                            let r = session.infer_into(variant, size, &mut work.mask);
                            work.segment_time = (t1 - t0, t1.elapsed());
                            r
                        });
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
        })
    }

    /// The output format for an input of `format` (see [`Options::output_format`]).
    pub fn output_format(&self, format: PixelFormat) -> PixelFormat {
        self.pixels.options().output_format(format)
    }

    /// Changes the options; they apply from the next output on.
    pub fn set_options(&mut self, options: Options) -> Result<()> {
        self.pixels.set_options(options)
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
    /// (which must have that frame's size and output format) and returns `true`.
    pub fn push(&mut self, input: FrameRef<'_>, output: &mut FrameMut<'_>) -> Result<bool> {
        let done = if self.in_flight { Some(self.receive()?) } else { None };
        let mut work = self.spares.pop().ok_or_else(worker_gone)?;
        work.frame.copy_from(input);
        work.pushed = Instant::now();
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

    /// The pixel stages of a segmented frame, on the stream's pixel pool.
    fn composite(&mut self, mut work: Work, output: &mut FrameMut<'_>) -> Result<()> {
        let result = std::mem::replace(&mut work.result, Ok(()));
        let pixels = &mut self.pixels;
        let written = result.and_then(|()| {
            self.pool.install(|| pixels.finish_model_mask(work.frame.as_ref(), &mut work.mask, output, false))
        });
        pixels.set_segment_timings(work.segment_time.0, work.segment_time.1);
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
