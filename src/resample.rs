//! Separable image resampling with a triangle (bilinear) filter.
//!
//! One resampler serves every size change in the pipeline: shrinking the frame to the model's
//! input, enlarging the model's mask to the frame, and fitting a replacement background. The
//! filter is a triangle with half-pixel centres; when shrinking, its support widens with the
//! scale factor so every source pixel contributes (antialiased, like PIL's `BILINEAR` and
//! OpenCV's `INTER_AREA` in spirit), and when enlarging it is exactly bilinear interpolation.
//! At the borders the taps that fall outside are dropped and the rest renormalised.
//!
//! Work is split in two passes, horizontal then vertical, each parallel over rows. The source is
//! read through a closure so frames in any pixel format feed the first pass without being
//! converted to floats first.

use rayon::prelude::*;

/// Filter taps for one axis: for output index `o`, the source indices
/// `starts[o] .. starts[o] + taps` weighted by `weights[o * taps ..][.. taps]` (zero-padded).
#[derive(Debug, Clone)]
pub(crate) struct Weights {
    pub(crate) taps: usize,
    pub(crate) starts: Vec<usize>,
    pub(crate) weights: Vec<f32>,
}

impl Weights {
    /// Triangle-filter taps mapping `src_len` samples onto `dst_len` samples.
    pub(crate) fn triangle(src_len: usize, dst_len: usize) -> Self {
        let scale = src_len as f64 / dst_len as f64;
        let support = scale.max(1.0);
        let taps = (2.0 * support).ceil() as usize + 2;
        let mut starts = Vec::with_capacity(dst_len);
        let mut weights = vec![0.0f32; dst_len * taps];
        for (o, row) in weights.chunks_exact_mut(taps).enumerate() {
            let center = (o as f64 + 0.5) * scale;
            // Every index `start + k` stays below `src_len` or gets weight zero, and the window
            // never starts so late that `start + taps` passes the end of a long enough source.
            let start = ((center - support).floor().max(0.0) as usize).min(src_len.saturating_sub(taps));
            let mut sum = 0.0;
            for (k, w) in row.iter_mut().enumerate() {
                let i = start + k;
                let d = ((i as f64 + 0.5 - center) / support).abs();
                let v = if i < src_len { (1.0 - d).max(0.0) } else { 0.0 };
                *w = v as f32;
                sum += v;
            }
            if sum > 0.0 {
                row.iter_mut().for_each(|w| *w = (*w as f64 / sum) as f32);
            } else {
                row[0] = 1.0;
            }
            starts.push(start);
        }
        Weights { taps, starts, weights }
    }

    fn row(&self, o: usize) -> (usize, &[f32]) {
        (self.starts[o], &self.weights[o * self.taps..(o + 1) * self.taps])
    }
}

/// Resamples a `src_w × src_h` image of `C`-channel pixels, read through `get(x, y)`, into
/// `dst` (`dst_w × dst_h × C` floats, interleaved). `tmp` is scratch space reused across calls.
pub(crate) fn resample<const C: usize, G>(
    src_w: usize,
    src_h: usize,
    get: G,
    dst_w: usize,
    dst_h: usize,
    dst: &mut [f32],
    tmp: &mut Vec<f32>,
) where
    G: Fn(usize, usize) -> [f32; C] + Sync,
{
    debug_assert_eq!(dst.len(), dst_w * dst_h * C);
    let wx = Weights::triangle(src_w, dst_w);
    let wy = Weights::triangle(src_h, dst_h);
    // Only the source rows some output row reads need the horizontal pass.
    let first_row = wy.starts.first().copied().unwrap_or(0);
    let last_row = wy.starts.last().map_or(0, |s| (s + wy.taps).min(src_h));
    tmp.clear();
    tmp.resize((last_row - first_row) * dst_w * C, 0.0);
    tmp.par_chunks_mut(dst_w * C).enumerate().for_each(|(r, out)| {
        let y = first_row + r;
        for (x, px) in out.chunks_exact_mut(C).enumerate() {
            let (start, w) = wx.row(x);
            let mut acc = [0.0f32; C];
            for (k, &wk) in w.iter().enumerate() {
                if wk != 0.0 {
                    let v = get(start + k, y);
                    for c in 0..C {
                        acc[c] += wk * v[c];
                    }
                }
            }
            px.copy_from_slice(&acc);
        }
    });
    let row_len = dst_w * C;
    let tmp = &*tmp;
    dst.par_chunks_mut(row_len).enumerate().for_each(|(y, out)| {
        let (start, w) = wy.row(y);
        out.fill(0.0);
        for (k, &wk) in w.iter().enumerate() {
            if wk != 0.0 {
                let r = start + k - first_row;
                let src = &tmp[r * row_len..(r + 1) * row_len];
                for (o, s) in out.iter_mut().zip(src) {
                    *o += wk * s;
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(src: &[f32], sw: usize, sh: usize, dw: usize, dh: usize) -> Vec<f32> {
        let mut dst = vec![0.0; dw * dh];
        let mut tmp = Vec::new();
        resample::<1, _>(sw, sh, |x, y| [src[y * sw + x]], dw, dh, &mut dst, &mut tmp);
        dst
    }

    #[test]
    fn same_size_is_identity() {
        let src: Vec<f32> = (0..35).map(|i| (i * 7 % 11) as f32).collect();
        assert_eq!(run(&src, 7, 5, 7, 5), src);
    }

    #[test]
    fn weights_sum_to_one_and_stay_in_range() {
        for (s, d) in [(1, 9), (9, 1), (256, 1280), (1280, 256), (720, 144), (3, 2), (5, 17)] {
            let w = Weights::triangle(s, d);
            for o in 0..d {
                let (start, row) = w.row(o);
                assert!(start + w.taps <= s.max(w.taps), "{s}->{d} o={o}");
                let sum: f32 = row.iter().sum();
                assert!((sum - 1.0).abs() < 1e-5, "{s}->{d} o={o} sum={sum}");
                for (k, &wk) in row.iter().enumerate() {
                    assert!(wk == 0.0 || start + k < s, "{s}->{d} o={o} reads past the end");
                }
            }
        }
    }

    #[test]
    fn enlarging_is_bilinear_with_half_pixel_centres() {
        // 2 -> 4: output centres at 0.25, 0.75, 1.25, 1.75 in source pixel units.
        let out = run(&[0.0, 1.0], 2, 1, 4, 1);
        let expected = [0.0, 0.25, 0.75, 1.0];
        for (o, e) in out.iter().zip(expected) {
            assert!((o - e).abs() < 1e-6, "{out:?}");
        }
    }

    #[test]
    fn shrinking_averages_instead_of_aliasing() {
        // A one-pixel checkerboard must turn grey, not into stripes.
        let src: Vec<f32> = (0..64 * 64).map(|i| ((i % 64 + i / 64) % 2) as f32).collect();
        let out = run(&src, 64, 64, 16, 16);
        for v in out {
            assert!((v - 0.5).abs() < 0.02, "{v}");
        }
    }
}
