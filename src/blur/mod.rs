//! Background blur that looks like a lens.
//!
//! # What it computes
//! An out-of-focus lens spreads every point of the background into a disc the size of its
//! aperture, so a small bright light becomes a bright, flat-topped circle. To get that look:
//!
//! * the blur runs in **linear light** (sRGB decoded), so bright points keep their energy and
//!   bloom into discs instead of fading into grey;
//! * the kernel is a **disc** of the requested radius ([`BlurKind::Disc`]) or a six-blade
//!   **hexagon** ([`BlurKind::Hexagon`]); a Gaussian ([`BlurKind::Gaussian`], σ = radius / 2,
//!   the same spread) is there for a softer look;
//! * clipped highlights are counted brighter than white before the blur
//!   ([`highlight_gain`], highlight bloom), so lights come out as bright discs, not grey ones;
//! * it is **mask-weighted and normalised**: every pixel contributes in proportion to how much
//!   it is background, `w = max(1 − mask, ε)`, and the result is `Σ k·w·c / Σ k·w`. Person pixels
//!   therefore never bleed into the blurred background (no halo), and at the image border the
//!   truncated kernel renormalises itself.
//!
//! # How it is made fast
//! A disc of radius `r` costs `O(r²)` per pixel done directly. Two tricks bring it down:
//!
//! 1. **Reduced resolution.** A wide blur has no fine detail to keep, so the weighted, linear
//!    frame is box-averaged by an integer factor `f = ⌈r / 12⌉` first; the disc then has a
//!    radius of at most 12 low-resolution pixels, and the result is upsampled bilinearly while
//!    compositing ([`BlurredBackground`]). With the default strength (a radius of 3% of the
//!    diagonal) that is a 320×180 image at 1280×720 (factor 4) and at 1920×1080 (factor 6):
//!    about the same size at every frame size.
//! 2. **Row prefix sums.** A disc is a stack of horizontal spans. With a prefix sum per row,
//!    each span is two lookups, so a pixel costs `2R + 1` span lookups instead of `πR²` taps.
//!    Prefix sums are kept in `f64` so long rows lose no precision in the subtraction. Without
//!    focus falloff every cell has the same aperture, and the pass goes span by span (two at a
//!    time) along whole rows of sums instead of cell by cell, so the inner loop has no index
//!    arithmetic or clamping away from the row's ends: the same sums, one core's blur stage at
//!    1080p ≈ 9.4 → 8.0 ms and at 640×360 4.9 → 3.0 ms (the low-resolution image, and so this
//!    pass, is about the same size at every frame size).
//!
//! 3. **SIMD where the CPU has it.** The downsampling (a table lookup per channel, the bloom's
//!    smoothstep and the weighted sums) runs eight pixels at a time in AVX2 (`x86.rs`), and the
//!    span sums are compiled for AVX2 as well (`src/simd.rs`); both give the portable loops'
//!    numbers bit for bit.
//!
//! All steps run in parallel over rows with rayon. [`reference`](mod@reference) is the plain, full-resolution,
//! direct-summation twin that the fast path is tested against.
//!
//! # Focus falloff
//! A real lens leaves the ground at the subject's feet as sharp as the subject and blurs the far
//! wall most. Without depth, [`BlurParams::falloff`] takes the distance from
//! the person as its stand-in: at the reduced resolution, cells that are mostly person seed an
//! exact Euclidean distance transform (integer squared distances, Felzenszwalb & Huttenlocher's
//! lower envelope per row after a pass per column), and each cell's aperture radius grows from 0
//! at the person to the full radius at the falloff distance (a smoothstep). The apertures come
//! from a table of levels 1/4 of a reduced pixel apart, and the level of a cell is looked up by
//! its integer squared distance, so the GPU (which computes the same integers another way) picks
//! the same aperture. Near the person the blur is then only the reduction's own softness
//! (`⌈radius / 12⌉` pixels).

mod params;
pub mod reference;
#[cfg(target_arch = "x86_64")]
mod x86;

pub(crate) use params::check_falloff;
pub use params::{BlurParams, BlurWeights};

use rayon::prelude::*;

use crate::color::decode_lut;
use crate::error::{Dims, Error, Result};
use crate::frame::FrameRef;
use crate::mask::Mask;

