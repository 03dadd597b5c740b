//! The portrait-mode pipeline: one stream's state, options and scratch buffers.
//!
//! A [`Pipeline`] runs the stages in order — preprocess, inference, upsample, blur, composite —
//! on frames of any size and supported format, reusing its buffers from one frame to the next
//! (the model's tract state, the full-resolution mask, the reduced-resolution blur, the fitted
//! replacement background). Create one per stream or per worker thread from a shared
//! [`Segmenter`]; it is `Send` but not meant to be shared.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::blur::{BlurParams, BlurredBackground};
use crate::color::srgb_to_linear_exact;
use crate::composite;
use crate::detail::Detail;
use crate::error::{Dims, Error, Result};
use crate::frame::{Frame, FrameMut, FrameRef};
use crate::mask::Mask;
use crate::options::{Backend, Mode, Options, StageTimings};
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

/// Where the full-resolution mask is refined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RefineOn {
    Cpu,
    /// The GPU backend refines it after the CPU's mask goes up.
    #[cfg(feature = "gpu")]
    Gpu,
}

/// A replacement background scaled to a frame size, in linear RGB.
type FittedBackground = ((u32, u32), Vec<[f32; 3]>);

/// One stream's portrait-mode pipeline.
#[derive(Debug)]
pub struct Pipeline {
    session: SegmenterSession,
    options: Options,
    /// The model's mask of the last frame, at model resolution.
    low: Mask,
    /// The mask of the last frame at frame resolution.
    mask: Mask,
    resampler: Resampler,
    refiner: Refiner,
    detail: Detail,
    /// The high-quality matting model's session and its last mask, when set.
    matting: Option<(SegmenterSession, Mask, Mask)>,
    blurred: BlurredBackground,
    /// The replacement background fitted to the last frame size, in linear RGB.
    fitted: Option<FittedBackground>,
    /// Running state of the temporal filter.
    temporal: TemporalFilter,
    /// The subject-tracking crop's state (video).
    tracker: Tracker,
    /// The frame's luma at the temporal filter's mask size (its blink rule).
    luma: Vec<u8>,
    timings: StageTimings,
    /// The GPU backend's state when the pixel stages run there.
    #[cfg(feature = "gpu")]
    gpu: Option<crate::gpu::GpuPixels>,
    /// What [`Pipeline::backend_description`] prints.
    backend_note: String,
    /// With the GPU backend, the full-resolution mask stays on the GPU and is read back only when
    /// asked for: whether `mask` is behind it, and the model's mask of the last frame (upsampled
    /// instead should the read-back fail).
    mask_source: Mask,
    mask_stale: bool,
    /// This pipeline's preprocessing put the frame on the GPU (a [`crate::Stream`]'s worker
    /// preprocesses on the CPU, and the frame goes up after inference).
    #[cfg(feature = "gpu")]
    frame_uploaded: bool,
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
        pipeline.gpu = Some(crate::gpu::GpuPixels::new(gpu));
        Ok(pipeline)
    }

    fn cpu(segmenter: &Segmenter, options: Options) -> Self {
        Pipeline {
            session: segmenter.session(),
            options,
            low: Mask::new(0, 0),
            mask: Mask::new(0, 0),
            resampler: Resampler::default(),
            refiner: Refiner::default(),
            detail: Detail::default(),
            matting: None,
            blurred: BlurredBackground::default(),
            fitted: None,
            temporal: TemporalFilter::default(),
            tracker: Tracker::new(segmenter),
            luma: Vec::new(),
            timings: StageTimings::default(),
            #[cfg(feature = "gpu")]
            gpu: None,
            backend_note: cpu_note(None),
            mask_source: Mask::new(0, 0),
            mask_stale: false,
            #[cfg(feature = "gpu")]
            frame_uploaded: false,
        }
    }

    /// Opens (or drops) the GPU state as [`Options::backend`] asks.
    fn choose_backend(&mut self) -> Result<()> {
        #[cfg(feature = "gpu")]
        {
            self.gpu = None;
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
                    self.gpu = Some(crate::gpu::GpuPixels::new(ctx));
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

    /// Where the pixel stages run, for logs and `-v`: `"GPU: NAME (API, driver …)"` or
    /// "CPU (rayon, N threads)", with the reason when [`Backend::Auto`] fell back to the CPU.
    pub fn backend_description(&self) -> &str {
        &self.backend_note
    }

    /// True when the pixel stages run on a GPU.
    pub fn uses_gpu(&self) -> bool {
        #[cfg(feature = "gpu")]
        return self.gpu.is_some();
        #[cfg(not(feature = "gpu"))]
        false
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
        if options.temporal != self.options.temporal || options.tracking != self.options.tracking {
            self.reset_temporal();
        }
        let backend_changed = options.backend != self.options.backend;
        let previous = std::mem::replace(&mut self.options, options);
        if backend_changed {
            if let Err(e) = self.choose_backend() {
                self.options.backend = previous.backend;
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
    }

    /// True when a matting model is set ([`Pipeline::set_matting`]).
    pub fn has_matting(&self) -> bool {
        self.matting.is_some()
    }

    /// Stage times of the last frame.
    pub fn timings(&self) -> &StageTimings {
        &self.timings
    }

    /// Records preprocess and inference times measured elsewhere (by a [`crate::Stream`]).
    pub(crate) fn set_segment_timings(&mut self, preprocess: Duration, inference: Duration) {
        self.timings.preprocess = preprocess;
        self.timings.inference = inference;
    }

    /// The full-resolution mask of the last frame. (With the GPU backend it is read back from
    /// the GPU on the first call after a frame.)
    pub fn mask(&mut self) -> &Mask {
        if self.mask_stale {
            self.mask_stale = false;
            #[cfg(feature = "gpu")]
            let read = self.gpu.as_mut().is_some_and(|gpu| gpu.read_mask(&mut self.mask).is_ok());
            #[cfg(not(feature = "gpu"))]
            let read = false;
            if !read {
                // The device is gone: the next best thing is the model's mask, upsampled.
                let (w, h) = (self.mask.width(), self.mask.height());
                if self.mask.data().len() != w as usize * h as usize {
                    self.mask = Mask::new(w, h);
                }
                self.mask_source.resize_with(&mut self.mask, &mut self.resampler);
            }
        }
        &self.mask
    }

    /// Processes `input` into a new frame of [`Options::output_format`].
    pub fn process(&mut self, input: FrameRef<'_>) -> Result<Frame> {
        let mut out = Frame::new(input.width(), input.height(), self.options.output_format(input.format()))?;
        self.process_into(input, &mut out.as_mut())?;
        Ok(out)
    }

    /// Processes `input` into `output`, which must have the same size and the format
    /// [`Options::output_format`] gives for the input.
    pub fn process_into(&mut self, input: FrameRef<'_>, output: &mut FrameMut<'_>) -> Result<()> {
        self.check_output(input, output)?;
        let mut low = std::mem::replace(&mut self.low, Mask::new(0, 0));
        let result = self.segment(input, &mut low).and_then(|()| self.finish_model_mask(input, &mut low, output));
        self.low = low;
        #[cfg(feature = "gpu")]
        {
            // Not carried to another call, whatever failed on the way.
            self.frame_uploaded = false;
        }
        result
    }

    /// Preprocess and inference: the model's mask of `input` in `low` (through the tracking
    /// crop in video, see [`Options::tracking`]), with their times recorded.
    fn segment(&mut self, input: FrameRef<'_>, low: &mut Mask) -> Result<()> {
        if let Some(tracking) = self.options.video_tracking() {
            // The crop is sampled on the CPU (two taps a pixel, a few hundred kB); the GPU backend
            // gets the frame for the pixel stages.
            #[cfg(feature = "gpu")]
            if let Some(gpu) = self.gpu.as_mut() {
                gpu.upload(input)?;
                self.frame_uploaded = true;
            }
            let (preprocess, inference) = self.tracker.segment(&mut self.session, input, &tracking, low)?;
            self.set_segment_timings(preprocess, inference);
            return Ok(());
        }
        let t0 = Instant::now();
        let (variant, size) = self.preprocess(input)?;
        let t1 = Instant::now();
        self.session.infer_into(variant, size, low)?;
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

    /// The preprocess stage, on the GPU when the pixel stages run there (the frame then stays
    /// uploaded for the stages after inference).
    fn preprocess(&mut self, input: FrameRef<'_>) -> Result<(usize, (u32, u32))> {
        #[cfg(feature = "gpu")]
        if let Some(gpu) = self.gpu.as_mut() {
            gpu.upload(input)?;
            self.frame_uploaded = true;
            return self.session.preprocess_with(input, |size, spec, out| {
                gpu.preprocess(size, spec.sampling, spec.normalization, spec.layout, out)
            });
        }
        self.session.preprocess(input)
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
        #[cfg(feature = "gpu")]
        if let Some(gpu) = self.gpu.as_mut() {
            gpu.upload(input)?;
        }
        self.finish(input, mask, output, MaskSource::Caller)
    }

    /// Forgets the temporal filter's past, e.g. after a scene cut: the next frame's mask is
    /// taken as the model gives it.
    pub fn reset_temporal(&mut self) {
        self.temporal.reset();
        self.tracker.reset();
        self.refiner.reset();
        #[cfg(feature = "gpu")]
        if let Some(gpu) = self.gpu.as_mut() {
            gpu.reset_refine();
        }
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
        self.check_output(input, output)?;
        if let Some(t) = self.options.temporal {
            luma_at(input, low.width(), low.height(), &mut self.luma);
            self.temporal.apply(low, &t, Some(&self.luma));
        }
        #[cfg(feature = "gpu")]
        if let Some(gpu) = self.gpu.as_mut() {
            // A Stream's worker preprocessed on the CPU: the frame is not up yet.
            if !std::mem::take(&mut self.frame_uploaded) {
                gpu.upload(input)?;
            }
        }
        self.finish(input, low, output, MaskSource::Model)
    }

    fn check_output(&self, input: FrameRef<'_>, output: &FrameMut<'_>) -> Result<()> {
        let (expected, actual) = (Dims(input.width(), input.height()), Dims(output.width(), output.height()));
        if expected != actual {
            return Err(Error::SizeMismatch { what: "output frame", expected, actual });
        }
        let format = self.options.output_format(input.format());
        if output.format() != format {
            return Err(Error::UnsupportedFormat { format: output.format(), context: "this mode's output" });
        }
        Ok(())
    }

    /// Whether the full-resolution mask is made on the CPU for this frame with the GPU backend:
    /// when detail passes or the matting model run the model again on the CPU.
    #[cfg(feature = "gpu")]
    fn mask_on_cpu(&self, source: MaskSource) -> bool {
        source == MaskSource::Model && (self.options.detail_passes > 0 || self.matting.is_some())
    }

    /// The temporal rule for the refinement's coefficients: only for a model's video mask (a
    /// matted photo is refined on its own).
    fn refine_temporal(&self, source: MaskSource) -> Option<Temporal> {
        self.options.temporal.filter(|_| source == MaskSource::Model && self.matting.is_none())
    }

    /// The full-resolution mask on the CPU: upsample, detail passes (for a model's mask),
    /// refinement (when it is done `on` the CPU), and the matting model. Returns the time spent in
    /// detail passes and matting (model runs).
    fn full_mask(&mut self, input: FrameRef<'_>, low: &Mask, source: MaskSource, on: RefineOn) -> Result<Duration> {
        let from_model = source == MaskSource::Model;
        let (w, h) = (input.width(), input.height());
        if self.mask.width() != w || self.mask.height() != h {
            self.mask = Mask::new(w, h);
        }
        self.mask_stale = false;
        low.resize_with(&mut self.mask, &mut self.resampler);
        let mut detail_time = Duration::ZERO;
        if from_model && self.options.detail_passes > 0 {
            let t = Instant::now();
            self.detail.run(&mut self.session, input, &mut self.mask, self.options.detail_passes)?;
            detail_time = t.elapsed();
        }
        if let Some(settings) = self.options.refine.filter(|_| on == RefineOn::Cpu) {
            let temporal = self.refine_temporal(source);
            self.refiner.apply(input, &mut self.mask, &settings, temporal.as_ref())?;
        }
        let matting = self.matting.as_mut().filter(|_| from_model);
        if let Some((session, low, matte)) = matting {
            let t = Instant::now();
            session.segment_into(input, low)?;
            matte.reset(w, h);
            low.resize_with(matte, &mut self.resampler);
            self.detail.combine_matte(&mut self.mask, matte);
            detail_time += t.elapsed();
        }
        Ok(detail_time)
    }

    /// With decontamination on, estimates the old background around the person into
    /// `self.blurred` (on the CPU) and returns true.
    fn old_background(&mut self, input: FrameRef<'_>) -> Result<bool> {
        if !self.options.decontaminate {
            return Ok(false);
        }
        let radius = Options::decontamination_radius_for(input.width(), input.height());
        self.blurred.compute(input, &self.mask, &BlurParams::background_only(radius))?;
        Ok(true)
    }

    /// Upsample (and refine), blur and composite.
    fn finish(&mut self, input: FrameRef<'_>, low: &Mask, output: &mut FrameMut<'_>, source: MaskSource) -> Result<()> {
        let (w, h) = (input.width(), input.height());
        #[cfg(feature = "gpu")]
        if self.gpu.is_some() {
            return self.finish_on_gpu(input, low, output, source);
        }
        let t0 = Instant::now();
        let detail_time = self.full_mask(input, low, source, RefineOn::Cpu)?;
        self.timings.inference += detail_time;
        let t1 = Instant::now();
        let mut t2 = t1;
        match self.options.mode {
            Mode::Blur => {
                self.blurred.compute(input, &self.mask, &self.options.blur_params(w, h))?;
                t2 = Instant::now();
                composite::blend_blurred(input, &self.mask, &self.blurred, output);
            }
            Mode::Replace => {
                self.fit_background(w, h)?;
                let old = self.old_background(input)?;
                t2 = Instant::now();
                let fitted = self.fitted.as_ref().map(|(_, v)| v.as_slice()).unwrap_or_default();
                composite::blend_replaced(input, &self.mask, fitted, old.then_some(&self.blurred), output);
            }
            Mode::Cutout => {
                let old = self.old_background(input)?;
                t2 = Instant::now();
                composite::cutout(input, &self.mask, old.then_some(&self.blurred), output)
            }
            Mode::Mask => composite::write_mask(&self.mask, output),
        }
        let t3 = Instant::now();
        self.timings.upsample = (t1 - t0).saturating_sub(detail_time);
        self.timings.blur = t2 - t1;
        self.timings.composite = t3 - t2;
        Ok(())
    }

    /// Upsample (or upload a mask the CPU made), refine, blur and composite on the GPU (the frame
    /// is already there), in one submission; their sum is reported as the composite time.
    #[cfg(feature = "gpu")]
    fn finish_on_gpu(
        &mut self,
        input: FrameRef<'_>,
        low: &Mask,
        output: &mut FrameMut<'_>,
        source: MaskSource,
    ) -> Result<()> {
        let (w, h) = (input.width(), input.height());
        let t0 = Instant::now();
        let on_cpu = self.mask_on_cpu(source);
        // The matting model's alpha is combined after refinement, so with it the CPU refines.
        let refine_on_cpu = on_cpu && self.matting.is_some();
        let (mut detail_time, mut t_mask) = (Duration::ZERO, t0);
        if on_cpu {
            // Detail passes and matting run the model on the CPU; the mask they make goes up in
            // place of the model's small one.
            let on = if refine_on_cpu { RefineOn::Cpu } else { RefineOn::Gpu };
            detail_time = self.full_mask(input, low, source, on)?;
            self.timings.inference += detail_time;
            t_mask = Instant::now();
        }
        let gpu_refine = self.options.refine.filter(|_| !refine_on_cpu);
        let refine_temporal = self.refine_temporal(source);
        let mode = self.options.mode;
        if mode == Mode::Replace {
            self.fit_background(w, h)?;
        }
        let Some(gpu) = self.gpu.as_mut() else { return Ok(()) };
        if on_cpu {
            gpu.set_mask(&self.mask)?;
        } else {
            gpu.upsample(low)?;
        }
        if let Some(refine) = &gpu_refine {
            gpu.refine(refine, refine_temporal.as_ref())?;
        }
        match mode {
            Mode::Blur => {
                gpu.blur(&self.options.blur_params(w, h))?;
            }
            Mode::Replace => {
                let id = self.options.background.as_ref().map_or(0, |b| Arc::as_ptr(b) as usize);
                let fitted = self.fitted.as_ref().map(|(_, v)| v.as_slice()).unwrap_or_default();
                gpu.set_replacement(id, fitted)?;
            }
            Mode::Cutout | Mode::Mask => {}
        }
        let decontaminate = self.options.decontaminate && matches!(mode, Mode::Replace | Mode::Cutout);
        if decontaminate {
            gpu.blur(&BlurParams::background_only(Options::decontamination_radius_for(w, h)))?;
        }
        gpu.composite_with(mode, decontaminate)?;
        gpu.download(mode, output)?;
        // The final mask is on the GPU only (read back if asked for), unless the CPU made it.
        if !on_cpu || gpu_refine.is_some() {
            self.mask_source.clone_from(low);
            if self.mask.width() != w || self.mask.height() != h {
                self.mask = Mask::new(w, h);
            }
            self.mask_stale = true;
        }
        self.timings.upsample = (t_mask - t0).saturating_sub(detail_time);
        self.timings.blur = Duration::ZERO;
        self.timings.composite = t_mask.elapsed();
        Ok(())
    }

    /// Fits the replacement background to `w × h` (centre crop) unless already done.
    fn fit_background(&mut self, w: u32, h: u32) -> Result<()> {
        let stale = self.fitted.as_ref().is_none_or(|(size, _)| *size != (w, h));
        if stale {
            let bg = self
                .options
                .background
                .as_ref()
                .ok_or_else(|| Error::InvalidOption("replace mode needs a background image".into()))?;
            self.fitted = Some(((w, h), cover(bg.as_ref().as_ref(), w, h)));
        }
        Ok(())
    }
}

/// "CPU (rayon, N threads)", with why the GPU was not used where [`Backend::Auto`] looked for one.
fn cpu_note(why_not_gpu: Option<&str>) -> String {
    let threads = rayon::current_num_threads();
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
