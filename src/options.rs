//! The pipeline's settings, shared by every layer: [`Options`] (what to produce and how),
//! [`Mode`], [`Backend`] and the per-stage [`StageTimings`].
//!
//! They live below both the [`crate::Pipeline`] and the pixel backends (the CPU stages and
//! `gpu/`), so a backend reads the settings without depending on the pipeline that drives it.
//! [`Options::validate`] is the one place the ranges are checked: the pipeline, the stream, the
//! CLI and the C API all go through it.

use std::sync::Arc;
use std::time::Duration;

use crate::blur::{BlurKind, BlurParams};
use crate::error::{Error, Result};
use crate::frame::{Frame, PixelFormat};
use crate::orient::Orientation;
use crate::refine::Refine;
use crate::temporal::Temporal;
use crate::track::Tracking;

/// What the pipeline produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[non_exhaustive]
pub enum Mode {
    /// The person sharp over their blurred background (portrait mode). Same format as the input.
    #[default]
    #[cfg_attr(feature = "clap", value(help = "The person sharp, the background blurred (portrait mode)"))]
    Blur,
    /// The person over [`Options::background`], scaled to cover the frame. Same format as the
    /// input.
    #[cfg_attr(feature = "clap", value(help = "The person over a new background"))]
    Replace,
    /// The person alone: RGBA with the mask as alpha.
    #[cfg_attr(feature = "clap", value(help = "The person alone, with transparency"))]
    Cutout,
    /// The soft mask itself as 8-bit grey (255 = person).
    #[cfg_attr(feature = "clap", value(help = "The person mask as a grey image (white = person)"))]
    Mask,
}

/// Where the pixel stages run. Inference always runs in tract on the CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[non_exhaustive]
pub enum Backend {
    /// rayon on the CPU cores.
    #[default]
    #[cfg_attr(feature = "clap", value(help = "rayon on the CPU cores"))]
    Cpu,
    /// WGSL compute shaders on a GPU through wgpu (feature `gpu`). Any adapter, software
    /// rasterisers included; no adapter is an error ([`Error::Gpu`]), never a silent fallback.
    #[cfg_attr(
        feature = "clap",
        value(help = "wgpu compute shaders (Vulkan, Metal, DX12 or GL); an error if no adapter is found")
    )]
    Gpu,
    /// A hardware GPU when there is one, else the CPU ([`crate::Pipeline::backend_description`] says
    /// which and why).
    #[cfg_attr(feature = "clap", value(help = "A hardware GPU if there is one, else the CPU"))]
    Auto,
}

impl Backend {
    /// Whether this build of the library has the backend: [`Backend::Gpu`] needs the cargo
    /// feature `gpu` (whether a GPU is there is known only when a pipeline opens it).
    pub const fn is_built(self) -> bool {
        match self {
            Backend::Gpu => cfg!(feature = "gpu"),
            Backend::Cpu | Backend::Auto => true,
        }
    }
}

