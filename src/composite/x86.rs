//! The composite's blend in AVX2, eight pixels at a time, giving the portable loop's bytes
//! exactly.
//!
//! Per block of eight pixels: one load of the source words (RGB's 24 bytes are spread to eight
//! 32-bit words with a byte shuffle per 128-bit lane), one load of the mask; per colour channel
//! the same `f32` operations in the same order as [`super::blend_row`] — the background
//! interpolated horizontally from its two taps (`a + (b − a)·t`: one load and two lane
//! permutes when the block's taps lie within eight neighbours, else two gathers), the source code
//! decoded (a gather from the 256-entry table), `bg + m·(l − bg)`, and the 14-bit encode (a
//! gather of 32-bit words from the byte table, padded so the last entry's word is inside it,
//! low byte kept). The portable loop's shortcuts become selects: `m ≥ 1` keeps the source
//! bytes, `m ≤ 0` (not NaN) encodes the background. Its saturating `as i32` becomes
//! `min(16383, s)` (which keeps a NaN) then a truncating conversion (a NaN gives `i32::MIN`)
//! and `max(0, ·)`: the same index for every input, NaN included.
//!
//! Memory per output pixel: the source and output bytes once, 4 bytes of mask, 12 bytes of
//! taps shared by a frame row's pixels, and table reads that stay in L1 (1 kB decode, 16 kB
//! encode, one low-resolution background row).
//!
//! `unsafe` is confined here: the AVX2 intrinsics need the CPU feature (checked at run time
//! before any is called) and the loads, stores and gathers take raw pointers, each inside a
//! block whose bounds the loop condition checks; gather indices are masked or clamped into
//! their tables.
#![allow(unsafe_code)]

use std::arch::x86_64::*;

use crate::color::{ENCODE_LEN, ENCODE_PADDING};
use crate::frame::PixelFormat;

/// Where a row's background comes from.
#[derive(Clone, Copy)]
pub(super) enum Background<'a> {
    /// A blurred background row at low width, planar (red, green, blue planes one after the
    /// other), and its horizontal taps as planes: both indices and the weight of the second.
    Taps { row: &'a [f32], taps: [&'a [i32]; 2], t: &'a [f32] },
    /// A background row at frame width (replace mode).
    Full(&'a [[f32; 3]]),
}

/// Blends the longest run of whole 8-pixel blocks from the start of the row that fit the
/// kernel's reads and writes, and returns how many pixels it wrote (a multiple of 8, 0 when the
/// CPU has no AVX2 or the format is grey); the portable loop blends the rest.
///
/// `enc` is the padded encoding table ([`crate::color::encode_lut_padded`]); `out` has the
/// format of `src`.
pub(super) fn blend_row(
    out: &mut [u8],
    src: &[u8],
    mask: &[f32],
    format: PixelFormat,
    lut: &[f32; 256],
    enc: &[u8],
    background: Background<'_>,
) -> usize {
    let empty = match background {
        Background::Taps { row, .. } => row.len() < 3,
        Background::Full(row) => row.is_empty(),
    };
    if format == PixelFormat::Gray8 || enc.len() < ENCODE_LEN + ENCODE_PADDING || empty {
        return 0;
    }
    if !std::arch::is_x86_feature_detected!("avx2") {
        return 0;
    }
    // SAFETY: the CPU has AVX2 (checked just above).
    unsafe { blend_row_avx2(out, src, mask, format, lut, enc, background) }
}

