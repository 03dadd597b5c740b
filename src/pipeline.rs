//! The portrait-mode pipeline: one stream's state, options and scratch buffers.
//!
//! A [`Pipeline`] runs the stages in order — preprocess, inference, upsample, blur, composite —
//! on frames of any size and supported format, reusing its buffers from one frame to the next
//! (the model's tract state, the full-resolution mask, the reduced-resolution blur, the fitted
//! replacement background). Create one per stream or per worker thread from a shared
//! [`Segmenter`]; it is `Send` but not meant to be shared.
//!
//! **Memory traffic per output pixel** (CPU, an RGB frame, blur mode with the refinement: the
//! defaults). Preprocessing reads ≈ 0.8 bytes (the two frame rows around each of the model's 144
//! rows); the upsample writes the 4-byte mask; the refinement's block sums read the frame and
//! the mask (3 + 4 bytes) and its last pass reads the frame and writes the mask (3 + 4); the
//! blur's downsampling reads the frame and the mask (3 + 4) and writes its result interpolated
//! to every frame row (12 / f bytes, f the blur's reduction factor: 6 at 1080p, 2 bytes); the
//! composite reads the frame, the mask and those rows (3 + 4 + 2) and writes the output (3).
//! In all ≈ 29 bytes read and 13 written a pixel (≈ 87 MB a 1080p frame); every other step works
//! at reduced resolution. A [`crate::Stream`] adds its copy of the frame (3 + 3). On the 2-core
//! VM of `BENCHMARKS.md` these passes are bound by their arithmetic, not by memory: the
//! composite costs the same per pixel at 640×360 and at 1080p.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::blur::BlurParams;
use crate::color::srgb_to_linear_exact;
use crate::detail::Detail;
use crate::error::{Dims, Error, Result};
use crate::frame::{Frame, FrameMut, FrameRef, PixelFormat};
use crate::mask::Mask;
use crate::options::{Backend, Mode, Options, StageTimings};
use crate::pixels::{Fitted, Pixels};
use crate::refine::Refiner;
use crate::resample::Resampler;
use crate::segment::{Sampling, Segmenter, SegmenterSession};
use crate::temporal::{luma_at, Temporal, TemporalFilter};
use crate::track::{TrackStats, Tracker};

/// Where the mask given to the stages after inference comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MaskSource {
    /// The model's mask of this frame: detail passes, the matting model and the temporal rule
    /// for the refinement apply.
    Model,
    /// A mask given by the caller ([`Pipeline::process_with_mask`]) or held from an earlier
    /// frame: used as it is.
    Caller,
}

/// One stream's portrait-mode pipeline.
#[derive(Debug)]
pub struct Pipeline {
    session: SegmenterSession,
    options: Options,
    /// The model's mask of the last frame, at model resolution.
    low: Mask,
    /// Where the pixel stages run ([`Pixels`]: CPU or GPU, the same calls).
    pixels: Pixels,
    /// The photo path's full-resolution mask, made on the CPU whatever the backend: the detail
    /// passes and the matting model run the model on crops of it.
    photo_mask: Mask,
    resampler: Resampler,
    /// Refines the photo path's mask before the matting model's alpha is combined with it.
    photo_refiner: Refiner,
    detail: Detail,
    /// The high-quality matting model's session and its last mask, when set.
    matting: Option<(SegmenterSession, Mask, Mask)>,
    /// The replacement background fitted to the last frame size, in linear RGB.
    fitted: Option<Fitted>,
    /// Running state of the temporal filter.
    temporal: TemporalFilter,
    /// The subject-tracking crop's state (video).
    tracker: Tracker,
    /// The frame's luma at the temporal filter's mask size (its blink rule).
    luma: Vec<u8>,
    timings: StageTimings,
    backend_note: String,
    /// This call's preprocessing already gave the frame to the backend (a [`crate::Stream`]'s
    /// worker preprocesses on the CPU, and the frame goes up after inference).
    frame_given: bool,
    /// The output as the input is stored, before it is turned upright
    /// ([`Options::upright_output`]).
    stored_output: Option<Frame>,
}

