//! Temporal stability for video: a motion-adaptive average of the model's masks, with
//! hysteresis.
//!
//! A segmentation network looks at each frame on its own, so in video its mask edges shimmer:
//! a pixel on the boundary flips between person and background from one frame to the next
//! although nothing moved. Two mechanisms, both at model resolution (a few ten thousand pixels,
//! so the cost does not grow with the frame size), before the mask is upsampled:
//!
//! 1. **Motion-adaptive exponential average.** Each pixel keeps a running value `s` and moves
//!    towards the new mask value `m` by a weight `a = min_weight + (1 − min_weight) · |m − s| /
//!    full_change` (clamped to 1): where the new mask barely disagrees (noise on a still edge) it
//!    moves slowly, where it disagrees a lot (something moved) it follows at once, so moving
//!    edges stay crisp and do not trail.
//! 2. **Hysteresis.** Each pixel remembers its last side of 0.5; it only changes side once the
//!    averaged value leaves the band `0.5 ± hysteresis`. Inside the band the value is kept on the
//!    remembered side (nudged to 0.5 or just below), so soft edges stay soft but stop flipping.
//!
//! Measured on DAVIS `dance-twirl` (`tests/temporal.rs`, the rule of `../shared/tools/flicker.py`):
//! flip 2.62% → 1.49% of pixels per frame, mean IoU 0.6399 → 0.6417. The defaults come from a
//! sweep (min_weight 0.15–0.3, full_change 0.5–0.8, hysteresis 0.2–0.4): wider bands flicker
//! less but lag (hysteresis 0.4: 1.27%, IoU 0.630); at model resolution the band must be wider
//! than a full-resolution prototype needed, since upsampling blends held and free pixels.

use crate::mask::Mask;

/// Settings of the temporal filter. `Default` is what video uses.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Temporal {
    /// Weight of the new mask where it agrees with the running value (0 < w ≤ 1; 1 = off).
    pub min_weight: f32,
    /// Disagreement at which the new mask is taken as is (> 0).
    pub full_change: f32,
    /// Half-width of the band around 0.5 in which a pixel keeps its side (0 = none, < 0.5).
    pub hysteresis: f32,
}

impl Default for Temporal {
    fn default() -> Self {
        Temporal { min_weight: 0.3, full_change: 0.8, hysteresis: 0.3 }
    }
}

impl Temporal {
    /// Checks the settings are in range.
    pub fn validate(&self) -> crate::Result<()> {
        let ok = self.min_weight > 0.0
            && self.min_weight <= 1.0
            && self.full_change > 0.0
            && self.full_change.is_finite()
            && (0.0..0.5).contains(&self.hysteresis);
        if ok {
            Ok(())
        } else {
            Err(crate::Error::InvalidOption(format!(
                "temporal filter {self:?}: need 0 < min_weight <= 1, full_change > 0, 0 <= hysteresis < 0.5"
            )))
        }
    }
}

/// One stream's running state.
#[derive(Debug, Default, Clone)]
pub(crate) struct TemporalFilter {
    state: Vec<f32>,
    person: Vec<bool>,
    size: (u32, u32),
}

impl TemporalFilter {
    /// Forgets the past (after a scene cut, or when the mask size changes).
    pub(crate) fn reset(&mut self) {
        self.state.clear();
        self.person.clear();
        self.size = (0, 0);
    }

    /// Filters `mask` in place against the running state and updates it.
    pub(crate) fn apply(&mut self, mask: &mut Mask, t: &Temporal) {
        let size = (mask.width(), mask.height());
        let data = mask.data_mut();
        if self.size != size || self.state.len() != data.len() {
            self.state.clear();
            self.state.extend_from_slice(data);
            self.person.clear();
            self.person.extend(data.iter().map(|&v| v >= 0.5));
            self.size = size;
            return;
        }
        let slope = (1.0 - t.min_weight) / t.full_change;
        let (lo, hi) = (0.5 - t.hysteresis, 0.5 + t.hysteresis);
        for ((m, s), person) in data.iter_mut().zip(&mut self.state).zip(&mut self.person) {
            let a = (t.min_weight + slope * (*m - *s).abs()).min(1.0);
            *s += a * (*m - *s);
            let v = *s;
            if v >= hi {
                *person = true;
            } else if v < lo {
                *person = false;
            }
            *m = match (*person, v >= 0.5) {
                (true, false) => 0.5,
                (false, true) => BELOW_HALF,
                _ => v,
            };
        }
    }
}

/// The largest f32 below 0.5: "background" by the 0.5 threshold, as close to the edge as can be.
const BELOW_HALF: f32 = 0.499_999_97;

#[cfg(test)]
mod tests {
    use super::*;

    fn mask(values: &[f32]) -> Mask {
        Mask::from_vec(values.to_vec(), values.len() as u32, 1).expect("mask")
    }

    #[test]
    fn still_noise_is_damped_and_held() {
        let t = Temporal::default();
        let mut f = TemporalFilter::default();
        let mut first = mask(&[0.6, 0.9, 0.1]);
        f.apply(&mut first, &t);
        assert_eq!(first.data(), &[0.6, 0.9, 0.1], "the first frame passes through");
        // An edge pixel wobbling across 0.5 keeps its side; the others stay put.
        for wobble in [0.42, 0.58, 0.45, 0.6, 0.4] {
            let mut m = mask(&[wobble, 0.9, 0.1]);
            f.apply(&mut m, &t);
            assert!(m.data()[0] >= 0.5, "flipped at {wobble}: {:?}", m.data());
            assert!((m.data()[1] - 0.9).abs() < 1e-6 && (m.data()[2] - 0.1).abs() < 1e-6);
        }
    }

    #[test]
    fn real_motion_is_followed_at_once() {
        let t = Temporal::default();
        let mut f = TemporalFilter::default();
        f.apply(&mut mask(&[0.0, 1.0]), &t);
        let mut m = mask(&[1.0, 0.0]);
        f.apply(&mut m, &t);
        assert_eq!(m.data(), &[1.0, 0.0], "a full change is taken in one frame");
    }

    #[test]
    fn a_new_size_starts_afresh() {
        let t = Temporal::default();
        let mut f = TemporalFilter::default();
        f.apply(&mut mask(&[0.9, 0.9]), &t);
        let mut m = mask(&[0.1, 0.1, 0.1]);
        f.apply(&mut m, &t);
        assert_eq!(m.data(), &[0.1, 0.1, 0.1]);
        f.reset();
        let mut m = mask(&[0.7, 0.2, 0.3]);
        f.apply(&mut m, &t);
        assert_eq!(m.data(), &[0.7, 0.2, 0.3]);
    }

    #[test]
    fn settings_are_checked() {
        assert!(Temporal::default().validate().is_ok());
        for bad in [
            Temporal { min_weight: 0.0, ..Temporal::default() },
            Temporal { full_change: f32::NAN, ..Temporal::default() },
            Temporal { hysteresis: 0.5, ..Temporal::default() },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }
}
