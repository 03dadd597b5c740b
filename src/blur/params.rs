//! What a blur is asked to do ([`BlurParams`]) and the checked plan both backends run
//! ([`BlurPlan`]).

use super::{reduction, BlurKind, MAX_BLOOM};
use crate::error::{Error, Result};

/// What to blur and how, for both backends ([`super::BlurredBackground::compute`] on the CPU,
/// `GpuPixels::blur` on a GPU): one value instead of an entry point per combination.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BlurParams {
    /// The aperture's shape.
    pub kind: BlurKind,
    /// The blur radius in frame pixels (finite, ≥ 0).
    pub radius: f32,
    /// Highlight bloom ([`super::highlight_gain`]; 1 = none, up to [`MAX_BLOOM`]).
    pub bloom: f32,
    /// Focus falloff: the aperture grows from nothing at the person to `radius` at this many
    /// frame pixels from the person (see the [module docs](super)). Disc and hexagon only.
    pub falloff: Option<f32>,
    /// How much each pixel counts.
    pub weights: BlurWeights,
}

/// How much a pixel counts in the blur.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BlurWeights {
    /// `1 − mask`: the background behind the person, for portrait mode.
    #[default]
    Background,
    /// `(1 − mask)⁸`: mixed edge pixels (half person) count for almost nothing and only clear
    /// background is averaged — an estimate of the background alone, for colour decontamination.
    BackgroundOnly,
}

impl BlurParams {
    /// A `kind` blur of `radius` frame pixels: no bloom, no falloff, background weights.
    pub fn new(kind: BlurKind, radius: f32) -> Self {
        BlurParams { kind, radius, bloom: 1.0, falloff: None, weights: BlurWeights::Background }
    }

    /// The background-only estimate for decontamination: a disc of `radius` frame pixels with
    /// [`BlurWeights::BackgroundOnly`].
    pub fn background_only(radius: f32) -> Self {
        BlurParams { weights: BlurWeights::BackgroundOnly, ..Self::new(BlurKind::Disc, radius) }
    }

    /// With highlight bloom.
    pub fn with_bloom(mut self, bloom: f32) -> Self {
        self.bloom = bloom;
        self
    }

    /// With focus falloff at `distance` frame pixels (`None`: none).
    pub fn with_falloff(mut self, distance: Option<f32>) -> Self {
        self.falloff = distance;
        self
    }

    /// Checks the settings and plans the blur (both backends run the same plan).
    pub(crate) fn plan(&self) -> Result<BlurPlan> {
        let (radius, bloom) = (self.radius, self.bloom);
        if !radius.is_finite() || radius < 0.0 {
            return Err(Error::InvalidOption(format!("blur radius {radius} must be a finite, non-negative number")));
        }
        if !bloom.is_finite() || !(1.0..=MAX_BLOOM).contains(&bloom) {
            return Err(Error::InvalidOption(format!("highlight bloom {bloom} is outside 1..={MAX_BLOOM}")));
        }
        check_falloff(self.falloff, self.kind)?;
        let (factor, low_radius) = reduction(radius);
        Ok(BlurPlan {
            // No bloom without a blur: a highlight that is not spread is not brightened either.
            bloom: if radius < 1.0 { 1.0 } else { bloom },
            factor,
            low_radius,
            low_falloff: self.falloff.map(|d| d / factor as f32),
        })
    }
}

/// A checked blur, as both backends run it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct BlurPlan {
    /// The bloom to apply.
    pub(crate) bloom: f32,
    /// The reduction factor.
    pub(crate) factor: usize,
    /// The radius at the reduced resolution.
    pub(crate) low_radius: f32,
    /// The falloff distance at the reduced resolution.
    pub(crate) low_falloff: Option<f32>,
}

/// Focus falloff needs a distance (finite, positive, in frame pixels) and an aperture.
pub(crate) fn check_falloff(falloff: Option<f32>, kind: BlurKind) -> Result<()> {
    match falloff {
        Some(d) if !d.is_finite() || d <= 0.0 => {
            Err(Error::InvalidOption(format!("focus falloff distance {d} must be a positive number of pixels")))
        }
        Some(_) if kind == BlurKind::Gaussian => Err(Error::InvalidOption(
            "focus falloff needs the disc or hexagon blur (a Gaussian has no aperture to grow)".into(),
        )),
        _ => Ok(()),
    }
}