impl Pipeline {
    /// A pipeline running `segmenter`'s model(s) with `options`.
    pub fn new(segmenter: &Segmenter, options: Options) -> Result<Self> {
        options.validate()?;
        let mut pipeline = Self::cpu(segmenter, options);
        pipeline.choose_backend()?;
        Ok(pipeline)
    }

    /// A pipeline whose pixel stages run on `gpu` (a context opened by the caller, e.g. on a
    /// particular API), whatever [`Options::backend`] says.
    #[cfg(feature = "gpu")]
    pub fn with_gpu(segmenter: &Segmenter, options: Options, gpu: Arc<crate::gpu::GpuContext>) -> Result<Self> {
        options.validate()?;
        let mut pipeline = Self::cpu(segmenter, options);
        pipeline.backend_note = format!("GPU: {}", gpu.info());
        pipeline.set_model_device(&gpu);
        pipeline.pixels = Pixels::gpu(gpu);
        Ok(pipeline)
    }

    fn cpu(segmenter: &Segmenter, options: Options) -> Self {
        Pipeline {
            session: segmenter.session(),
            options,
            low: Mask::new(0, 0),
            pixels: Pixels::cpu(),
            photo_mask: Mask::new(0, 0),
            resampler: Resampler::default(),
            photo_refiner: Refiner::default(),
            detail: Detail::default(),
            matting: None,
            fitted: None,
            temporal: TemporalFilter::default(),
            tracker: Tracker::new(segmenter),
            luma: Vec::new(),
            timings: StageTimings::default(),
            backend_note: cpu_note(None),
            frame_given: false,
            stored_output: None,
        }
        .oriented()
    }

    /// Gives the model sessions the options' orientation.
    fn oriented(mut self) -> Self {
        self.set_session_orientation();
        self
    }

    fn set_session_orientation(&mut self) {
        let orientation = self.options.orientation;
        self.session.set_orientation(orientation);
        if let Some((session, _, _)) = self.matting.as_mut() {
            session.set_orientation(orientation);
        }
    }

    /// Opens (or drops) the GPU state as [`Options::backend`] asks, and gives the model to it
    /// as [`Options::model_backend`] asks.
    fn choose_backend(&mut self) -> Result<()> {
        self.choose_pixels_backend()?;
        if self.options.model_backend == Backend::Gpu && !self.pixels.is_gpu() {
            return Err(Error::InvalidOption(format!(
                "the model on the GPU needs the pixel stages there too (backend gpu, or auto with a hardware GPU); \
                 they run on the {}",
                self.backend_note
            )));
        }
        Ok(())
    }

    fn choose_pixels_backend(&mut self) -> Result<()> {
        #[cfg(feature = "gpu")]
        {
            self.pixels = Pixels::cpu();
            self.session.set_gpu(None);
            let allow_software = match self.options.backend {
                Backend::Cpu => {
                    self.backend_note = cpu_note(None);
                    return Ok(());
                }
                Backend::Gpu => true,
                Backend::Auto => false,
            };
            match crate::gpu::GpuContext::shared(allow_software) {
                Ok(ctx) => {
                    self.backend_note = format!("GPU: {}", ctx.info());
                    self.set_model_device(&ctx);
                    self.pixels = Pixels::gpu(ctx);
                }
                Err(Error::Gpu { message, .. }) if self.options.backend == Backend::Auto => {
                    self.backend_note = cpu_note(Some(&message))
                }
                Err(e) => return Err(e),
            }
            Ok(())
        }
        #[cfg(not(feature = "gpu"))]
        match self.options.backend {
            Backend::Gpu => Err(Error::Gpu {
                context: "choosing the backend".into(),
                message: "this build of bokeh has no GPU backend (cargo feature `gpu`)".into(),
            }),
            Backend::Auto => {
                self.backend_note = cpu_note(Some("built without the `gpu` feature"));
                Ok(())
            }
            Backend::Cpu => Ok(()),
        }
    }