/// The AVX2 loop of [`blend_row`].
///
/// # Safety
/// The CPU must support AVX2.
#[target_feature(enable = "avx2")]
unsafe fn blend_row_avx2(
    out: &mut [u8],
    src: &[u8],
    mask: &[f32],
    format: PixelFormat,
    lut: &[f32; 256],
    enc: &[u8],
    background: Background<'_>,
) -> usize {
    let bpp = format.bytes_per_pixel();
    // Bytes a block reads and writes from its first pixel: RGB loads and stores two 16-byte
    // halves 12 bytes apart (the last 4 bytes written are the next pixels', written again later).
    let span = if bpp == 4 { 32 } else { 28 };
    let bytes = src.len().min(out.len());
    let (pixels, low_width) = match background {
        Background::Taps { row, taps: [i0, i1], t } => {
            (mask.len().min(i0.len()).min(i1.len()).min(t.len()), row.len() / 3)
        }
        Background::Full(row) => (mask.len().min(row.len()), 0),
    };
    let shifts = format.rgb_offsets().map(|o| _mm256_set1_epi32(8 * o as i32));
    let keep = match format.alpha_offset() {
        Some(a) => _mm256_set1_epi32((0xFFu32 << (8 * a)) as i32),
        None => _mm256_setzero_si256(),
    };
    // Within each 128-bit lane: RGB pixels at bytes 3k.. to 32-bit words, and back.
    let spread = _mm256_setr_epi8(
        0, 1, 2, -1, 3, 4, 5, -1, 6, 7, 8, -1, 9, 10, 11, -1, 0, 1, 2, -1, 3, 4, 5, -1, 6, 7, 8, -1, 9, 10, 11, -1,
    );
    let pack = _mm256_setr_epi8(
        0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1, 0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1,
    );
    let (zero, one, zero_i) = (_mm256_setzero_ps(), _mm256_set1_ps(1.0), _mm256_setzero_si256());
    let (scale, half, limit) =
        (_mm256_set1_ps(ENCODE_LEN as f32 - 1.0), _mm256_set1_ps(0.5), _mm256_set1_ps(ENCODE_LEN as f32 - 1.0));
    let byte = _mm256_set1_epi32(0xFF);
    let last_tap = _mm256_set1_epi32(low_width as i32 - 1);
    let lanes3 = _mm256_setr_epi32(0, 3, 6, 9, 12, 15, 18, 21);
    let enc_words = enc.as_ptr().cast::<i32>();
    let mut x = 0;
    while x + 8 <= pixels && x * bpp + span <= bytes {
        // SAFETY (every raw access in this block): pixels x..x + 8 are inside `mask` and the tap planes
        // (`x + 8 <= pixels`), bytes x·bpp .. x·bpp + span inside `src` and `out`; gather
        // indices: decode codes are masked to 0..=255, background taps clamped to the row (or
        // loaded from first..first + 8, checked inside it),
        // encode indices clamped to 0..ENCODE_LEN with ENCODE_PADDING bytes after the last.
        let at = x * bpp;
        let words = if bpp == 4 {
            _mm256_loadu_si256(src.as_ptr().add(at).cast())
        } else {
            let lo = _mm_loadu_si128(src.as_ptr().add(at).cast());
            let hi = _mm_loadu_si128(src.as_ptr().add(at + 12).cast());
            _mm256_shuffle_epi8(_mm256_set_m128i(hi, lo), spread)
        };
        let m = _mm256_loadu_ps(mask.as_ptr().add(x));
        let person = _mm256_castps_si256(_mm256_cmp_ps::<_CMP_GE_OQ>(m, one));
        let background_only = _mm256_cmp_ps::<_CMP_LE_OQ>(m, zero);
        let mut result = _mm256_and_si256(words, keep);
        // The background's taps: when the block's eight pixels fall between eight neighbouring
        // low-resolution pixels (a reduction factor of 2 or more, away from the row's end), one
        // load per channel and two in-register permutes; otherwise gathers.
        let (mut taps, mut near, mut t) = ([_mm256_setzero_si256(); 2], None, _mm256_setzero_ps());
        if let Background::Taps { taps: [i0, i1], t: weights, .. } = background {
            taps = [_mm256_loadu_si256(i0.as_ptr().add(x).cast()), _mm256_loadu_si256(i1.as_ptr().add(x).cast())];
            t = _mm256_loadu_ps(weights.as_ptr().add(x));
            let first = i0[x];
            if first >= 0 && first as usize + 8 <= low_width && i1[x + 7] - first <= 7 {
                let first_v = _mm256_set1_epi32(first);
                near = Some((first as usize, [_mm256_sub_epi32(taps[0], first_v), _mm256_sub_epi32(taps[1], first_v)]));
            } else {
                taps = taps.map(|i| _mm256_min_epi32(_mm256_max_epi32(i, zero_i), last_tap));
            }
        }
        for (c, &shift) in shifts.iter().enumerate() {
            let bg = match background {
                Background::Taps { row, .. } => {
                    let plane = row.as_ptr().add(c * low_width);
                    let (a, b) = match near {
                        Some((first, [p0, p1])) => {
                            let v = _mm256_loadu_ps(plane.add(first));
                            (_mm256_permutevar8x32_ps(v, p0), _mm256_permutevar8x32_ps(v, p1))
                        }
                        None => (_mm256_i32gather_ps::<4>(plane, taps[0]), _mm256_i32gather_ps::<4>(plane, taps[1])),
                    };
                    _mm256_add_ps(a, _mm256_mul_ps(_mm256_sub_ps(b, a), t))
                }
                Background::Full(row) => {
                    let base = row.as_ptr().cast::<f32>().add(c);
                    _mm256_i32gather_ps::<4>(base, _mm256_add_epi32(_mm256_set1_epi32(3 * x as i32), lanes3))
                }
            };
            let code = _mm256_and_si256(_mm256_srlv_epi32(words, shift), byte);
            let l = _mm256_i32gather_ps::<4>(lut.as_ptr(), code);
            let blend = _mm256_add_ps(bg, _mm256_mul_ps(m, _mm256_sub_ps(l, bg)));
            let v = _mm256_blendv_ps(blend, bg, background_only);
            let s = _mm256_min_ps(limit, _mm256_add_ps(_mm256_mul_ps(v, scale), half));
            let index = _mm256_max_epi32(_mm256_cvttps_epi32(s), zero_i);
            let code = _mm256_and_si256(_mm256_i32gather_epi32::<1>(enc_words, index), byte);
            result = _mm256_or_si256(result, _mm256_sllv_epi32(code, shift));
        }
        let result = _mm256_blendv_epi8(result, words, person);
        if bpp == 4 {
            _mm256_storeu_si256(out.as_mut_ptr().add(at).cast(), result);
        } else {
            let packed = _mm256_shuffle_epi8(result, pack);
            _mm_storeu_si128(out.as_mut_ptr().add(at).cast(), _mm256_castsi256_si128(packed));
            _mm_storeu_si128(out.as_mut_ptr().add(at + 12).cast(), _mm256_extracti128_si256::<1>(packed));
        }
        x += 8;
    }
    x
}
