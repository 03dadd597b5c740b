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
//! 3. **No blinks.** Sometimes the model loses most of a person for a frame or two while
//!    nothing happened (a small or fast subject, odd light). When the mask's person area falls
//!    to less than half of the last frame's while the picture, where the person was, barely
//!    changed (mean luma difference under [`BLINK_CHANGE`] codes against the last frame, each
//!    pixel compared with the best match within ±1 pixel so a slowly moving person still counts as
//!    unchanged), the last mask is held and fades over [`HOLD_FRAMES`] frames (the larger of it,
//!    scaled by 1, ¾, ½, ¼, and the new mask), unless the model finds the person again first.
//!    A person who leaves changes the picture where they were, so they are let go at once; a
//!    real blink that lasts longer than the hold fades out rather than vanishing.
//!
//! Measured on DAVIS `dance-twirl` (`tests/temporal.rs`, the rule of `../shared/tools/flicker.py`),
//! with the refinement and the tracking crop (both on by default): flip 2.59% → 1.57% of pixels
//! per frame, mean IoU 0.637 → 0.731. The dancer twirls, so the true masks flip 2.16% per
//! frame themselves: the flips that are shimmer for certain, where the truth did not change, fall
//! from 1.81% to 0.83% (the rest follows the dancer). The defaults come from sweeps (min_weight 0.15–0.3, full_change 0.5–0.8,
//! hysteresis 0.2–0.45): wider bands flicker less but lag. Since the tracking crop (the filter
//! runs at its working size, 512 pixels across, where crops shimmer a little more than whole
//! frames) the band is 0.42, with the crop always on the square model (same-day sweep, flip /
//! dance-twirl IoU / small-subject clips' IoU: 0.38: 1.63% / 0.737 / 0.471; 0.42: 1.57% / 0.731 /
//! 0.463; 0.45: 1.53% / 0.720 / 0.453).

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
        Temporal { min_weight: 0.3, full_change: 0.8, hysteresis: 0.42 }
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

/// Frames a blinked-out mask is held for, fading.
pub(crate) const HOLD_FRAMES: u32 = 4;
/// The picture change (mean 8-bit luma difference where the person was) below which a lost
/// person counts as a model blink rather than a person leaving.
pub(crate) const BLINK_CHANGE: f32 = 12.0;
/// A blink needs a person of at least this many mask pixels to lose.
const BLINK_MIN_PIXELS: usize = 16;

/// One stream's running state.
#[derive(Debug, Default, Clone)]
pub(crate) struct TemporalFilter {
    state: Vec<f32>,
    person: Vec<bool>,
    size: (u32, u32),
    /// The last output and the luma it was made from (mask-sized), for the blink rule.
    last_out: Vec<f32>,
    last_luma: Vec<u8>,
    /// The mask held through a blink, its person area and the frames of the hold so far.
    held: Vec<f32>,
    held_area: usize,
    hold: Option<u32>,
    /// Blinks bridged so far.
    blinks: u64,
}

impl TemporalFilter {
    /// Forgets the past (after a scene cut, or when the mask size changes).
    pub(crate) fn reset(&mut self) {
        self.state.clear();
        self.person.clear();
        self.size = (0, 0);
        self.last_out.clear();
        self.last_luma.clear();
        self.hold = None;
    }

    /// Model blinks bridged so far (see the module documentation).
    pub(crate) fn blinks(&self) -> u64 {
        self.blinks
    }

    /// Filters `mask` in place against the running state and updates it. `luma`: the frame's
    /// luma sampled at the mask's size (see [`luma_at`]), for the blink rule (`None`: no rule).
    pub(crate) fn apply(&mut self, mask: &mut Mask, t: &Temporal, luma: Option<&[u8]>) {
        self.smooth(mask, t);
        match luma.filter(|l| l.len() == mask.data().len()) {
            Some(luma) => {
                self.bridge_blinks(mask.data_mut(), luma);
                self.last_out.clear();
                self.last_out.extend_from_slice(mask.data());
                self.last_luma.clear();
                self.last_luma.extend_from_slice(luma);
            }
            None => {
                self.last_out.clear();
                self.hold = None;
            }
        }
    }