    /// Gives the model to `gpu` as [`Options::model_backend`] says.
    #[cfg(feature = "gpu")]
    fn set_model_device(&mut self, gpu: &Arc<crate::gpu::GpuContext>) {
        let on_gpu = match self.options.model_backend {
            Backend::Cpu => false,
            Backend::Gpu => true,
            Backend::Auto => !gpu.info().software,
        };
        self.session.set_gpu(on_gpu.then(|| Arc::clone(gpu)));
    }

    /// Where the pixel stages run, for logs and `-v`: `"GPU: NAME (API, driver …)"` or
    /// "CPU (rayon, N threads)", with the reason when [`Backend::Auto`] fell back to the CPU.
    pub fn backend_description(&self) -> &str {
        &self.backend_note
    }

    /// True when the pixel stages run on a GPU.
    pub fn uses_gpu(&self) -> bool {
        self.pixels.is_gpu()
    }

    /// Where the model runs, for logs and `-v`: `"GPU: ADAPTER"` when the pixel stages' GPU
    /// runs it too, `"CPU (tract)"`, or `"CPU (tract); not on the GPU: WHY"` when its graph has
    /// an operator the GPU kernels lack (see [`crate::SegmenterSession::model_description`]).
    pub fn model_description(&self) -> String {
        let note = self.session.model_description();
        if !self.pixels.is_gpu() || !note.starts_with("CPU (tract)") || note.contains("not on the GPU") {
            return note;
        }
        match self.options.model_backend {
            Backend::Cpu => format!("{note}, as the model backend asks"),
            _ => format!("{note}: the pixel stages' GPU is a software adapter, slower than tract for the model"),
        }
    }

    /// The GPU the model runs on, if any ([`Options::model_backend`]).
    #[cfg(feature = "gpu")]
    pub(crate) fn model_gpu(&self) -> Option<Arc<crate::gpu::GpuContext>> {
        self.session.gpu().cloned()
    }

    /// The GPU the pixel stages (and the model) run on, if any.
    #[cfg(feature = "gpu")]
    pub fn gpu_context(&self) -> Option<Arc<crate::gpu::GpuContext>> {
        self.pixels.gpu_context()
    }

    /// The current options.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// Changes the options between frames.
    pub fn set_options(&mut self, options: Options) -> Result<()> {
        options.validate()?;
        if !same_background(&options, &self.options) {
            self.fitted = None;
        }
        // The past masks are in the old orientation's geometry.
        if options.temporal != self.options.temporal
            || options.tracking != self.options.tracking
            || options.orientation != self.options.orientation
        {
            self.reset_temporal();
        }
        let backend_changed =
            options.backend != self.options.backend || options.model_backend != self.options.model_backend;
        let previous = std::mem::replace(&mut self.options, options);
        self.set_session_orientation();
        if backend_changed {
            if let Err(e) = self.choose_backend() {
                self.options.backend = previous.backend;
                self.options.model_backend = previous.model_backend;
                self.choose_backend()?;
                return Err(e);
            }
        }
        Ok(())
    }

    /// Adds (or with `None` removes) a high-quality matting model, e.g. MODNet
    /// ([`ModelSpec::modnet`](crate::ModelSpec::modnet)), for photos: after the main model (and its
    /// detail passes and refinement), the matting model runs on the whole frame, and its alpha
    /// replaces the mask wherever it found the person; people it missed keep the main model's
    /// mask. About a second per photo on a laptop CPU: not for live video.
    pub fn set_matting(&mut self, matting: Option<&Segmenter>) {
        self.matting = matting.map(|m| (m.session(), Mask::default(), Mask::default()));
        self.set_session_orientation();
    }

