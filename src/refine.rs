//! Edge-aware mask refinement: the frame itself decides where the mask's edges go.
//!
//! The model sees the frame at 256 pixels across, so its mask, upsampled, has soft, blobby edges
//! that ignore the picture: a shoulder's outline drifts a few pixels into the wall, hair is
//! either cut off or a grey cloud. [`Refine`] fixes that with a **fast guided filter** (He & Sun,
//! "Fast Guided Filter", 2015) using the full-resolution frame as the guide:
//!
//! * Within every window, the refined mask is modelled as a linear function of the frame's colour,
//!   `q = a·I + b` (`a` a 3-vector, colour guide). Least squares over the window with a ridge term
//!   `eps` gives `a = (Σ_I + eps·1)⁻¹ cov(I, p)` and `b = mean(p) − a·mean(I)`. Where the window
//!   holds one flat colour, `a ≈ 0` and the mask is just smoothed; where an edge in the frame
//!   crosses it, the mask's transition snaps onto that edge — soft where the picture is soft
//!   (hair against sky), sharp where it is sharp.
//! * **Fast**: `a` and `b` vary slowly, so they are computed on a copy of the guide and mask
//!   box-averaged by an integer factor `s` (≈ radius / 2, so the window is 5×5 there) and
//!   upsampled bilinearly; only the block sums and the final `q = a·I + b` touch every pixel.
//!   On x86-64 with AVX2 those two loops run as hand-written kernels (`refine/x86.rs`: gathers
//!   eight blocks at a time, eight pixels of a run at a time) with the portable loops' numbers
//!   bit for bit; elsewhere the portable loops get the pixel size as a constant, so they
//!   vectorise. Everything is parallel over rows, and the buffers are reused between frames.
//! * **GPU twin**: `shaders/refine.wgsl` does the same steps in the same summation order, so
//!   on a GPU the mask never visits the CPU (Mesa's lavapipe matches this code bit for bit).
//! * **Video**: with [`crate::Temporal`] on, the window coefficients are smoothed over time with
//!   the mask's own rule; the guide's sensor noise would otherwise make refined edges shimmer
//!   (DAVIS flip rate with the refinement 1.57%, without it 1.33%; smoothing the
//!   coefficients took it from 1.89% when it came).
//! * The guide is the frame's sRGB values over 255 (what the model saw), not linear light: edges
//!   are judged as the eye sees them.
//!
//! After the filter, a **threshold/feather** ramp turns the soft mask into a harder or softer one:
//! `m' = clamp((q − threshold) / feather + ½, 0, 1)`. The defaults (0.5, 1.0) leave the guided
//! result as it is; a smaller feather gives crisper edges.
//!
//! Measured on `../shared/testdata/photos` (see `BENCHMARKS.md`): alone it raises boundary F from
//! 0.319 to 0.327; after the photo detail passes ([`crate::Options::detail_passes`]) from 0.385 to
//! 0.391. Cost at 1280×720 on two cores: 2.8 ms.

#[cfg(target_arch = "x86_64")]
mod x86;

use rayon::prelude::*;

use crate::blur::{upsample_tap, upsample_taps, Tap};
use crate::error::{Error, Result};
use crate::frame::FrameRef;
use crate::mask::Mask;
use crate::temporal::Temporal;

/// Edge-aware refinement settings (the method and its measurements: the docs of `src/refine.rs`).
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Refine {
    /// Guided-filter window radius as a fraction of the frame's diagonal (`0` turns the guided
    /// filter off and leaves only the threshold/feather ramp).
    pub radius: f32,
    /// Regularisation: how strong an edge in the frame must be to steer the mask (variance of
    /// the guide, on 0..1 values). Smaller follows fainter edges.
    pub eps: f32,
    /// Mask value that maps to ½ in the ramp.
    pub threshold: f32,
    /// Width of the ramp around the threshold: 1 keeps the mask's softness, smaller is crisper.
    pub feather: f32,
}

impl Default for Refine {
    fn default() -> Self {
        Refine { radius: Self::DEFAULT_RADIUS, eps: Self::DEFAULT_EPS, threshold: 0.5, feather: 1.0 }
    }
}

impl Refine {
    /// Default window radius: 1% of the diagonal (8 pixels on a 640×480 photo, 15 at 720p).
    pub const DEFAULT_RADIUS: f32 = 0.01;
    /// Default regularisation.
    pub const DEFAULT_EPS: f32 = 1e-4;

