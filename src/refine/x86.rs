//! The guided filter's two full-resolution loops in AVX2, giving the portable loops' numbers
//! exactly.
//!
//! * **Block sums** ([`block_sums`]): eight blocks at a time, one lane per block. For each of the
//!   block's `factor` pixels in turn, one gather of the eight blocks' pixel words and one of
//!   their mask values; the colour codes are summed as integers (any order gives the same sum)
//!   and the mask values as `f32` in the block's pixel order, as the portable loop does.
//! * **`q = a·I + b`** ([`apply_row`]): eight pixels of a run at a time (a run's columns share
//!   their two coefficient samples). The run's coefficients are broadcast, each pixel's
//!   `(a + d·t)·code` terms are summed in the portable loop's order (separate multiplies, no
//!   fused multiply-add) and clamped to 0..=1 with a NaN kept as NaN (as `f32::clamp` does). A
//!   block reaching past its run's end writes pixels of the next run, which that run then writes
//!   again; the row's last pixels, where eight do not fit, are left to the portable loop.
//!
//! `unsafe` is confined here: the intrinsics need the CPU feature (checked at run time before
//! any is called) and the loads, stores and gathers take raw pointers, each inside bounds the
//! loop conditions check.
#![allow(unsafe_code)]

use std::arch::x86_64::*;

use super::CH;
use crate::blur::Tap;
use crate::frame::PixelFormat;
use crate::simd::x86::{block_span, channel, channel_shifts, pixel_words};

/// Adds the guide and mask sums of the row's first whole groups of eight `factor`-wide blocks
/// to `out` (fields 0..4, as the portable `block_sums` does) and returns how many blocks it
/// did (a multiple of 8; 0 without AVX2 or for grey frames). The portable loop does the rest.
pub(super) fn block_sums(
    out: &mut [[f32; CH]],
    row: &[u8],
    masks: &[f32],
    format: PixelFormat,
    factor: usize,
) -> usize {
    // Gather offsets must fit an i32: eight blocks' bytes well under 2 GiB.
    let small = factor.checked_mul(8 * format.bytes_per_pixel()).is_some_and(|b| b < i32::MAX as usize / 2);
    if format == PixelFormat::Gray8 || factor == 0 || !small {
        return 0;
    }
    if !std::arch::is_x86_feature_detected!("avx2") {
        return 0;
    }
    // SAFETY: the CPU has AVX2 (checked just above).
    unsafe { block_sums_avx2(out, row, masks, format, factor) }
}

/// The AVX2 loop of [`block_sums`].
///
/// # Safety
/// The CPU must support AVX2.
#[target_feature(enable = "avx2")]
unsafe fn block_sums_avx2(
    out: &mut [[f32; CH]],
    row: &[u8],
    masks: &[f32],
    format: PixelFormat,
    factor: usize,
) -> usize {
    let (bpp, shifts) = (format.bytes_per_pixel(), channel_shifts(format.rgb_offsets()));
    let lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    let byte_steps = _mm256_mullo_epi32(lanes, _mm256_set1_epi32((factor * bpp) as i32));
    let mask_steps = _mm256_mullo_epi32(lanes, _mm256_set1_epi32(factor as i32));
    let mut cell = 0;
    // Eight whole blocks whose pixels are in `masks` and whose last pixel's 32-bit word is in `row`.
    while cell + 8 <= out.len()
        && (cell + 8) * factor <= masks.len()
        && ((cell + 8) * factor - 1) * bpp + 4 <= row.len()
    {
        // SAFETY: every gathered word starts at a pixel of the eight blocks, at most
        // ((cell + 8)·factor − 1)·bpp, with its 4 bytes inside `row`; every mask index is below
        // (cell + 8)·factor ≤ masks.len(); `out[cell..cell + 8]` exists (loop condition).
        let (bytes, values) = (row.as_ptr().add(cell * factor * bpp), masks.as_ptr().add(cell * factor));
        let mut sums = [_mm256_setzero_si256(); 3];
        let mut p = _mm256_setzero_ps();
        for k in 0..factor {
            let words = _mm256_i32gather_epi32::<1>(bytes.add(k * bpp).cast(), byte_steps);
            for (sum, &shift) in sums.iter_mut().zip(&shifts) {
                *sum = _mm256_add_epi32(*sum, channel(words, shift));
            }
            p = _mm256_add_ps(p, _mm256_i32gather_ps::<4>(values.add(k), mask_steps));
        }
        // Integer sums to f32 as `as f32` rounds them (they are far below 2²⁴ anyway).
        let mut lanes_out = [[0.0f32; 8]; 4];
        for (dst, sum) in lanes_out.iter_mut().zip(sums) {
            _mm256_storeu_ps(dst.as_mut_ptr(), _mm256_cvtepi32_ps(sum));
        }
        _mm256_storeu_ps(lanes_out[3].as_mut_ptr(), p);
        for (i, o) in out[cell..cell + 8].iter_mut().enumerate() {
            for (field, lane) in o.iter_mut().zip(&lanes_out) {
                *field += lane[i];
            }
        }
        cell += 8;
    }
    cell
}