    /// True when a matting model is set ([`Pipeline::set_matting`]).
    pub fn has_matting(&self) -> bool {
        self.matting.is_some()
    }

    /// Stage times of the last frame.
    pub fn timings(&self) -> &StageTimings {
        &self.timings
    }

    /// Puts back stage times saved before a warm-up frame ([`crate::Stream::prepare`]).
    pub(crate) fn set_timings(&mut self, timings: StageTimings) {
        self.timings = timings;
    }

    /// Records preprocess and inference times measured elsewhere (by a [`crate::Stream`]).
    pub(crate) fn set_segment_timings(&mut self, preprocess: Duration, inference: Duration) {
        self.timings.preprocess = preprocess;
        self.timings.inference = inference;
    }

    /// The full-resolution mask of the last frame, as the input is stored (not turned by
    /// [`Options::upright_output`]; [`crate::orient_into`] turns it). (With the GPU backend it is
    /// read back from the GPU on the first call after a frame.)
    pub fn mask(&mut self) -> &Mask {
        self.pixels.mask()
    }

    /// Readies everything a stream of `width × height` frames of `format` needs before its first
    /// frame — the model plans for the whole frame and for crops, their inference states, the
    /// pixel stages' buffers (and with the GPU backend its pipelines) — by compiling the plans
    /// and running one black frame through the pipeline, whose result is then forgotten (the
    /// temporal filter and tracking start afresh, the timings are the last real frame's). Call
    /// it again after a change of size or orientation. Without it the first frame of a size
    /// stalls on plan compilation (≈ 85 ms per model variant on a laptop core).
    pub fn prepare(&mut self, width: u32, height: u32, format: PixelFormat) -> Result<()> {
        self.prepare_model(width, height)?;
        let timings = self.timings;
        let result = self.process(Frame::new(width, height, format)?.as_ref()).map(drop);
        self.timings = timings;
        self.reset_temporal();
        result
    }

    /// The model half of [`Pipeline::prepare`]: the plans compiled and this pipeline's
    /// inference states made (a [`crate::Stream`] runs its black frame through its own threads).
    pub(crate) fn prepare_model(&mut self, width: u32, height: u32) -> Result<()> {
        self.session.prepare(width, height)
    }

    /// Processes `input` into a new frame of [`Options::output_format`] and
    /// [`Options::output_size`].
    pub fn process(&mut self, input: FrameRef<'_>) -> Result<Frame> {
        let (w, h) = self.options.output_size(input.width(), input.height());
        let mut out = Frame::new(w, h, self.options.output_format(input.format()))?;
        self.process_into(input, &mut out.as_mut())?;
        Ok(out)
    }

    /// Like [`Pipeline::process_into`] on the GPU backend, leaving the result on the GPU for a
    /// renderer to draw from: nothing comes back to the host but the model's small mask. The
    /// returned [`crate::gpu::GpuOutput`] names the buffer and its layout; it is this pipeline's
    /// and holds the result until the next frame is processed. The work is submitted, not waited
    /// for (the device's queue orders a renderer's own work after it). An error when the pixel
    /// stages run on the CPU, or when [`Options::upright_output`] turns the output (the turn is
    /// done on the host).
    #[cfg(feature = "gpu")]
    pub fn process_on_gpu(&mut self, input: FrameRef<'_>) -> Result<crate::gpu::GpuOutput> {
        if !self.pixels.is_gpu() {
            return Err(Error::Gpu {
                context: "keeping the result on the GPU".into(),
                message: format!("the pixel stages run on the {}", self.backend_note),
            });
        }
        if self.options.turns_output() {
            return Err(Error::InvalidOption(
                "a result kept on the GPU is not turned upright: leave upright_output off and turn it when drawing"
                    .into(),
            ));
        }
        let mut low = std::mem::replace(&mut self.low, Mask::new(0, 0));
        let result = self.segment(input, &mut low).and_then(|()| self.finish_model_mask_to(input, &mut low, None));
        self.low = low;
        self.frame_given = false;
        result?;
        self.pixels.gpu_output(self.options.mode)
    }