/// Pipeline settings. `Default` gives portrait mode with a disc blur of 3% of the diagonal.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Options {
    /// What to produce.
    pub mode: Mode,
    /// Kernel shape of the background blur.
    pub blur: BlurKind,
    /// Blur radius as a fraction of the frame's diagonal, `0.0..=0.25` (0 = no blur); see also
    /// [`Options::with_f_number`].
    pub strength: f32,
    /// Highlight bloom, `1.0..=64.0` ([`crate::blur::highlight_gain`]; 1 = off): clipped
    /// highlights in the background become bright discs, as through a lens.
    pub bloom: f32,
    /// Focus falloff (off by default): the blur grows from nothing at the person to its full
    /// strength at this distance from the person, as a fraction of the frame's diagonal
    /// (`0.0..=1.0`), so the ground at a subject's feet stays sharper than the far wall. Disc and
    /// hexagon blurs only. See [`crate::blur`].
    pub focus_falloff: Option<f32>,
    /// The new background for [`Mode::Replace`].
    pub background: Option<Arc<Frame>>,
    /// Temporal stability for video ([`Temporal`]): off for photos, on by default in video.
    pub temporal: Option<Temporal>,
    /// The subject-tracking crop for video ([`Tracking`], on by default): with [`Options::temporal`]
    /// on, the model looks at a crop around the people of the last frames instead of the whole
    /// frame (see `src/track.rs`). Ignored for photos (no temporal filter).
    pub tracking: Option<Tracking>,
    /// Where the pixel stages run.
    pub backend: Backend,
    /// Where the model runs (see [`Options::with_model_backend`]): [`Backend::Auto`] (the
    /// default) puts it on the pixel stages' GPU when that is a hardware one.
    pub model_backend: Backend,
    /// Edge-aware mask refinement with the frame as the guide ([`Refine`]); on by default.
    pub refine: Option<Refine>,
    /// Colour decontamination of edge pixels in [`Mode::Replace`] and [`Mode::Cutout`] (on by
    /// default): hair keeps its own colour, not the old background's (see `src/composite.rs`).
    /// Costs one small blur of the old background.
    pub decontaminate: bool,
    /// Photo detail passes (0 = none): the model looks at the frame's four quarters, then again
    /// at a crop around each person it found, once per pass (see
    /// [`Options::with_detail_passes`]). For photos: four inferences, plus one per person and pass.
    pub detail_passes: u8,
    /// How the input frames are stored relative to upright (a phone sensor's rotation, a
    /// mirroring front camera; see `src/orient.rs`): the model sees them upright. Upright by
    /// default.
    pub orientation: Orientation,
    /// Write the output turned upright by [`Options::orientation`] (its width and height swapped
    /// for 90° and 270°) instead of as the input is stored (the default). Costs one copy of the
    /// output frame; the mask ([`crate::Pipeline::mask`]) stays as the input is stored.
    pub upright_output: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            mode: Mode::Blur,
            blur: BlurKind::Disc,
            strength: Self::DEFAULT_STRENGTH,
            bloom: Self::DEFAULT_BLOOM,
            focus_falloff: None,
            background: None,
            temporal: None,
            tracking: Some(Tracking::default()),
            backend: Backend::Cpu,
            model_backend: Backend::Auto,
            refine: Some(Refine::default()),
            decontaminate: true,
            detail_passes: 0,
            orientation: Orientation::UPRIGHT,
            upright_output: false,
        }
    }
}

impl Options {
    /// The default blur strength: a radius of 3% of the frame's diagonal.
    pub const DEFAULT_STRENGTH: f32 = 0.03;
    /// The largest accepted blur strength.
    pub const MAX_STRENGTH: f32 = 0.25;
    /// The default highlight bloom: a clipped highlight counts as four times white.
    pub const DEFAULT_BLOOM: f32 = 4.0;
    /// Strength × f-number: [`Options::with_f_number`] maps f/2.8 to the default strength.
    pub const F_NUMBER_SCALE: f32 = Self::DEFAULT_STRENGTH * 2.8;
    /// The most detail passes accepted.
    pub const MAX_DETAIL_PASSES: u8 = 4;
    /// Detail passes that suit photos: two (the second sees what the first one recovered).
    pub const PHOTO_DETAIL_PASSES: u8 = 2;

    /// Sets the output mode.
    pub fn with_mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// Sets the blur kernel.
    pub fn with_blur(mut self, blur: BlurKind) -> Self {
        self.blur = blur;
        self
    }

    /// Sets the blur strength (fraction of the diagonal).
    pub fn with_strength(mut self, strength: f32) -> Self {
        self.strength = strength;
        self
    }

    /// Sets the blur like a lens's f-number: the radius is inversely proportional to it, f/2.8
    /// giving the default strength, f/1.4 twice as much, f/8 about a third (the frame's diagonal
    /// standing in for the focal length). Values below f/0.34 exceed the largest strength and
    /// are refused by [`Options::validate`].
    pub fn with_f_number(mut self, f_number: f32) -> Self {
        self.strength = if f_number > 0.0 { Self::F_NUMBER_SCALE / f_number } else { f32::INFINITY };
        self
    }