/// Weight of a pure person pixel in the background blur: small but non-zero, so a region with
/// no background at all still gets a defined (if unused) colour.
pub(crate) const PERSON_WEIGHT: f32 = 1e-3;

/// Largest disc radius, in low-resolution pixels, before the frame is reduced further.
const MAX_LOW_RADIUS: f32 = 12.0;

/// The shape of the blur kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[non_exhaustive]
pub enum BlurKind {
    /// A circular aperture: out-of-focus highlights become flat discs (the lens look).
    #[default]
    #[cfg_attr(feature = "clap", value(help = "Circular aperture: highlights become discs"))]
    Disc,
    /// A Gaussian with σ = radius / 2: softer, no visible highlight shapes.
    #[cfg_attr(feature = "clap", value(help = "Gaussian: smooth, no highlight shapes"))]
    Gaussian,
    /// A six-blade aperture: highlights become hexagons (flat top and bottom, corners left and
    /// right), as with many stopped-down lenses.
    #[cfg_attr(feature = "clap", value(help = "Six-blade aperture: highlights become hexagons"))]
    Hexagon,
}

/// Highlight bloom: how much brighter than white a clipped highlight is taken to be.
///
/// A camera clips a street light or a sunlit reflection at 255, though it was many times
/// brighter; spread over a disc by the blur, a clipped point then fades to a dim grey circle.
/// Before blurring, pixels whose brightest channel is near white (linear 0.9 to 1, codes 243 to
/// 255) are multiplied by up to `bloom` (a smoothstep in between), so out-of-focus highlights
/// come out as bright, flat discs as they do through a lens. `1` turns it off.
pub fn highlight_gain(max_linear: f32, bloom: f32) -> f32 {
    let t = ((max_linear - 0.9) * 10.0).clamp(0.0, 1.0);
    1.0 + (bloom - 1.0) * (t * t * (3.0 - 2.0 * t))
}

/// The background, blurred in linear light at a reduced resolution.
///
/// Sampled bilinearly at full resolution by the compositor, so the full-resolution blurred
/// image is never stored.
#[derive(Debug, Default, Clone)]
pub struct BlurredBackground {
    /// Low-resolution width.
    pub(crate) width: usize,
    /// Low-resolution height.
    pub(crate) height: usize,
    /// Reduction factor: one low-resolution pixel covers `factor × factor` frame pixels.
    pub(crate) factor: usize,
    /// Linear RGB, row-major.
    pub(crate) rgb: Vec<[f32; 3]>,
    /// `rgb` interpolated vertically to every frame row (frame height × low width): the
    /// compositor then only interpolates horizontally. Planar per row (the low width's red
    /// values, then green, then blue), so SIMD code loads eight neighbours of a channel at once.
    pub(crate) rows: Vec<f32>,
    /// Horizontal taps from frame columns into `rgb` columns.
    pub(crate) cols: Vec<Tap>,
    /// The same taps as planes for SIMD: `i0`, `i1` and `t`.
    pub(crate) col_taps: [Vec<i32>; 2],
    pub(crate) col_t: Vec<f32>,
    /// Weighted linear RGB and weight, then their blurred sums.
    low: Vec<[f32; 4]>,
    tmp: Vec<[f32; 4]>,
    prefix: Vec<[f64; 4]>,
    /// One low-resolution row of `f64` sums per task of the span pass without focus falloff.
    span_sums: Vec<[f64; 4]>,
    kernel: Vec<f32>,
    /// The apertures of every blur level (one level without focus falloff).
    apertures: Apertures,
    /// Per low-resolution cell: its aperture level (focus falloff), and distance scratch.
    cell_levels: Vec<u32>,
    dist: Vec<u64>,
}

/// Apertures for the disc passes: `spans` holds every level's half-widths one after the other,
/// `levels[k]` is level `k`'s (first span, number of spans), and `table[d²]` the level of a cell
/// at squared distance `d²` (low-resolution pixels) from the person; farther cells get the last
/// level. Without focus falloff there is one level and no table.
#[derive(Debug, Default, Clone)]
pub(crate) struct Apertures {
    pub(crate) spans: Vec<usize>,
    pub(crate) levels: Vec<(usize, usize)>,
    pub(crate) table: Vec<u32>,
    /// What they were made for: kind, radius and falloff (bits; 0 = none). Frames of a video
    /// ask for the same apertures again and again; they are made once.
    key: Option<(BlurKind, u32, u32)>,
}