    /// Processes `input` into `output`, which must have the size [`Options::output_size`] and
    /// the format [`Options::output_format`] give for the input.
    pub fn process_into(&mut self, input: FrameRef<'_>, output: &mut FrameMut<'_>) -> Result<()> {
        self.check_output(input, output)?;
        let mut low = std::mem::replace(&mut self.low, Mask::new(0, 0));
        let result =
            self.segment(input, &mut low).and_then(|()| self.finish_model_mask_to(input, &mut low, Some(output)));
        self.low = low;
        // Not carried to another call, whatever failed on the way.
        self.frame_given = false;
        result
    }

    /// Preprocess and inference: the model's mask of `input` in `low` (through the tracking
    /// crop in video, see [`Options::tracking`]), with their times recorded.
    fn segment(&mut self, input: FrameRef<'_>, low: &mut Mask) -> Result<()> {
        if let Some(tracking) = self.options.video_tracking() {
            // The crop is sampled on the CPU (two taps a pixel, a few hundred kB); the backend
            // gets the frame for the pixel stages.
            self.pixels.upload(input)?;
            self.frame_given = true;
            let (preprocess, inference) = self.tracker.segment(&mut self.session, input, &tracking, low)?;
            self.set_segment_timings(preprocess, inference);
            return Ok(());
        }
        let t0 = Instant::now();
        let prepared = self.pixels.preprocess(&mut self.session, input)?;
        self.frame_given = true;
        let t1 = Instant::now();
        self.session.infer_into(prepared, low)?;
        self.set_segment_timings(t1 - t0, t1.elapsed());
        Ok(())
    }

    /// What the subject-tracking crop did so far (frames, crops, whole-frame runs).
    pub fn tracking_stats(&self) -> TrackStats {
        self.tracker.stats()
    }

    /// Model blinks the temporal filter bridged so far (a lost person held and faded).
    pub fn blinks_bridged(&self) -> u64 {
        self.temporal.blinks()
    }

    /// Like [`Pipeline::process_into`], with a mask given by the caller instead of the model
    /// (any size: it is upsampled to the frame). For fixed-mask tests and external segmenters.
    pub fn process_with_mask(&mut self, input: FrameRef<'_>, mask: &Mask, output: &mut FrameMut<'_>) -> Result<()> {
        self.check_output(input, output)?;
        if mask.data().is_empty() {
            return Err(Error::InvalidFrame(format!("empty mask ({}x{})", mask.width(), mask.height())));
        }
        self.timings.preprocess = Duration::ZERO;
        self.timings.inference = Duration::ZERO;
        self.pixels.upload(input)?;
        self.finish(input, mask, Some(output), MaskSource::Caller)
    }

    /// Forgets the temporal filter's past, e.g. after a scene cut: the next frame's mask is
    /// taken as the model gives it.
    pub fn reset_temporal(&mut self) {
        self.temporal.reset();
        self.tracker.reset();
        self.pixels.reset_refine();
    }

    /// The stages after inference for a mask that came from the model (at model resolution):
    /// the temporal filter, when on, then upsample, refine, blur and composite. The GPU backend
    /// gets the frame here unless this pipeline's own preprocessing put it there.
    pub(crate) fn finish_model_mask(
        &mut self,
        input: FrameRef<'_>,
        low: &mut Mask,
        output: &mut FrameMut<'_>,
    ) -> Result<()> {
        self.finish_model_mask_to(input, low, Some(output))
    }