    /// Sets the threshold and feather of the ramp.
    pub fn with_ramp(mut self, threshold: f32, feather: f32) -> Self {
        self.threshold = threshold;
        self.feather = feather;
        self
    }

    /// Sets the guided-filter radius (fraction of the diagonal) and regularisation.
    pub fn with_guided(mut self, radius: f32, eps: f32) -> Self {
        self.radius = radius;
        self.eps = eps;
        self
    }

    /// Checks the values are usable.
    pub fn validate(&self) -> Result<()> {
        let ok = |v: f32, lo: f32, hi: f32| v.is_finite() && v >= lo && v <= hi;
        if !ok(self.radius, 0.0, 0.1) {
            return Err(Error::InvalidOption(format!("refine radius {} is outside 0..=0.1", self.radius)));
        }
        if !ok(self.eps, 1e-8, 1.0) {
            return Err(Error::InvalidOption(format!("refine eps {} is outside 1e-8..=1", self.eps)));
        }
        if !ok(self.threshold, 0.0, 1.0) {
            return Err(Error::InvalidOption(format!("refine threshold {} is outside 0..=1", self.threshold)));
        }
        if !ok(self.feather, 0.01, 1.0) {
            return Err(Error::InvalidOption(format!("refine feather {} is outside 0.01..=1", self.feather)));
        }
        Ok(())
    }

    /// Window radius in frame pixels for a `width × height` frame.
    pub fn radius_for(&self, width: u32, height: u32) -> f32 {
        self.radius * (width as f32).hypot(height as f32)
    }

    /// The reduction factor the coefficients are computed at and the window radius there, for a
    /// `width × height` frame; `None` when the window is under a pixel (no guided filter).
    pub(crate) fn reduction(&self, width: u32, height: u32) -> Option<(usize, usize)> {
        let radius = self.radius_for(width, height);
        (radius >= 1.0).then(|| {
            let factor = ((radius / LOW_RADIUS).round() as usize).max(1);
            (factor, ((radius / factor as f32).round() as usize).max(1))
        })
    }

    /// True when the threshold/feather ramp changes anything.
    pub(crate) fn has_ramp(&self) -> bool {
        self.threshold != 0.5 || self.feather < 1.0
    }
}

/// Window radius at the reduced resolution the coefficients are computed at: the reduction
/// factor is the full-resolution radius over this.
const LOW_RADIUS: f32 = 2.0;

/// Per-pixel sums the guided filter needs, at the reduced resolution.
const CH: usize = 13; // I (3), p, I·p (3), I·Iᵀ upper triangle (6)

/// The refinement stage with its scratch buffers, reused between frames (the [`crate::Pipeline`]
/// owns one; this is for callers with masks of their own, and for benchmarks).
#[derive(Debug, Default)]
pub struct Refiner {
    stats: Vec<[f32; CH]>,
    tmp: Vec<[f32; CH]>,
    coef: Vec<[f32; 4]>,
    coef_tmp: Vec<[f32; 4]>,
    /// Horizontal taps from frame columns into `coef` columns.
    cols: Vec<Tap>,
    /// The weights of `cols` as a plane (what the AVX2 loop loads).
    col_t: Vec<f32>,
    /// Runs of frame columns between the same two `coef` columns: `(start, end)`.
    runs: Vec<(usize, usize)>,
    /// The last frame's window coefficients and window mask means, for temporal smoothing.
    prev: Vec<[f32; 5]>,
}

impl Refiner {
    /// An empty refiner (buffers grow on first use).
    pub fn new() -> Self {
        Self::default()
    }

    /// Refines `mask`, which must have `frame`'s size, in place with `frame` as the guide.
    pub fn refine(&mut self, frame: FrameRef<'_>, mask: &mut Mask, refine: &Refine) -> Result<()> {
        self.apply(frame, mask, refine, None)
    }

    /// Forgets the last frame (after a cut, or when smoothing is turned off).
    pub(crate) fn reset(&mut self) {
        self.prev.clear();
    }