/// Steps between the aperture radii of focus falloff, in low-resolution pixels.
const FALLOFF_STEP: f32 = 0.25;

impl Apertures {
    /// Makes these the apertures of `kind` for a blur of `radius` low-resolution pixels, growing
    /// from 0 at the person to `radius` at `falloff` low-resolution pixels from it when that is
    /// given (nothing to do when they already are).
    pub(crate) fn fill(&mut self, kind: BlurKind, radius: f32, falloff: Option<f32>) {
        let falloff = falloff.filter(|d| *d > 0.0);
        let key = (kind, radius.to_bits(), falloff.unwrap_or(0.0).to_bits());
        if self.key == Some(key) {
            return;
        }
        self.key = Some(key);
        let out = self;
        out.spans.clear();
        out.levels.clear();
        out.table.clear();
        let mut spans = Vec::new();
        let Some(falloff) = falloff else {
            aperture_spans(kind, radius, &mut out.spans);
            out.levels.push((0, out.spans.len()));
            return;
        };
        let last = (radius / FALLOFF_STEP).ceil() as u32;
        for k in 0..=last {
            aperture_spans(kind, (k as f32 * FALLOFF_STEP).min(radius), &mut spans);
            out.levels.push((out.spans.len(), spans.len()));
            out.spans.extend_from_slice(&spans);
        }
        let reach = (falloff * falloff).ceil() as usize + 1;
        out.table.extend((0..reach).map(|d2| {
            let t = ((d2 as f32).sqrt() / falloff).min(1.0);
            let r = radius * t * t * (3.0 - 2.0 * t);
            ((r / FALLOFF_STEP).round() as u32).min(last)
        }));
    }

    /// The level of a cell at squared distance `d2` from the person.
    pub(crate) fn level(&self, d2: u64) -> u32 {
        match usize::try_from(d2).ok().and_then(|i| self.table.get(i)) {
            Some(&k) => k,
            None => (self.levels.len() - 1) as u32,
        }
    }
}

/// "No person in reach" in the distance transform.
pub(crate) const FAR: u64 = u64::MAX / 4;

/// Squared Euclidean distance from every cell of a `w × h` grid to the nearest cell where
/// `seed` is true (`FAR` when there is none), in place in `out`.
pub(crate) fn distance_transform(w: usize, h: usize, seed: impl Fn(usize) -> bool + Sync, out: &mut Vec<u64>) {
    out.clear();
    out.resize(w * h, FAR);
    // Columns: the vertical distance to the nearest seed, squared.
    let mut cols = vec![FAR; w * h];
    cols.par_chunks_mut(h).enumerate().for_each(|(x, col)| {
        let mut last: Option<usize> = None;
        for (y, c) in col.iter_mut().enumerate() {
            if seed(y * w + x) {
                last = Some(y);
            }
            if let Some(l) = last {
                *c = ((y - l) * (y - l)) as u64;
            }
        }
        let mut next: Option<usize> = None;
        for y in (0..h).rev() {
            if seed(y * w + x) {
                next = Some(y);
            }
            if let Some(n) = next {
                col[y] = col[y].min(((n - y) * (n - y)) as u64);
            }
        }
    });
    // Rows: the lower envelope of the parabolas (x − q)² + f(q) (Felzenszwalb & Huttenlocher).
    out.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
        let f = |q: usize| cols[q * h + y];
        // v: the parabolas of the envelope, left to right; z[i]: where v[i] starts.
        let (mut v, mut z): (Vec<usize>, Vec<f64>) = (Vec::with_capacity(w), Vec::with_capacity(w + 1));
        let key = |q: usize| (f(q) + (q * q) as u64) as f64;
        for q in (0..w).filter(|&q| f(q) < FAR) {
            while let (Some(&p), Some(&start)) = (v.last(), z.last()) {
                let s = (key(q) - key(p)) / (2.0 * (q - p) as f64);
                if s > start {
                    v.push(q);
                    z.push(s);
                    break;
                }
                // The new parabola hides the top one entirely (never the first: it starts at −∞).
                v.pop();
                z.pop();
            }
            if v.is_empty() {
                v.push(q);
                z.push(f64::NEG_INFINITY);
            }
        }
        if v.is_empty() {
            return;
        }
        z.push(f64::INFINITY);
        let mut k = 0;
        for (x, o) in row.iter_mut().enumerate() {
            while z[k + 1] < x as f64 {
                k += 1;
            }
            let q = v[k];
            *o = (x.abs_diff(q) * x.abs_diff(q)) as u64 + f(q);
        }
    });
}