/// `q = a·I + b` for one frame row from its start, as the portable `apply_row` computes it (the
/// arguments are its arguments, with the taps' weights `col_t` as a plane), and returns how many
/// pixels it wrote (0 without AVX2 or for grey frames); the portable loop writes the rest.
pub(super) fn apply_row(
    out: &mut [f32],
    row: &[u8],
    rows: (&[[f32; 4]], &[[f32; 4]], f32),
    cols: &[Tap],
    col_t: &[f32],
    runs: &[(usize, usize)],
    format: PixelFormat,
) -> usize {
    let bpp = format.bytes_per_pixel();
    let fits = runs.last().is_none_or(|&(_, end)| end <= out.len() && end <= col_t.len() && end * bpp <= row.len());
    if format == PixelFormat::Gray8 || !fits {
        return 0;
    }
    if !std::arch::is_x86_feature_detected!("avx2") {
        return 0;
    }
    // SAFETY: the CPU has AVX2 (checked just above).
    unsafe { apply_row_avx2(out, row, rows, cols, col_t, runs, format) }
}

/// The AVX2 loop of [`apply_row`].
///
/// # Safety
/// The CPU must support AVX2; every run must end within `out`, `col_t` and `row`'s pixels.
#[target_feature(enable = "avx2")]
unsafe fn apply_row_avx2(
    out: &mut [f32],
    row: &[u8],
    (r0, r1, t): (&[[f32; 4]], &[[f32; 4]], f32),
    cols: &[Tap],
    col_t: &[f32],
    runs: &[(usize, usize)],
    format: PixelFormat,
) -> usize {
    let (bpp, shifts) = (format.bytes_per_pixel(), channel_shifts(format.rgb_offsets()));
    let span = block_span(bpp);
    let (zero, one) = (_mm256_setzero_ps(), _mm256_set1_ps(1.0));
    let vertical = |i: usize| -> [f32; 4] { std::array::from_fn(|c| r0[i][c] + (r1[i][c] - r0[i][c]) * t) };
    let pixels = out.len().min(col_t.len());
    for &(x0, x1) in runs {
        let (a, b) = (vertical(cols[x0].i0), vertical(cols[x0].i1));
        let s = 1.0 / 255.0;
        let a = [a[0] * s, a[1] * s, a[2] * s, a[3]];
        let d = [b[0] * s - a[0], b[1] * s - a[1], b[2] * s - a[2], b[3] - a[3]];
        let (av, dv) = (a.map(|v| _mm256_set1_ps(v)), d.map(|v| _mm256_set1_ps(v)));
        let mut x = x0;
        while x < x1 && x + 8 <= pixels && x * bpp + span <= row.len() {
            // SAFETY: pixels x..x + 8 are inside `out` and `col_t`, bytes x·bpp .. x·bpp + span
            // inside `row` (the loop condition).
            let words = pixel_words(row.as_ptr().add(x * bpp), bpp);
            let tv = _mm256_loadu_ps(col_t.as_ptr().add(x));
            let [r, g, b] = shifts.map(|shift| _mm256_cvtepi32_ps(channel(words, shift)));
            let coef = |c: usize| _mm256_add_ps(av[c], _mm256_mul_ps(dv[c], tv));
            let q = _mm256_add_ps(_mm256_mul_ps(coef(0), r), _mm256_mul_ps(coef(1), g));
            let q = _mm256_add_ps(_mm256_add_ps(q, _mm256_mul_ps(coef(2), b)), coef(3));
            // max_ps/min_ps return their second operand when either is NaN: a NaN stays NaN.
            let q = _mm256_min_ps(one, _mm256_max_ps(zero, q));
            _mm256_storeu_ps(out.as_mut_ptr().add(x), q);
            x += 8;
        }
        if x < x1 {
            // A block of eight no longer fits (the row's last pixels): the portable loop
            // finishes from here.
            return x;
        }
    }
    runs.last().map_or(0, |&(_, end)| end)
}