    /// Refines `mask` (frame size) in place with `frame` as the guide. With `temporal`, the
    /// window coefficients are smoothed over time like the mask ([`Temporal`]): the guide's noise
    /// would otherwise make the refined edges shimmer from frame to frame.
    pub(crate) fn apply(
        &mut self,
        frame: FrameRef<'_>,
        mask: &mut Mask,
        refine: &Refine,
        temporal: Option<&Temporal>,
    ) -> Result<()> {
        refine.validate()?;
        let (w, h) = (frame.width() as usize, frame.height() as usize);
        if mask.width() as usize != w || mask.height() as usize != h {
            return Err(Error::SizeMismatch {
                what: "mask",
                expected: crate::error::Dims(frame.width(), frame.height()),
                actual: crate::error::Dims(mask.width(), mask.height()),
            });
        }
        if let Some((factor, low_radius)) = refine.reduction(frame.width(), frame.height()) {
            self.guided(frame, mask, factor, low_radius, refine.eps, temporal);
        }
        if refine.has_ramp() {
            let (t, inv) = (refine.threshold, 1.0 / refine.feather);
            mask.data_mut().par_iter_mut().for_each(|v| *v = ((*v - t) * inv + 0.5).clamp(0.0, 1.0));
        }
        Ok(())
    }

    fn guided(
        &mut self,
        frame: FrameRef<'_>,
        mask: &mut Mask,
        factor: usize,
        radius: usize,
        eps: f32,
        temporal: Option<&Temporal>,
    ) {
        let (fw, fh) = (frame.width() as usize, frame.height() as usize);
        let (lw, lh) = (fw.div_ceil(factor), fh.div_ceil(factor));
        let bpp = frame.format().bytes_per_pixel();
        let offsets = frame.format().rgb_offsets();
        // 1. Box-average guide and mask by `factor`, then form the products.
        self.stats.clear();
        self.stats.resize(lw * lh, [0.0; CH]);
        let m = mask.data();
        self.stats.par_chunks_mut(lw).enumerate().for_each(|(ly, out)| {
            // Sums of the block's guide and mask in the first four fields, row by row.
            let (y0, y1) = (ly * factor, ((ly + 1) * factor).min(fh));
            for y in y0..y1 {
                let (row, mrow) = (frame.row(y as u32), &m[y * fw..(y + 1) * fw]);
                #[cfg(target_arch = "x86_64")]
                let done = x86::block_sums(out, row, mrow, frame.format(), factor);
                #[cfg(not(target_arch = "x86_64"))]
                let done = 0;
                match bpp {
                    1 => block_sums::<1>(out, row, mrow, done, factor, offsets),
                    3 => block_sums::<3>(out, row, mrow, done, factor, offsets),
                    _ => block_sums::<4>(out, row, mrow, done, factor, offsets),
                }
            }
            for (lx, o) in out.iter_mut().enumerate() {
                let n = ((y1 - y0) * (((lx + 1) * factor).min(fw) - lx * factor)) as f32;
                let (s, inv) = (1.0 / (255.0 * n), 1.0 / n);
                let (i, p) = ([o[0] * s, o[1] * s, o[2] * s], o[3] * inv);
                *o = [
                    i[0],
                    i[1],
                    i[2],
                    p,
                    i[0] * p,
                    i[1] * p,
                    i[2] * p,
                    i[0] * i[0],
                    i[0] * i[1],
                    i[0] * i[2],
                    i[1] * i[1],
                    i[1] * i[2],
                    i[2] * i[2],
                ];
            }
        });
        // 2. Window means of all of them.
        box_mean(&mut self.stats, &mut self.tmp, lw, lh, radius);
        // 3. Per-window linear coefficients.
        // Every value is written below: no clearing.
        self.coef.resize(lw * lh, [0.0; 4]);
        self.coef.par_iter_mut().zip(&self.stats).for_each(|(c, s)| *c = solve(s, eps));
        // 4. Averaged over the windows that cover each pixel.
        box_mean(&mut self.coef, &mut self.coef_tmp, lw, lh, radius);
        // 4b. Smoothed over time where the mask did not change much.
        match temporal {
            Some(t) if self.prev.len() == lw * lh => {
                let (min_w, inv_full) = (t.min_weight, 1.0 / t.full_change);
                self.coef.par_iter_mut().zip(&mut self.prev).zip(&self.stats).for_each(|((c, prev), s)| {
                    let w = ((s[3] - prev[4]).abs() * inv_full).clamp(min_w, 1.0);
                    for k in 0..4 {
                        c[k] = prev[k] + w * (c[k] - prev[k]);
                    }
                    *prev = [c[0], c[1], c[2], c[3], s[3]];
                });
            }
            Some(_) => {
                self.prev.clear();
                self.prev.extend(self.coef.iter().zip(&self.stats).map(|(c, s)| [c[0], c[1], c[2], c[3], s[3]]));
            }
            None => self.prev.clear(),
        }
        // 5. q = a·I + b at full resolution, a and b bilinear between reduced-resolution samples.
        self.cols.clear();
        self.cols.extend(upsample_taps(lw, fw, factor));
        self.col_t.clear();
        self.col_t.extend(self.cols.iter().map(|tap| tap.t));
        column_runs(&self.cols, &mut self.runs);
        let (coef, cols, runs) = (&self.coef, &self.cols, &self.runs);
        #[cfg(target_arch = "x86_64")]
        let col_t = &self.col_t;
        mask.data_mut().par_chunks_mut(fw).enumerate().for_each(|(y, out)| {
            let tap = upsample_tap(lh, factor, y);
            let rows = (&coef[tap.i0 * lw..(tap.i0 + 1) * lw], &coef[tap.i1 * lw..(tap.i1 + 1) * lw], tap.t);
            let row = frame.row(y as u32);
            #[cfg(target_arch = "x86_64")]
            let done = x86::apply_row(out, row, rows, cols, col_t, runs, frame.format());
            #[cfg(not(target_arch = "x86_64"))]
            let done = 0;
            // The pixel size as a constant lets the compiler unroll and vectorise the inner loop.
            match bpp {
                1 => apply_row::<1>(out, row, rows, cols, runs, done, offsets),
                3 => apply_row::<3>(out, row, rows, cols, runs, done, offsets),
                _ => apply_row::<4>(out, row, rows, cols, runs, done, offsets),
            }
        });
    }
}