    /// [`Pipeline::finish_model_mask`], the result left on the GPU when `output` is `None`.
    fn finish_model_mask_to(
        &mut self,
        input: FrameRef<'_>,
        low: &mut Mask,
        output: Option<&mut FrameMut<'_>>,
    ) -> Result<()> {
        if let Some(output) = &output {
            self.check_output(input, output)?;
        }
        if let Some(t) = self.options.temporal {
            luma_at(input, low.width(), low.height(), &mut self.luma);
            self.temporal.apply(low, &t, Some(&self.luma));
        }
        // A Stream's worker preprocessed on the CPU: the backend has not seen the frame yet.
        if !std::mem::take(&mut self.frame_given) {
            self.pixels.upload(input)?;
        }
        self.finish(input, low, output, MaskSource::Model)
    }

    fn check_output(&self, input: FrameRef<'_>, output: &FrameMut<'_>) -> Result<()> {
        let (w, h) = self.options.output_size(input.width(), input.height());
        let (expected, actual) = (Dims(w, h), Dims(output.width(), output.height()));
        if expected != actual {
            return Err(Error::SizeMismatch { what: "output frame", expected, actual });
        }
        let format = self.options.output_format(input.format());
        if output.format() != format {
            return Err(Error::UnsupportedFormat { format: output.format(), context: "this mode's output" });
        }
        Ok(())
    }

    /// The temporal rule for the refinement's coefficients: only for a model's video mask (a
    /// matted photo is refined on its own).
    fn refine_temporal(&self, source: MaskSource) -> Option<Temporal> {
        self.options.temporal.filter(|_| source == MaskSource::Model && self.matting.is_none())
    }

    /// The photo path's full-resolution mask, on the CPU: upsample, detail passes, and with the
    /// matting model the refinement and the matte. Returns the time spent running models and
    /// whether the mask is refined.
    fn photo_mask(&mut self, input: FrameRef<'_>, low: &Mask) -> Result<(Duration, bool)> {
        let (w, h) = (input.width(), input.height());
        self.photo_mask.reset(w, h);
        low.resize_with(&mut self.photo_mask, &mut self.resampler);
        let t = Instant::now();
        if self.options.detail_passes > 0 {
            self.detail.run(&mut self.session, input, &mut self.photo_mask, self.options.detail_passes)?;
        }
        let Some((session, low, matte)) = self.matting.as_mut() else { return Ok((t.elapsed(), false)) };
        let mut model_time = t.elapsed();
        // The matting model's alpha is combined after the refinement.
        if let Some(settings) = &self.options.refine {
            self.photo_refiner.apply(input, &mut self.photo_mask, settings, None)?;
        }
        let t = Instant::now();
        session.segment_into(input, low)?;
        matte.reset(w, h);
        low.resize_with(matte, &mut self.resampler);
        self.detail.combine_matte(&mut self.photo_mask, matte);
        model_time += t.elapsed();
        Ok((model_time, true))
    }