    /// The blink rule on the smoothed `out` (see the module documentation).
    fn bridge_blinks(&mut self, out: &mut [f32], luma: &[u8]) {
        let area = |m: &[f32]| m.iter().filter(|&&v| v >= 0.5).count();
        if self.last_out.len() != out.len() {
            self.hold = None;
            return;
        }
        let now = area(out);
        if let Some(k) = self.hold {
            if now * 2 >= self.held_area || k >= HOLD_FRAMES {
                self.hold = None;
                return;
            }
        } else {
            let before = area(&self.last_out);
            let lost = before >= BLINK_MIN_PIXELS && now * 2 < before;
            if !lost || self.change_where_person_was(luma) >= BLINK_CHANGE {
                return;
            }
            self.held.clone_from(&self.last_out);
            self.held_area = before;
            self.hold = Some(0);
            self.blinks += 1;
        }
        let k = self.hold.unwrap_or(0);
        let fade = 1.0 - k as f32 / HOLD_FRAMES as f32;
        for (o, &h) in out.iter_mut().zip(&self.held) {
            *o = o.max(h * fade);
        }
        self.hold = Some(k + 1);
    }

    /// Mean absolute luma difference over the last output's person pixels between this frame
    /// and the last, each pixel against its best match within ±1 pixel in the last frame.
    fn change_where_person_was(&self, luma: &[u8]) -> f32 {
        let (w, h) = (self.size.0 as usize, self.size.1 as usize);
        if self.last_luma.len() != luma.len() || w * h != luma.len() {
            return f32::INFINITY;
        }
        let (mut sum, mut n) = (0u64, 0u64);
        for (i, _) in self.last_out.iter().enumerate().filter(|(_, &v)| v >= 0.5) {
            let (x, y) = (i % w, i / w);
            let mut best = u8::MAX;
            for yy in y.saturating_sub(1)..(y + 2).min(h) {
                for xx in x.saturating_sub(1)..(x + 2).min(w) {
                    best = best.min(luma[i].abs_diff(self.last_luma[yy * w + xx]));
                }
            }
            sum += u64::from(best);
            n += 1;
        }
        if n == 0 {
            f32::INFINITY
        } else {
            sum as f32 / n as f32
        }
    }