    /// Sets the highlight bloom (1 = off).
    pub fn with_bloom(mut self, bloom: f32) -> Self {
        self.bloom = bloom;
        self
    }

    /// Sets the replacement background (any size; it is scaled to cover each frame).
    pub fn with_background(mut self, background: Frame) -> Self {
        self.background = Some(Arc::new(background));
        self
    }

    /// Turns the temporal filter on (`Some`) or off (`None`).
    pub fn with_temporal(mut self, temporal: Option<Temporal>) -> Self {
        self.temporal = temporal;
        self
    }

    /// Turns the subject-tracking crop on (`Some`) or off (`None`); it works in video, with the
    /// temporal filter on.
    pub fn with_tracking(mut self, tracking: Option<Tracking>) -> Self {
        self.tracking = tracking;
        self
    }

    /// The tracking settings when they apply: tracking on and the temporal filter on.
    pub fn video_tracking(&self) -> Option<Tracking> {
        self.tracking.filter(|_| self.temporal.is_some())
    }

    /// Sets where the pixel stages run.
    pub fn with_backend(mut self, backend: Backend) -> Self {
        self.backend = backend;
        self
    }

    /// Sets where the model runs: [`Backend::Cpu`] keeps it in tract; [`Backend::Gpu`] puts it
    /// on the pixel stages' GPU whatever the adapter (an error when the pixel stages are on the
    /// CPU); [`Backend::Auto`] puts it there when the adapter is a hardware one — on a software
    /// rasteriser (lavapipe, llvmpipe) tract on the same cores is ≈ 40× faster. Either way the
    /// model's graph must be one the GPU kernels cover (`src/gpu/model.rs`), else tract runs it
    /// and [`crate::Pipeline::model_description`] says why.
    pub fn with_model_backend(mut self, backend: Backend) -> Self {
        self.model_backend = backend;
        self
    }

    /// Turns colour decontamination of edge pixels on or off (replace and cutout modes).
    pub fn with_decontaminate(mut self, on: bool) -> Self {
        self.decontaminate = on;
        self
    }

    /// The old background's estimate for decontamination: a disc of this fraction of the
    /// diagonal, reaching past the soft edge into clean background.
    pub const DECONTAMINATION_RADIUS: f32 = 0.015;

    /// The decontamination disc's radius in pixels for a `width × height` frame.
    pub fn decontamination_radius_for(width: u32, height: u32) -> f32 {
        Self::DECONTAMINATION_RADIUS * (width as f32).hypot(height as f32)
    }

    /// Turns the edge-aware refinement on (`Some`) or off (`None`).
    pub fn with_refine(mut self, refine: Option<Refine>) -> Self {
        self.refine = refine;
        self
    }

    /// Sets the number of photo detail passes: after the whole frame, the model looks at its four
    /// overlapping quarters (small people), then runs again on a crop around each person found
    /// (a connected region of the mask), whose sharper mask replaces that part
    /// ([`Options::PHOTO_DETAIL_PASSES`] suits photos; 0 for video).
    pub fn with_detail_passes(mut self, passes: u8) -> Self {
        self.detail_passes = passes;
        self
    }

    /// Sets how the input frames are stored relative to upright (see [`Options::orientation`]).
    pub fn with_orientation(mut self, orientation: Orientation) -> Self {
        self.orientation = orientation;
        self
    }

    /// Writes the output upright (`true`) or as the input is stored (`false`, the default).
    pub fn with_upright_output(mut self, upright: bool) -> Self {
        self.upright_output = upright;
        self
    }

    /// The output's size for a `width × height` input: upright if [`Options::upright_output`].
    pub fn output_size(&self, width: u32, height: u32) -> (u32, u32) {
        if self.upright_output {
            self.orientation.upright_size(width, height)
        } else {
            (width, height)
        }
    }

    /// True when the output is turned from the stored input (upright output of a frame that is
    /// not stored upright).
    pub(crate) fn turns_output(&self) -> bool {
        self.upright_output && !self.orientation.is_upright()
    }