    /// Upsample (and refine), blur and composite, on the backend.
    fn finish(
        &mut self,
        input: FrameRef<'_>,
        low: &Mask,
        output: Option<&mut FrameMut<'_>>,
        source: MaskSource,
    ) -> Result<()> {
        let (w, h) = (input.width(), input.height());
        let t0 = Instant::now();
        // Detail passes and matting run the model again on crops of the full-resolution mask:
        // the photo path makes it on the CPU and hands it to the backend.
        let photo = source == MaskSource::Model && (self.options.detail_passes > 0 || self.matting.is_some());
        let (model_time, refined) = if photo {
            let done = self.photo_mask(input, low)?;
            self.pixels.set_mask(&mut self.photo_mask)?;
            done
        } else {
            self.pixels.upsample(input, low)?;
            (Duration::ZERO, false)
        };
        self.timings.inference += model_time;
        if let Some(settings) = self.options.refine.filter(|_| !refined) {
            let temporal = self.refine_temporal(source);
            self.pixels.refine(input, &settings, temporal.as_ref())?;
        }
        let t1 = Instant::now();
        let mode = self.options.mode;
        match mode {
            Mode::Blur => self.pixels.blur(input, &self.options.blur_params(w, h))?,
            Mode::Replace | Mode::Cutout => {
                if mode == Mode::Replace {
                    self.fit_background(w, h)?;
                }
                if self.options.decontaminate {
                    let radius = Options::decontamination_radius_for(w, h);
                    self.pixels.blur(input, &BlurParams::background_only(radius))?;
                }
            }
            Mode::Mask => {}
        }
        let t2 = Instant::now();
        let replacement = self.fitted.as_ref().filter(|_| mode == Mode::Replace);
        match output {
            Some(output) if self.options.turns_output() => {
                // Composited as the input is stored, then turned upright into the caller's frame.
                let format = self.options.output_format(input.format());
                let stored = Frame::reuse(&mut self.stored_output, w, h, format)?;
                self.pixels.composite(input, mode, replacement, Some(&mut stored.as_mut()))?;
                crate::orient::orient_into(stored.as_ref(), self.options.orientation, output)?;
            }
            output => self.pixels.composite(input, mode, replacement, output)?,
        }
        let t3 = Instant::now();
        self.timings.upsample = (t1 - t0).saturating_sub(model_time);
        self.timings.blur = t2 - t1;
        self.timings.composite = t3 - t2;
        Ok(())
    }

    /// Fits the replacement background to `w × h` (centre crop) unless already done.
    fn fit_background(&mut self, w: u32, h: u32) -> Result<()> {
        let stale = self.fitted.as_ref().is_none_or(|f| f.size != (w, h));
        if stale {
            let bg = self
                .options
                .background
                .as_ref()
                .ok_or_else(|| Error::InvalidOption("replace mode needs a background image".into()))?;
            self.fitted = Some(Fitted::new((w, h), cover(bg.as_ref().as_ref(), w, h)));
        }
        Ok(())
    }
}

/// "CPU (rayon, N threads)", with why the GPU was not used where [`Backend::Auto`] looked for one.
fn cpu_note(why_not_gpu: Option<&str>) -> String {
    // Inside a pool, its size; outside, the cores — without asking rayon, which would start its
    // global pool just to answer (and an app embedding bokeh in its own pools never needs it).
    let threads = match rayon::current_thread_index() {
        Some(_) => rayon::current_num_threads(),
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    match why_not_gpu {
        None => format!("CPU (rayon, {threads} threads)"),
        Some(why) => format!("CPU (rayon, {threads} threads); no GPU: {why}"),
    }
}

fn same_background(a: &Options, b: &Options) -> bool {
    match (&a.background, &b.background) {
        (Some(x), Some(y)) => Arc::ptr_eq(x, y),
        (None, None) => true,
        _ => false,
    }
}

/// Scales `bg` to cover `w × h` (keeping its aspect, cropping the excess equally on both sides).
fn cover(bg: FrameRef<'_>, w: u32, h: u32) -> Vec<[f32; 3]> {
    let (bw, bh) = (bg.width() as f64, bg.height() as f64);
    let scale = (w as f64 / bw).max(h as f64 / bh);
    let crop_w = ((w as f64 / scale).round() as usize).clamp(1, bg.width() as usize);
    let crop_h = ((h as f64 / scale).round() as usize).clamp(1, bg.height() as usize);
    let x0 = (bg.width() as usize - crop_w) / 2;
    let y0 = (bg.height() as usize - crop_h) / 2;
    let crop = bg.crop(x0 as u32, y0 as u32, crop_w as u32, crop_h as u32);
    let mut out = vec![0.0f32; w as usize * h as usize * 3];
    Resampler::default().resample_frame(crop, Sampling::Antialiased, &mut out, (w as usize, h as usize));
    out.chunks_exact(3).map(|p| std::array::from_fn(|c| srgb_to_linear_exact((p[c] / 255.0).clamp(0.0, 1.0)))).collect()
}