/// Where a full-resolution coordinate falls between two low-resolution samples.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tap {
    pub(crate) i0: usize,
    pub(crate) i1: usize,
    pub(crate) t: f32,
}

/// Bilinear taps for upsampling `low` samples by `factor` to `full` samples (pixel centres
/// aligned: full pixel `x` sits at low coordinate `(x + 0.5) / factor − 0.5`).
pub(crate) fn upsample_taps(low: usize, full: usize, factor: usize) -> impl Iterator<Item = Tap> {
    (0..full).map(move |x| upsample_tap(low, factor, x))
}

pub(crate) fn upsample_tap(low: usize, factor: usize, x: usize) -> Tap {
    let u = ((x as f32 + 0.5) / factor as f32 - 0.5).max(0.0);
    let i0 = (u.floor() as usize).min(low - 1);
    let i1 = (i0 + 1).min(low - 1);
    Tap { i0, i1, t: (u - i0 as f32).min(1.0) }
}

impl BlurredBackground {
    /// An empty value; [`BlurredBackground::compute`] fills it.
    pub fn new() -> Self {
        Self::default()
    }

    /// Linear RGB of the blurred background at reduced resolution, row-major, with its width,
    /// height and reduction factor.
    pub fn low_resolution(&self) -> (&[[f32; 3]], usize, usize, usize) {
        (&self.rgb, self.width, self.height, self.factor)
    }

    /// Blurs the background of `frame` (weighted by `1 − mask`, or what [`BlurParams::weights`]
    /// says; the mask must have the frame's size) as `params` say, reusing this value's buffers.
    pub fn compute(&mut self, frame: FrameRef<'_>, mask: &Mask, params: &BlurParams) -> Result<()> {
        let (expected, actual) = (Dims(frame.width(), frame.height()), Dims(mask.width(), mask.height()));
        if expected != actual {
            return Err(Error::SizeMismatch { what: "mask", expected, actual });
        }
        let plan = params.plan()?;
        let (kind, factor, low_radius) = (params.kind, plan.factor, plan.low_radius);
        self.downsample(frame, mask, factor, plan.bloom, params.weights);
        match kind {
            BlurKind::Disc | BlurKind::Hexagon => {
                self.apertures.fill(kind, low_radius, plan.low_falloff);
                self.cell_levels.clear();
                if !self.apertures.table.is_empty() {
                    // Cells that are mostly person (background weight under ½) seed the distances.
                    let low = &self.low;
                    distance_transform(self.width, self.height, |i| low[i][3] < 0.5, &mut self.dist);
                    let apertures = &self.apertures;
                    self.cell_levels.extend(self.dist.iter().map(|&d2| apertures.level(d2)));
                }
                self.spans_blur();
            }
            BlurKind::Gaussian => self.gaussian(low_radius / 2.0),
        }
        let low = &self.low;
        self.rgb.clear();
        self.rgb.extend(low.iter().map(|p| {
            let inv = if p[3] > 0.0 { 1.0 / p[3] } else { 0.0 };
            [p[0] * inv, p[1] * inv, p[2] * inv]
        }));
        self.prepare_upsampling(frame.width() as usize, frame.height() as usize);
        Ok(())
    }

    /// Fills `cols` and `rows` for sampling at frame size.
    fn prepare_upsampling(&mut self, full_w: usize, full_h: usize) {
        let (w, factor) = (self.width, self.factor);
        self.cols.clear();
        self.cols.extend(upsample_taps(w, full_w, factor));
        let [i0, i1] = &mut self.col_taps;
        i0.clear();
        i1.clear();
        self.col_t.clear();
        for tap in &self.cols {
            // Indices into a reduced frame width, far below `i32::MAX`.
            i0.push(tap.i0 as i32);
            i1.push(tap.i1 as i32);
            self.col_t.push(tap.t);
        }
        // Every value is written below: no clearing (4 MB of zeros a frame at 1080p).
        self.rows.resize(full_h * 3 * w, 0.0);
        let rgb = &self.rgb;
        let height = self.height;
        self.rows.par_chunks_mut(3 * w).enumerate().for_each(|(y, out)| {
            let tap = upsample_tap(height, factor, y);
            let (r0, r1) = (&rgb[tap.i0 * w..(tap.i0 + 1) * w], &rgb[tap.i1 * w..(tap.i1 + 1) * w]);
            for (x, (a, b)) in r0.iter().zip(r1).enumerate() {
                let v = lerp3(*a, *b, tap.t);
                for (c, v) in v.into_iter().enumerate() {
                    out[c * w + x] = v;
                }
            }
        });
    }