/// Fills `runs` with the runs of frame columns whose taps interpolate between the same two
/// coefficient samples, `(start, end)`: the inner loop then has no gathers and the
/// coefficients' slopes are per run.
fn column_runs(cols: &[Tap], runs: &mut Vec<(usize, usize)>) {
    runs.clear();
    let mut start = 0;
    for x in 1..=cols.len() {
        if x == cols.len() || (cols[x].i0, cols[x].i1) != (cols[start].i0, cols[start].i1) {
            runs.push((start, x));
            start = x;
        }
    }
}

/// Adds one frame row's guide and mask to the sums of its `factor`-wide blocks (fields 0..4),
/// from block `from` on.
fn block_sums<const BPP: usize>(
    out: &mut [[f32; CH]],
    row: &[u8],
    mrow: &[f32],
    from: usize,
    factor: usize,
    [ro, go, bo]: [usize; 3],
) {
    let blocks = row.chunks(factor * BPP).zip(mrow.chunks(factor));
    for (o, (pixels, weights)) in out.iter_mut().zip(blocks).skip(from) {
        let (mut r, mut g, mut b, mut p) = (0u32, 0u32, 0u32, 0.0f32);
        for (px, &mv) in pixels.chunks_exact(BPP).zip(weights) {
            r += px[ro] as u32;
            g += px[go] as u32;
            b += px[bo] as u32;
            p += mv;
        }
        o[0] += r as f32;
        o[1] += g as f32;
        o[2] += b as f32;
        o[3] += p;
    }
}