    /// Sets the focus falloff distance (fraction of the diagonal; `None` = off).
    pub fn with_focus_falloff(mut self, falloff: Option<f32>) -> Self {
        self.focus_falloff = falloff;
        self
    }

    /// Focus falloff distance in pixels for a `width × height` frame.
    pub fn focus_falloff_for(&self, width: u32, height: u32) -> Option<f32> {
        self.focus_falloff.map(|f| f * (width as f32).hypot(height as f32))
    }

    /// Checks the options are consistent.
    pub fn validate(&self) -> Result<()> {
        if let Some(f) = self.focus_falloff {
            if !(f > 0.0 && f <= 1.0) {
                return Err(Error::InvalidOption(format!("focus falloff {f} is outside 0 (exclusive) ..= 1")));
            }
            crate::blur::check_falloff(Some(f), self.blur)?;
        }
        if let Some(r) = &self.refine {
            r.validate()?;
        }
        if self.detail_passes > Self::MAX_DETAIL_PASSES {
            return Err(Error::InvalidOption(format!(
                "{} detail passes: at most {}",
                self.detail_passes,
                Self::MAX_DETAIL_PASSES
            )));
        }
        if let Some(t) = &self.temporal {
            t.validate()?;
        }
        if let Some(t) = &self.tracking {
            t.validate()?;
        }
        if !(0.0..=Self::MAX_STRENGTH).contains(&self.strength) {
            return Err(Error::InvalidOption(format!(
                "strength {} is outside 0..={}",
                self.strength,
                Self::MAX_STRENGTH
            )));
        }
        if !(1.0..=crate::blur::MAX_BLOOM).contains(&self.bloom) {
            return Err(Error::InvalidOption(format!(
                "highlight bloom {} is outside 1..={}",
                self.bloom,
                crate::blur::MAX_BLOOM
            )));
        }
        if self.mode == Mode::Replace && self.background.is_none() {
            return Err(Error::InvalidOption("replace mode needs a background image".into()));
        }
        Ok(())
    }

    /// Blur radius in pixels for a `width × height` frame.
    pub fn radius_for(&self, width: u32, height: u32) -> f32 {
        self.strength * (width as f32).hypot(height as f32)
    }

    /// The portrait-mode blur for a `width × height` frame: kind, radius, bloom and focus
    /// falloff as these options say.
    pub fn blur_params(&self, width: u32, height: u32) -> BlurParams {
        BlurParams::new(self.blur, self.radius_for(width, height))
            .with_bloom(self.bloom)
            .with_falloff(self.focus_falloff_for(width, height))
    }

    /// The pixel format the pipeline writes for an input of `input` format.
    pub fn output_format(&self, input: PixelFormat) -> PixelFormat {
        match self.mode {
            Mode::Blur | Mode::Replace => input,
            Mode::Cutout => PixelFormat::Rgba8,
            Mode::Mask => PixelFormat::Gray8,
        }
    }
}

/// Wall-clock time of each stage of the last processed frame. With the GPU backend the pixel
/// stages are queued and run in one submission: `composite` includes waiting for all of them.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StageTimings {
    /// Resizing and normalising the frame for the model.
    pub preprocess: Duration,
    /// Running the model (detail passes included).
    pub inference: Duration,
    /// Upsampling the mask to the frame and refining it ([`Refine`]).
    pub upsample: Duration,
    /// Blurring the background (zero in modes without blur).
    pub blur: Duration,
    /// Producing the output pixels.
    pub composite: Duration,
}

impl StageTimings {
    /// Sum of all stages.
    pub fn total(&self) -> Duration {
        self.preprocess + self.inference + self.upsample + self.blur + self.composite
    }

    /// `(name, duration)` for each stage, in pipeline order.
    pub fn stages(&self) -> [(&'static str, Duration); 5] {
        [
            ("preprocess", self.preprocess),
            ("inference", self.inference),
            ("upsample", self.upsample),
            ("blur", self.blur),
            ("composite", self.composite),
        ]
    }
}