    /// The blurred background at frame column `x` of frame row `y` (as prepared by `compute`).
    #[inline(always)]
    pub(crate) fn sample(&self, row: &[f32], x: usize) -> [f32; 3] {
        let tap = self.cols[x];
        let w = self.width;
        let at = |c: usize, i: usize| row[c * w + i];
        let lerp = |c: usize| at(c, tap.i0) + (at(c, tap.i1) - at(c, tap.i0)) * tap.t;
        [lerp(0), lerp(1), lerp(2)]
    }

    /// The vertically interpolated low-resolution row for frame row `y`: planar, three
    /// channels of the low width (what [`Self::sample`] takes).
    pub(crate) fn row(&self, y: usize) -> &[f32] {
        &self.rows[y * 3 * self.width..(y + 1) * 3 * self.width]
    }

    /// Box-averages `w·linear(c)` and `w` over `factor × factor` blocks into `self.low`.
    fn downsample(&mut self, frame: FrameRef<'_>, mask: &Mask, factor: usize, bloom: f32, weights: BlurWeights) {
        let (fw, fh) = (frame.width() as usize, frame.height() as usize);
        let (lw, lh) = (fw.div_ceil(factor), fh.div_ceil(factor));
        self.width = lw;
        self.height = lh;
        self.factor = factor;
        self.low.clear();
        self.low.resize(lw * lh, [0.0; 4]);
        let lut = decode_lut();
        let bpp = frame.format().bytes_per_pixel();
        let [ro, go, bo] = frame.format().rgb_offsets();
        let m = mask.data();
        self.low.par_chunks_mut(lw).enumerate().for_each(|(ly, out)| {
            let y_end = ((ly + 1) * factor).min(fh);
            for y in ly * factor..y_end {
                let (row, masks) = (frame.row(y as u32), &m[y * fw..(y + 1) * fw]);
                #[cfg(target_arch = "x86_64")]
                let done = x86::accumulate_row(out, row, masks, frame.format(), factor, bloom, weights);
                #[cfg(not(target_arch = "x86_64"))]
                let done = 0;
                accumulate_row(out, row, masks, done, bpp, [ro, go, bo], factor, lut, bloom, weights);
            }
            let rows = (y_end - ly * factor) as f32;
            for (lx, acc) in out.iter_mut().enumerate() {
                let cols = (((lx + 1) * factor).min(fw) - lx * factor) as f32;
                let inv = 1.0 / (rows * cols);
                acc.iter_mut().for_each(|v| *v *= inv);
            }
        });
    }

    /// Convolution of `self.low` in place with the apertures in `self.apertures` (each cell's
    /// level in `self.cell_levels`, or level 0 everywhere when that is empty), through row prefix
    /// sums.
    fn spans_blur(&mut self) {
        let (w, h) = (self.width, self.height);
        // Every value is written below: no clearing (1.8 MB of zeros a frame at 1080p).
        self.prefix.resize(h * (w + 1), [0.0; 4]);
        let low = &self.low;
        self.prefix.par_chunks_mut(w + 1).zip(low.par_chunks(w)).for_each(|(p, row)| {
            p[0] = [0.0; 4];
            let mut acc = [0.0f64; 4];
            for (x, px) in row.iter().enumerate() {
                for c in 0..4 {
                    acc[c] += px[c] as f64;
                }
                p[x + 1] = acc;
            }
        });
        let (prefix, apertures, cell_levels) = (&self.prefix, &self.apertures, &self.cell_levels);
        if cell_levels.is_empty() {
            // One aperture for every cell: span by span along whole rows, a few rows of cells per
            // task, each with a row of sums.
            let (start, count) = apertures.levels.first().copied().unwrap_or((0, 0));
            let spans = &apertures.spans[start..start + count];
            let per_task = h.div_ceil(rayon::current_num_threads() * 4).max(1);
            self.span_sums.resize(h.div_ceil(per_task) * w, [0.0; 4]);
            let tasks = self.low.par_chunks_mut(per_task * w).zip(self.span_sums.par_chunks_mut(w));
            tasks.enumerate().for_each(|(task, (rows, sums))| {
                for (k, out) in rows.chunks_mut(w).enumerate() {
                    spans_row_uniform(out, sums, task * per_task + k, h, prefix, spans);
                }
            });
            return;
        }
        self.low.par_chunks_mut(w).enumerate().for_each(|(y, out)| {
            let levels = cell_levels.get(y * w..(y + 1) * w).unwrap_or(&[]);
            spans_row(out, y, h, prefix, apertures, levels);
        });
    }