/// `q = a·I + b` for one frame row from pixel `from` on: `(r0, r1, t)` are the two coefficient
/// rows around it and its vertical position between them, `cols` the horizontal taps and `runs`
/// the spans of columns sharing two samples (so the vertical interpolation happens once per run,
/// not per pixel).
fn apply_row<const BPP: usize>(
    out: &mut [f32],
    row: &[u8],
    (r0, r1, t): (&[[f32; 4]], &[[f32; 4]], f32),
    cols: &[Tap],
    runs: &[(usize, usize)],
    from: usize,
    [ro, go, bo]: [usize; 3],
) {
    let vertical = |i: usize| -> [f32; 4] { std::array::from_fn(|c| r0[i][c] + (r1[i][c] - r0[i][c]) * t) };
    for &(x0, x1) in runs.iter().filter(|&&(_, end)| end > from) {
        let (a, b) = (vertical(cols[x0].i0), vertical(cols[x0].i1));
        // Coefficients over 255 so the pixel codes need no scaling.
        let s = 1.0 / 255.0;
        let a = [a[0] * s, a[1] * s, a[2] * s, a[3]];
        let d = [b[0] * s - a[0], b[1] * s - a[1], b[2] * s - a[2], b[3] - a[3]];
        let x0 = x0.max(from);
        let pixels = row[x0 * BPP..x1 * BPP].chunks_exact(BPP);
        for ((o, px), tap) in out[x0..x1].iter_mut().zip(pixels).zip(&cols[x0..x1]) {
            let t = tap.t;
            let q = (a[0] + d[0] * t) * px[ro] as f32
                + (a[1] + d[1] * t) * px[go] as f32
                + (a[2] + d[2] * t) * px[bo] as f32
                + (a[3] + d[3] * t);
            *o = q.clamp(0.0, 1.0);
        }
    }
}

/// `a` (3) and `b` of one window from its means: `(Σ + eps·1) a = cov(I, p)`, `b = p̄ − a·Ī`.
fn solve(s: &[f32; CH], eps: f32) -> [f32; 4] {
    let (i, p) = ([s[0], s[1], s[2]], s[3]);
    let cov = [s[4] - i[0] * p, s[5] - i[1] * p, s[6] - i[2] * p];
    let (rr, rg, rb) = (s[7] - i[0] * i[0] + eps, s[8] - i[0] * i[1], s[9] - i[0] * i[2]);
    let (gg, gb, bb) = (s[10] - i[1] * i[1] + eps, s[11] - i[1] * i[2], s[12] - i[2] * i[2] + eps);
    // Symmetric 3×3 inverse by cofactors.
    let c00 = gg * bb - gb * gb;
    let c01 = rb * gb - rg * bb;
    let c02 = rg * gb - rb * gg;
    let c11 = rr * bb - rb * rb;
    let c12 = rb * rg - rr * gb;
    let c22 = rr * gg - rg * rg;
    let det = rr * c00 + rg * c01 + rb * c02;
    if det.is_nan() || det.abs() <= 1e-20 {
        return [0.0, 0.0, 0.0, p];
    }
    let inv = 1.0 / det;
    let a = [
        (c00 * cov[0] + c01 * cov[1] + c02 * cov[2]) * inv,
        (c01 * cov[0] + c11 * cov[1] + c12 * cov[2]) * inv,
        (c02 * cov[0] + c12 * cov[1] + c22 * cov[2]) * inv,
    ];
    [a[0], a[1], a[2], p - a[0] * i[0] - a[1] * i[1] - a[2] * i[2]]
}

/// Mean over the `(2r+1)²` window clipped to the image, in place (`tmp` is scratch): along rows,
/// then along columns, each a direct sum over the window in order (`r` is about 2 at the reduced
/// resolution, so a running sum would save little; the GPU sums in the same order). Both passes
/// are compiled for AVX2 too (`avx2_twin!`): the low-resolution steps are the same size at every
/// frame size, and scalar they took ≈ 1 ms of one core a frame.
fn box_mean<const N: usize>(data: &mut [[f32; N]], tmp: &mut Vec<[f32; N]>, w: usize, h: usize, r: usize) {
    // Every value is written below: no clearing.
    tmp.resize(w * h, [0.0; N]);
    tmp.par_chunks_mut(w).zip(data.par_chunks(w)).for_each(|(out, row)| box_mean_row::<N>(out, row, r));
    // Columns: each output row sums the `2r + 1` rows around it (whole rows keep the access
    // sequential).
    let tmp_ref = &*tmp;
    data.par_chunks_mut(w).enumerate().for_each(|(y, out)| {
        let (lo, hi) = (y.saturating_sub(r), (y + r).min(h - 1));
        box_mean_column::<N>(out, &tmp_ref[lo * w..(hi + 1) * w]);
    });
}