    /// The motion-adaptive average with hysteresis.
    fn smooth(&mut self, mask: &mut Mask, t: &Temporal) {
        let size = (mask.width(), mask.height());
        let data = mask.data_mut();
        if self.size != size || self.state.len() != data.len() {
            self.state.clear();
            self.state.extend_from_slice(data);
            self.person.clear();
            self.person.extend(data.iter().map(|&v| v >= 0.5));
            self.size = size;
            self.last_out.clear();
            self.hold = None;
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

/// Samples the Rec. 601 luma of `frame` at the centres of a `width × height` grid (nearest
/// pixel) into `out`, allocating nothing once `out` is large enough: the picture at the mask's
/// size for the blink rule, and the stream's still-scene thumbnail.
pub(crate) fn luma_at(frame: crate::frame::FrameRef<'_>, width: u32, height: u32, out: &mut Vec<u8>) {
    out.clear();
    let (fw, fh) = (frame.width() as u64, frame.height() as u64);
    let bpp = frame.format().bytes_per_pixel();
    let [r, g, b] = frame.format().rgb_offsets();
    let centre = |i: u32, n: u32, len: u64| ((2 * i as u64 + 1) * len / (2 * n as u64)).min(len - 1) as usize;
    for y in 0..height {
        let row = frame.row(centre(y, height, fh) as u32);
        out.extend((0..width).map(|x| {
            let p = &row[centre(x, width, fw) * bpp..];
            ((u32::from(p[r]) * 77 + u32::from(p[g]) * 150 + u32::from(p[b]) * 29) >> 8) as u8
        }));
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
        f.apply(&mut first, &t, None);
        assert_eq!(first.data(), &[0.6, 0.9, 0.1], "the first frame passes through");
        // An edge pixel wobbling across 0.5 keeps its side; the others stay put.
        for wobble in [0.42, 0.58, 0.45, 0.6, 0.4] {
            let mut m = mask(&[wobble, 0.9, 0.1]);
            f.apply(&mut m, &t, None);
            assert!(m.data()[0] >= 0.5, "flipped at {wobble}: {:?}", m.data());
            assert!((m.data()[1] - 0.9).abs() < 1e-6 && (m.data()[2] - 0.1).abs() < 1e-6);
        }
    }

    #[test]
    fn real_motion_is_followed_at_once() {
        let t = Temporal::default();
        let mut f = TemporalFilter::default();
        f.apply(&mut mask(&[0.0, 1.0]), &t, None);
        let mut m = mask(&[1.0, 0.0]);
        f.apply(&mut m, &t, None);
        assert_eq!(m.data(), &[1.0, 0.0], "a full change is taken in one frame");
    }

    #[test]
    fn a_new_size_starts_afresh() {
        let t = Temporal::default();
        let mut f = TemporalFilter::default();
        f.apply(&mut mask(&[0.9, 0.9]), &t, None);
        let mut m = mask(&[0.1, 0.1, 0.1]);
        f.apply(&mut m, &t, None);
        assert_eq!(m.data(), &[0.1, 0.1, 0.1]);
        f.reset();
        let mut m = mask(&[0.7, 0.2, 0.3]);
        f.apply(&mut m, &t, None);
        assert_eq!(m.data(), &[0.7, 0.2, 0.3]);
    }

    /// A 20x10 mask with a 6x6 person at `x`, and a luma picture with a bright 6x6 square at
    /// `subject` (or none) on grey.
    fn scene(x: Option<usize>, subject: Option<usize>) -> (Mask, Vec<u8>) {
        let (w, h) = (20usize, 10usize);
        let mut m = vec![0.0f32; w * h];
        let mut luma = vec![60u8; w * h];
        for y in 2..8 {
            if let Some(x) = x {
                m[y * w + x..y * w + x + 6].fill(1.0);
            }
            if let Some(s) = subject {
                luma[y * w + s..y * w + s + 6].fill(200);
            }
        }
        (Mask::from_vec(m, w as u32, h as u32).expect("mask"), luma)
    }

    fn area(m: &Mask) -> usize {
        m.data().iter().filter(|&&v| v >= 0.5).count()
    }

    #[test]
    fn a_blink_is_held_and_fades_but_a_person_leaving_is_let_go() {
        let t = Temporal::default();
        // The model loses the person for five frames while the picture stays: held, fading.
        let mut f = TemporalFilter::default();
        for _ in 0..3 {
            let (mut m, luma) = scene(Some(4), Some(4));
            f.apply(&mut m, &t, Some(&luma));
        }
        let mut kept = Vec::new();
        for _ in 0..5 {
            let (mut m, luma) = scene(None, Some(4));
            f.apply(&mut m, &t, Some(&luma));
            kept.push((area(&m), m.data()[5 * 20 + 6]));
        }
        assert_eq!(f.blinks(), 1);
        assert_eq!(kept[0], (36, 1.0), "the first blinked frame keeps the whole person: {kept:?}");
        assert!((kept[1].1 - 0.75).abs() < 1e-6 && (kept[2].1 - 0.5).abs() < 1e-6, "{kept:?}");
        assert_eq!(kept[3].0, 0, "faded below half after three frames: {kept:?}");
        assert_eq!(kept[4].1, 0.0, "and gone after the hold: {kept:?}");
        // The model finding the person again ends the hold at once.
        let (mut m, luma) = scene(Some(5), Some(5));
        f.apply(&mut m, &t, Some(&luma));
        assert_eq!(area(&m), 36);

        // The same masks while the person walks out of the picture: no hold.
        let mut f = TemporalFilter::default();
        for _ in 0..3 {
            let (mut m, luma) = scene(Some(4), Some(4));
            f.apply(&mut m, &t, Some(&luma));
        }
        let (mut m, luma) = scene(None, None);
        f.apply(&mut m, &t, Some(&luma));
        assert_eq!((area(&m), f.blinks()), (0, 0), "a person who left is not held");
        // A person who moved a pixel and blinked is still held (the match tolerates motion).
        let mut f = TemporalFilter::default();
        let (mut m, luma) = scene(Some(4), Some(4));
        f.apply(&mut m, &t, Some(&luma));
        let (mut m, luma) = scene(None, Some(5));
        f.apply(&mut m, &t, Some(&luma));
        assert_eq!((area(&m), f.blinks()), (36, 1));
    }

    #[test]
    fn luma_samples_pixel_centres() {
        use crate::frame::{FrameRef, PixelFormat};
        // 4x2 RGB frame: left half black, right half white; sampled at 2x1.
        let mut px = vec![0u8; 4 * 2 * 3];
        for y in 0..2 {
            px[y * 12 + 6..y * 12 + 12].fill(255);
        }
        let frame = FrameRef::packed(&px, 4, 2, PixelFormat::Rgb8).expect("frame");
        let mut out = Vec::new();
        luma_at(frame, 2, 1, &mut out);
        assert_eq!(out, [0, 255]);
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