    /// Separable Gaussian convolution of `self.low` in place.
    fn gaussian(&mut self, sigma: f32) {
        let (w, h) = (self.width, self.height);
        gaussian_kernel(sigma, &mut self.kernel);
        let kernel = &self.kernel;
        let reach = kernel.len() / 2;
        self.tmp.clear();
        self.tmp.resize(w * h, [0.0; 4]);
        let low = &self.low;
        self.tmp.par_chunks_mut(w).enumerate().for_each(|(y, out)| {
            let row = &low[y * w..(y + 1) * w];
            for (x, o) in out.iter_mut().enumerate() {
                let mut acc = [0.0f32; 4];
                let lo = x.saturating_sub(reach);
                let hi = (x + reach).min(w - 1);
                for (xx, px) in row.iter().enumerate().take(hi + 1).skip(lo) {
                    let k = kernel[xx + reach - x];
                    for c in 0..4 {
                        acc[c] += k * px[c];
                    }
                }
                *o = acc;
            }
        });
        let tmp = &self.tmp;
        self.low.par_chunks_mut(w).enumerate().for_each(|(y, out)| {
            out.fill([0.0; 4]);
            let lo = y.saturating_sub(reach);
            let hi = (y + reach).min(h - 1);
            for yy in lo..=hi {
                let k = kernel[yy + reach - y];
                for (o, px) in out.iter_mut().zip(&tmp[yy * w..(yy + 1) * w]) {
                    for c in 0..4 {
                        o[c] += k * px[c];
                    }
                }
            }
        });
    }
}

/// The reduction factor for a blur of `radius` frame pixels, and the radius at that reduced
/// resolution (at most [`MAX_LOW_RADIUS`]).
pub(crate) fn reduction(radius: f32) -> (usize, f32) {
    let factor = ((radius / MAX_LOW_RADIUS).ceil() as usize).max(1);
    (factor, radius / factor as f32)
}

/// Half-widths of the horizontal spans that make up a disc of `radius` pixels, from the top
/// row (`dy = −R`) to the bottom (`dy = R`): pixel `(dx, dy)` is inside when `dx² + dy² ≤ r²`.
pub(crate) fn disc_spans(radius: f32, spans: &mut Vec<usize>) {
    let r = radius.max(0.0);
    let reach = r.floor() as isize;
    spans.clear();
    spans.extend((-reach..=reach).map(|dy| ((r * r - (dy * dy) as f32).max(0.0).sqrt().floor()) as usize));
}

/// Half-widths of the spans of a regular hexagon of circumradius `radius` (corners left and
/// right, flat top and bottom), from the top row to the bottom: at height `dy` the half-width is
/// `r − |dy| / √3`, and the rows reach `r·√3/2`.
pub(crate) fn hexagon_spans(radius: f32, spans: &mut Vec<usize>) {
    let r = radius.max(0.0);
    let reach = (r * 3f32.sqrt() / 2.0).floor() as isize;
    spans.clear();
    spans.extend((-reach..=reach).map(|dy| (r - dy.unsigned_abs() as f32 / 3f32.sqrt()).max(0.0).floor() as usize));
}