crate::simd::avx2_twin! {
    /// One row of [`box_mean`]'s first pass: `out[x]` the mean of `row[x − r ..= x + r]`, clipped
    /// to the row.
    fn box_mean_row<const N: usize>(out: &mut [[f32; N]], row: &[[f32; N]], r: usize) {
        let w = row.len();
        for (x, o) in out.iter_mut().enumerate() {
            let (lo, hi) = (x.saturating_sub(r), (x + r).min(w - 1));
            let inv = 1.0 / (hi - lo + 1) as f32;
            let mut acc = [0.0f32; N];
            for v in &row[lo..=hi] {
                for c in 0..N {
                    acc[c] += v[c];
                }
            }
            *o = std::array::from_fn(|c| acc[c] * inv);
        }
    }
}

crate::simd::avx2_twin! {
    /// One row of [`box_mean`]'s second pass: `out` the mean of the rows in `rows` (rows of
    /// `out.len()` cells, summed in order).
    fn box_mean_column<const N: usize>(out: &mut [[f32; N]], rows: &[[f32; N]]) {
        let w = out.len();
        let inv = 1.0 / (rows.len() / w) as f32;
        out.fill([0.0; N]);
        for row in rows.chunks_exact(w) {
            for (o, v) in out.iter_mut().zip(row) {
                for c in 0..N {
                    o[c] += v[c];
                }
            }
        }
        out.iter_mut().for_each(|o| o.iter_mut().for_each(|v| *v *= inv));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{Frame, PixelFormat};

    /// A frame whose left part is dark and right part bright, with a mask whose soft edge sits
    /// a few pixels off the picture's edge: the refined mask's 0.5 crossing moves onto the edge.
    #[test]
    fn mask_edge_snaps_to_the_picture_edge() {
        let (w, h, edge) = (120u32, 40u32, 60usize);
        let mut px = vec![0u8; (w * h * 3) as usize];
        for y in 0..h as usize {
            for x in 0..w as usize {
                let v = if x < edge { 40 } else { 210 };
                px[(y * w as usize + x) * 3..][..3].copy_from_slice(&[v, v / 2, v]);
            }
        }
        let frame = Frame::from_vec(px, w, h, PixelFormat::Rgb8).expect("frame");
        // Person on the right; the model's soft edge is centred 4 pixels left of the real one.
        let data = (0..h as usize)
            .flat_map(|_| (0..w as usize).map(|x| (((x as f32 - (edge as f32 - 4.0)) / 3.0).tanh() + 1.0) / 2.0))
            .collect();
        let mut mask = Mask::from_vec(data, w, h).expect("mask");
        let row = |m: &Mask| m.data()[20 * w as usize..21 * w as usize].to_vec();
        let crossing = |r: &[f32], level: f32| r.iter().position(|&v| v >= level).unwrap_or(r.len());
        let before = row(&mask);
        assert_eq!(crossing(&before, 0.5), edge - 4);
        let refine = Refine::default().with_guided(0.05, 1e-4);
        Refiner::default().apply(frame.as_ref(), &mut mask, &refine, None).expect("refine");
        let after = row(&mask);
        let step = |r: &[f32], x: usize| r[x] - r[x - 1];
        let biggest = |r: &[f32]| (1..r.len()).max_by(|&a, &b| step(r, a).total_cmp(&step(r, b))).unwrap_or(0);
        eprintln!(
            "0.5 crossing {} -> {}; biggest step {:.2} at {} -> {:.2} at {}",
            edge - 4,
            crossing(&after, 0.5),
            step(&before, biggest(&before)),
            biggest(&before),
            step(&after, biggest(&after)),
            biggest(&after)
        );
        assert!((edge - 2..=edge).contains(&crossing(&after, 0.5)), "the 0.5 crossing moved onto the picture's edge");
        assert_eq!(biggest(&after), edge, "the mask's sharpest change is at the picture's edge");
        assert!(step(&after, edge) > 0.3 && step(&before, biggest(&before)) < 0.2, "and it is a real step");
        // Flat regions keep their (smoothed) values: far left background, far right person.
        let row = &mask.data()[20 * w as usize..21 * w as usize];
        assert!(row[5] < 0.05 && row[115] > 0.95, "{} {}", row[5], row[115]);
    }

    #[test]
    fn ramp_sharpens_and_bad_values_are_refused() {
        let frame = Frame::new(4, 1, PixelFormat::Rgb8).expect("frame");
        let mut mask = Mask::from_vec(vec![0.3, 0.45, 0.55, 0.7], 4, 1).expect("mask");
        let refine = Refine::default().with_guided(0.0, 1e-4).with_ramp(0.5, 0.2);
        Refiner::default().apply(frame.as_ref(), &mut mask, &refine, None).expect("refine");
        let got: Vec<f32> = mask.data().iter().map(|v| (v * 100.0).round() / 100.0).collect();
        assert_eq!(got, [0.0, 0.25, 0.75, 1.0]);
        for bad in [Refine::default().with_ramp(0.5, 0.0), Refine::default().with_guided(f32::NAN, 1e-4)] {
            assert!(matches!(bad.validate(), Err(Error::InvalidOption(_))));
        }
    }
    /// The AVX2 block sums and `q = a·I + b` give the portable loops' numbers exactly — every
    /// colour format, reduction factors below and above the 8-pixel block, rows that are not a
    /// multiple of 8 or of the factor, coefficients that push `q` outside 0..=1, and masks with
    /// NaN, negative and above-one values.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_avx2_loops_give_the_portable_numbers() {
        if !std::arch::is_x86_feature_detected!("avx2") {
            eprintln!("skipped: this CPU has no AVX2");
            return;
        }
        let mut next = crate::composite::tests::noise(23);
        let mut unit = move || (next() % 20_001) as f32 / 10_000.0 - 0.5; // -0.5..=1.5
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        for format in [PixelFormat::Rgb8, PixelFormat::Rgba8, PixelFormat::Bgra8] {
            let (bpp, offsets) = (format.bytes_per_pixel(), format.rgb_offsets());
            for (w, factor) in [(203usize, 1usize), (203, 2), (203, 5), (203, 11), (64, 8), (203, 13), (300, 40)] {
                let row: Vec<u8> = (0..w * bpp).map(|_| (unit() * 200.0) as u8).collect();
                let mut masks: Vec<f32> = (0..w).map(|_| unit()).collect();
                masks[w / 3] = f32::NAN;
                let lw = w.div_ceil(factor);
                let (mut expected, mut got) = (vec![[1.0f32; CH]; lw], vec![[1.0f32; CH]; lw]);
                match bpp {
                    3 => block_sums::<3>(&mut expected, &row, &masks, 0, factor, offsets),
                    _ => block_sums::<4>(&mut expected, &row, &masks, 0, factor, offsets),
                }
                let done = x86::block_sums(&mut got, &row, &masks, format, factor);
                assert!(done > 0 || lw < 9, "{format:?} factor {factor}: no block in AVX2");
                match bpp {
                    3 => block_sums::<3>(&mut got, &row, &masks, done, factor, offsets),
                    _ => block_sums::<4>(&mut got, &row, &masks, done, factor, offsets),
                }
                let flat = |v: &[[f32; CH]]| v.iter().flatten().copied().collect::<Vec<_>>();
                assert_eq!(bits(&flat(&got)), bits(&flat(&expected)), "block sums, {format:?} factor {factor}");

                // Coefficients: colour slopes around ±4 so q leaves 0..=1 often.
                let coef: Vec<[f32; 4]> =
                    (0..2 * lw).map(|_| [unit() * 8.0 - 4.0, unit() * 8.0 - 4.0, unit() * 8.0 - 4.0, unit()]).collect();
                let rows = (&coef[..lw], &coef[lw..], 0.375);
                let cols: Vec<Tap> = upsample_taps(lw, w, factor).collect();
                let col_t: Vec<f32> = cols.iter().map(|tap| tap.t).collect();
                let mut runs = Vec::new();
                column_runs(&cols, &mut runs);
                let (mut expected, mut got) = (vec![0.0f32; w], vec![0.0f32; w]);
                match bpp {
                    3 => apply_row::<3>(&mut expected, &row, rows, &cols, &runs, 0, offsets),
                    _ => apply_row::<4>(&mut expected, &row, rows, &cols, &runs, 0, offsets),
                }
                let done = x86::apply_row(&mut got, &row, rows, &cols, &col_t, &runs, format);
                assert!(done >= w - 16, "{format:?} factor {factor}: only {done} pixels in AVX2");
                match bpp {
                    3 => apply_row::<3>(&mut got, &row, rows, &cols, &runs, done, offsets),
                    _ => apply_row::<4>(&mut got, &row, rows, &cols, &runs, done, offsets),
                }
                assert_eq!(bits(&got), bits(&expected), "q = a·I + b, {format:?} factor {factor}");
            }
        }
    }
}
