//! Plain reference blurs: full resolution, direct summation over the kernel, no tricks.
//!
//! These define what the fast paths in [`crate::blur`] approximate and are what the tests and
//! benchmarks compare them with. They share only the kernel shapes (disc spans, Gaussian taps)
//! and the background weighting with the fast code. Far too slow for real frames.

use super::{disc_spans, gaussian_kernel, PERSON_WEIGHT};
use crate::color::decode_lut;
use crate::frame::FrameRef;
use crate::mask::Mask;

/// Linear RGB weighted by background-ness, plus the weight: the blur's input.
fn weighted(frame: FrameRef<'_>, mask: &Mask) -> Vec<[f32; 4]> {
    let lut = decode_lut();
    let bpp = frame.format().bytes_per_pixel();
    let [ro, go, bo] = frame.format().rgb_offsets();
    let w = frame.width() as usize;
    let mut out = Vec::with_capacity(w * frame.height() as usize);
    for y in 0..frame.height() {
        for (x, px) in frame.row(y).chunks_exact(bpp).enumerate() {
            let wt = (1.0 - mask.data()[y as usize * w + x]).max(PERSON_WEIGHT);
            out.push([wt * lut[px[ro] as usize], wt * lut[px[go] as usize], wt * lut[px[bo] as usize], wt]);
        }
    }
    out
}

/// Convolves with arbitrary kernel taps `(dx, dy, k)` and normalises by the summed weight.
fn convolve(frame: FrameRef<'_>, mask: &Mask, taps: &[(isize, isize, f32)]) -> Vec<[f32; 3]> {
    let src = weighted(frame, mask);
    let (w, h) = (frame.width() as isize, frame.height() as isize);
    let mut out = Vec::with_capacity(src.len());
    for y in 0..h {
        for x in 0..w {
            let mut acc = [0.0f64; 4];
            for &(dx, dy, k) in taps {
                let (xx, yy) = (x + dx, y + dy);
                if xx >= 0 && xx < w && yy >= 0 && yy < h {
                    let p = src[(yy * w + xx) as usize];
                    for c in 0..4 {
                        acc[c] += k as f64 * p[c] as f64;
                    }
                }
            }
            out.push([(acc[0] / acc[3]) as f32, (acc[1] / acc[3]) as f32, (acc[2] / acc[3]) as f32]);
        }
    }
    out
}

/// Disc blur of the background of `frame` with a radius of `radius` pixels, in linear light.
/// Returns linear RGB per pixel, row-major.
pub fn disc_blur(frame: FrameRef<'_>, mask: &Mask, radius: f32) -> Vec<[f32; 3]> {
    let mut spans = Vec::new();
    disc_spans(radius, &mut spans);
    let reach = (spans.len() / 2) as isize;
    let mut taps = Vec::new();
    for (k, &half) in spans.iter().enumerate() {
        for dx in -(half as isize)..=half as isize {
            taps.push((dx, k as isize - reach, 1.0));
        }
    }
    convolve(frame, mask, &taps)
}

/// Gaussian blur (σ = radius / 2) of the background of `frame`, in linear light.
pub fn gaussian_blur(frame: FrameRef<'_>, mask: &Mask, radius: f32) -> Vec<[f32; 3]> {
    let mut k = Vec::new();
    gaussian_kernel(radius / 2.0, &mut k);
    let reach = (k.len() / 2) as isize;
    let mut taps = Vec::new();
    for (i, ky) in k.iter().enumerate() {
        for (j, kx) in k.iter().enumerate() {
            taps.push((j as isize - reach, i as isize - reach, kx * ky));
        }
    }
    convolve(frame, mask, &taps)
}