/// The spans of `kind`'s aperture ([`BlurKind::Disc`] or [`BlurKind::Hexagon`]; a Gaussian has
/// none and gets the disc's).
pub(crate) fn aperture_spans(kind: BlurKind, radius: f32, spans: &mut Vec<usize>) {
    match kind {
        BlurKind::Hexagon => hexagon_spans(radius, spans),
        BlurKind::Disc | BlurKind::Gaussian => disc_spans(radius, spans),
    }
}

crate::simd::avx2_twin! {
    /// Row `y` (of `h`) of [`BlurredBackground::spans_blur`]: each cell the sum of its aperture's
    /// spans from the row prefix sums `prefix` (rows of `out.len() + 1`), the aperture picked by
    /// the cell's entry in `levels` (level 0 when `levels` is empty).
    fn spans_row(out: &mut [[f32; 4]], y: usize, h: usize, prefix: &[[f64; 4]], apertures: &Apertures, levels: &[u32]) {
        let w = out.len();
        for (x, o) in out.iter_mut().enumerate() {
            let level = levels.get(x).map_or(0, |&k| k as usize);
            let (start, count) = apertures.levels[level];
            let spans = &apertures.spans[start..start + count];
            let reach = count / 2;
            // Only the spans whose row lies inside the image.
            let first = reach.saturating_sub(y);
            let last = (h - 1 - y + reach).min(count - 1);
            let mut acc = [0.0f64; 4];
            for (k, &half) in spans.iter().enumerate().take(last + 1).skip(first) {
                add_span(&mut acc, &prefix[(y + k - reach) * (w + 1)..], x, half, w);
            }
            *o = [acc[0] as f32, acc[1] as f32, acc[2] as f32, acc[3] as f32];
        }
    }
}

/// Adds to `sum` the span of half-width `half` around cell `x` of a row of `w` cells, from the
/// row's prefix sums `p` (clamped to the row).
#[inline(always)]
fn add_span(sum: &mut [f64; 4], p: &[[f64; 4]], x: usize, half: usize, w: usize) {
    let (hi, lo) = (&p[(x + half + 1).min(w)], &p[x.saturating_sub(half)]);
    for c in 0..4 {
        sum[c] += hi[c] - lo[c];
    }
}

crate::simd::avx2_twin! {
    /// [`spans_row`] where every cell has the aperture `spans` (no focus falloff), two spans at a
    /// time along the whole row: `sums` (the row's width) holds the cells' sums between the
    /// passes, and the loop over the cells runs without per-cell index arithmetic or clamps
    /// except near the row's ends. Each cell gets the same additions in the same order as in
    /// `spans_row`: the same sums bit for bit.
    fn spans_row_uniform(out: &mut [[f32; 4]], sums: &mut [[f64; 4]], y: usize, h: usize, prefix: &[[f64; 4]], spans: &[usize]) {
        let w = out.len();
        let sums = &mut sums[..w];
        sums.fill([0.0; 4]);
        let count = spans.len();
        let reach = count / 2;
        // Only the spans whose row lies inside the image.
        let first = reach.saturating_sub(y);
        let last = (h - 1 - y + reach).min(count.saturating_sub(1));
        let row = |k: usize| &prefix[(y + k - reach) * (w + 1)..(y + k - reach + 1) * (w + 1)];
        let mut k = first;
        while count > 0 && k <= last {
            // Spans k and k + 1 (rows `p0`, `p1`, half-widths `h0`, `h1`); cells a..b read
            // both rows at x + half + 1 and x − half without clamping.
            let pair = k < last;
            let (p0, h0) = (row(k), spans[k]);
            let (p1, h1) = if pair { (row(k + 1), spans[k + 1]) } else { (p0, 0) };
            let half = h0.max(h1);
            let (a, b) = (half.min(w), w.saturating_sub(half).max(half.min(w)));
            let edge = |x: usize, s: &mut [f64; 4]| {
                add_span(s, p0, x, h0, w);
                if pair {
                    add_span(s, p1, x, h1, w);
                }
            };
            for (x, s) in sums.iter_mut().enumerate().take(a) {
                edge(x, s);
            }
            if a < b {
                let first_span = p0[a + h0 + 1..b + h0 + 1].iter().zip(&p0[a - h0..b - h0]);
                if pair {
                    let second_span = p1[a + h1 + 1..b + h1 + 1].iter().zip(&p1[a - h1..b - h1]);
                    for ((s, (hi0, lo0)), (hi1, lo1)) in sums[a..b].iter_mut().zip(first_span).zip(second_span) {
                        for c in 0..4 {
                            s[c] += hi0[c] - lo0[c];
                            s[c] += hi1[c] - lo1[c];
                        }
                    }
                } else {
                    for (s, (hi, lo)) in sums[a..b].iter_mut().zip(first_span) {
                        for c in 0..4 {
                            s[c] += hi[c] - lo[c];
                        }
                    }
                }
            }
            for (x, s) in sums.iter_mut().enumerate().skip(b) {
                edge(x, s);
            }
            k += if pair { 2 } else { 1 };
        }
        for (o, s) in out.iter_mut().zip(sums.iter()) {
            *o = [s[0] as f32, s[1] as f32, s[2] as f32, s[3] as f32];
        }
    }
}

