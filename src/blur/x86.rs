//! The blur's downsampling in AVX2, eight pixels at a time, giving the portable loop's sums
//! exactly.
//!
//! Per block of eight pixels of a frame row: one load of the pixel words
//! ([`crate::simd::x86::pixel_words`]), one load of the mask, three
//! gathers from the 256-entry decoding table, and the same `f32` operations in the same order
//! as [`super::accumulate_pixel`]: the background weight `max(1 − m, ε)` (or its eighth power),
//! the highlight gain's smoothstep, and the products `w·g·r`, `w·g·g`, `w·g·b` (separate
//! multiplies, no fused multiply-add). The four products of each pixel are then transposed into
//! one 128-bit vector per pixel and added, pixel after pixel in frame order, to the
//! accumulator of the cell the pixel falls in, kept in a register while the pixels stay in that
//! cell: each cell's sums see the same additions in the same order as in the portable loop.
//!
//! `f32::max` keeps the operand that is not NaN and `_mm256_max_ps(a, b)` returns `b` when
//! either is NaN, so `max_ps(w, ε)` is `w.max(ε)` for every input. The decoded colours are
//! finite, so the clamp and maxima of the highlight gain need no NaN care.
//!
//! `unsafe` is confined here: the intrinsics need the CPU feature (checked at run time before
//! any is called) and the loads, stores and gathers take raw pointers, each inside a block
//! whose bounds the loop condition checks; gather indices are masked to the table's 256 entries.
#![allow(unsafe_code)]

use std::arch::x86_64::*;

use super::{BlurWeights, PERSON_WEIGHT};
use crate::color::decode_lut;
use crate::frame::PixelFormat;
use crate::simd::x86::{block_span, channel, channel_shifts, pixel_words};

/// Adds the weighted pixels of one frame row to the cells of its low-resolution row, from the
/// row's start, for the longest run of whole 8-pixel blocks the kernel's reads fit, and returns
/// how many pixels it added (a multiple of 8; 0 without AVX2 or for grey frames). The portable
/// loop adds the rest.
///
/// `row` holds the row's pixels in `format`, `masks` the mask row, `out` the low-resolution row
/// (cell `i` covers pixels `i·factor .. (i + 1)·factor`).
pub(super) fn accumulate_row(
    out: &mut [[f32; 4]],
    row: &[u8],
    masks: &[f32],
    format: PixelFormat,
    factor: usize,
    bloom: f32,
    weights: BlurWeights,
) -> usize {
    if format == PixelFormat::Gray8 || factor == 0 || out.is_empty() {
        return 0;
    }
    if !std::arch::is_x86_feature_detected!("avx2") {
        return 0;
    }
    // SAFETY: the CPU has AVX2 (checked just above).
    unsafe { accumulate_row_avx2(out, row, masks, format, factor, bloom, weights) }
}

/// The AVX2 loop of [`accumulate_row`].
///
/// # Safety
/// The CPU must support AVX2.
#[target_feature(enable = "avx2")]
unsafe fn accumulate_row_avx2(
    out: &mut [[f32; 4]],
    row: &[u8],
    masks: &[f32],
    format: PixelFormat,
    factor: usize,
    bloom: f32,
    weights: BlurWeights,
) -> usize {
    let (bpp, lut) = (format.bytes_per_pixel(), decode_lut());
    let span = block_span(bpp);
    let pixels = masks.len().min(out.len() * factor);
    let shifts = channel_shifts(format.rgb_offsets());
    let (zero, one) = (_mm256_setzero_ps(), _mm256_set1_ps(1.0));
    let floor = _mm256_set1_ps(PERSON_WEIGHT);
    let (knee, ten, two, three) = (_mm256_set1_ps(0.9), _mm256_set1_ps(10.0), _mm256_set1_ps(2.0), _mm256_set1_ps(3.0));
    let boost = _mm256_set1_ps(bloom - 1.0);
    let (mut x, mut cell, mut left) = (0, 0, factor);
    let mut acc = _mm_loadu_ps(out[0].as_ptr());
    while x + 8 <= pixels && x * bpp + span <= row.len() {
        // SAFETY (every raw access in this block): pixels x..x + 8 are inside `masks`, bytes
        // x·bpp .. x·bpp + span inside `row` (the loop condition); table indices are masked to
        // 0..=255; `cell` stays below `out.len()` while pixels remain (x < pixels ≤ cells·factor).
        let words = pixel_words(row.as_ptr().add(x * bpp), bpp);
        let m = _mm256_loadu_ps(masks.as_ptr().add(x));
        let mut w = _mm256_sub_ps(one, m);
        if weights == BlurWeights::BackgroundOnly {
            let w2 = _mm256_mul_ps(w, w);
            let w4 = _mm256_mul_ps(w2, w2);
            w = _mm256_mul_ps(w4, w4);
        }
        let w = _mm256_max_ps(w, floor);
        let [r, g, b] = shifts.map(|shift| _mm256_i32gather_ps::<4>(lut.as_ptr(), channel(words, shift)));
        let wg = if bloom > 1.0 {
            let brightest = _mm256_max_ps(_mm256_max_ps(r, g), b);
            let t = _mm256_mul_ps(_mm256_sub_ps(brightest, knee), ten);
            let t = _mm256_min_ps(_mm256_max_ps(t, zero), one);
            let smooth = _mm256_mul_ps(_mm256_mul_ps(t, t), _mm256_sub_ps(three, _mm256_mul_ps(two, t)));
            _mm256_mul_ps(w, _mm256_add_ps(one, _mm256_mul_ps(boost, smooth)))
        } else {
            w
        };
        let (pr, pg, pb) = (_mm256_mul_ps(wg, r), _mm256_mul_ps(wg, g), _mm256_mul_ps(wg, b));
        // Transposed: per 128-bit lane, vector k holds pixel k's (r, g, b, w) (low lane: pixels
        // 0..4, high lane: 4..8).
        let (rg_lo, rg_hi) = (_mm256_unpacklo_ps(pr, pg), _mm256_unpackhi_ps(pr, pg));
        let (bw_lo, bw_hi) = (_mm256_unpacklo_ps(pb, w), _mm256_unpackhi_ps(pb, w));
        let v = [
            _mm256_shuffle_ps::<0x44>(rg_lo, bw_lo),
            _mm256_shuffle_ps::<0xEE>(rg_lo, bw_lo),
            _mm256_shuffle_ps::<0x44>(rg_hi, bw_hi),
            _mm256_shuffle_ps::<0xEE>(rg_hi, bw_hi),
        ];
        let low = [0, 1, 2, 3].map(|k| _mm256_castps256_ps128(v[k]));
        let high = [0, 1, 2, 3].map(|k| _mm256_extractf128_ps::<1>(v[k]));
        for p in low.into_iter().chain(high) {
            acc = _mm_add_ps(acc, p);
            left -= 1;
            if left == 0 {
                _mm_storeu_ps(out.as_mut_ptr().add(cell).cast(), acc);
                cell += 1;
                left = factor;
                if cell < out.len() {
                    acc = _mm_loadu_ps(out.as_ptr().add(cell).cast());
                }
            }
        }
        x += 8;
    }
    if left != factor {
        // SAFETY: a cell partly added to is a cell of `out` (its first pixel was below `pixels`).
        _mm_storeu_ps(out.as_mut_ptr().add(cell).cast(), acc);
    }
    x
}