/// Adds the weighted pixels of one frame row, from pixel `from` on, to the cells of its
/// low-resolution row (cell `i` covers pixels `i·factor .. (i + 1)·factor`); pixels are `bpp`
/// bytes with their colours at `offsets`.
#[allow(clippy::too_many_arguments)]
fn accumulate_row(
    out: &mut [[f32; 4]],
    row: &[u8],
    masks: &[f32],
    from: usize,
    bpp: usize,
    offsets: [usize; 3],
    factor: usize,
    lut: &[f32; 256],
    bloom: f32,
    weights: BlurWeights,
) {
    let first = from / factor;
    let (row, masks) = (row.get(first * factor * bpp..).unwrap_or(&[]), masks.get(first * factor..).unwrap_or(&[]));
    let blocks = row.chunks(factor * bpp).zip(masks.chunks(factor));
    let cells = out.iter_mut().skip(first).zip(blocks);
    for (i, (acc, (pixels, masks))) in cells.enumerate() {
        let skip = if i == 0 { from - first * factor } else { 0 };
        for (px, &m) in pixels.chunks_exact(bpp).zip(masks).skip(skip) {
            accumulate_pixel(acc, px, m, offsets, lut, bloom, weights);
        }
    }
}

/// Adds one pixel's weighted linear colour and weight to a cell's sums (what
/// [`x86::accumulate_row`] does eight pixels at a time).
#[inline(always)]
fn accumulate_pixel(
    acc: &mut [f32; 4],
    px: &[u8],
    m: f32,
    [ro, go, bo]: [usize; 3],
    lut: &[f32; 256],
    bloom: f32,
    weights: BlurWeights,
) {
    let w = background_weight(m, weights);
    let (r, g, b) = (lut[px[ro] as usize], lut[px[go] as usize], lut[px[bo] as usize]);
    let wg = if bloom > 1.0 { w * highlight_gain(r.max(g).max(b), bloom) } else { w };
    acc[0] += wg * r;
    acc[1] += wg * g;
    acc[2] += wg * b;
    acc[3] += w;
}

/// A pixel's weight in the background blur: `1 − m`, or `(1 − m)⁸` for the background-only
/// estimate; never below [`PERSON_WEIGHT`]. (The GPU computes the same products.)
#[inline(always)]
pub(crate) fn background_weight(m: f32, weights: BlurWeights) -> f32 {
    let w = 1.0 - m;
    let w = match weights {
        BlurWeights::BackgroundOnly => {
            let w2 = w * w;
            let w4 = w2 * w2;
            w4 * w4
        }
        BlurWeights::Background => w,
    };
    w.max(PERSON_WEIGHT)
}

/// The largest highlight bloom accepted.
pub const MAX_BLOOM: f32 = 64.0;

/// A normalised Gaussian kernel reaching 3σ each side (at least the centre tap).
pub(crate) fn gaussian_kernel(sigma: f32, k: &mut Vec<f32>) {
    k.clear();
    if sigma < 1e-3 {
        k.push(1.0);
        return;
    }
    let reach = (3.0 * sigma).ceil() as isize;
    k.extend((-reach..=reach).map(|d| (-(d * d) as f32 / (2.0 * sigma * sigma)).exp()));
    let sum: f32 = k.iter().sum();
    k.iter_mut().for_each(|v| *v /= sum);
}

#[inline(always)]
fn lerp3(a: [f32; 3], b: [f32; 3], t: f32) -> [f32; 3] {
    [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t]
}

#[cfg(test)]
mod tests;
