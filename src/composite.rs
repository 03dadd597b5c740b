//! Compositing: the last stage, turning the frame, its mask and a background into the output.
//!
//! Colour contract: blending happens in linear light (`out = m·fg + (1 − m)·bg`), which keeps
//! soft edges from going dark; inputs and outputs are 8-bit sRGB with straight alpha, and an
//! input's alpha channel is copied through unchanged. Every function here works row by row in
//! parallel and writes each output byte exactly once.
//!
//! **Colour decontamination** (`replace` and `cutout`): an edge pixel of hair against a green
//! wall is a mix, `I = m·F + (1 − m)·B`, and pasting it over a new background as it is keeps
//! the wall's green in the hair. Given an estimate `B̂` of the old background near the pixel
//! (the mask-weighted blur of the frame, which never samples the person), the foreground colour
//! is recovered as `F = clamp((I − (1 − m)·B̂) / m, 0, 1)` and used in place of `I` — for the
//! blend (`m·F + (1 − m)·new`) and for the cut-out's colour (alpha stays `m`). The clamp bounds
//! what a poor estimate can do: at most `m` of the new pixel comes from `F`.

#[cfg(target_arch = "x86_64")]
mod x86;

use rayon::prelude::*;

use crate::blur::BlurredBackground;
use crate::color::{decode_lut, Encoder};
use crate::frame::{FrameMut, FrameRef, PixelFormat};
use crate::mask::Mask;

/// Blends one row: `out = encode(bg + m · (decode(src) − bg))` per channel, alpha copied.
#[inline(always)]
fn blend_row(
    out: &mut [u8],
    src: &[u8],
    mask: &[f32],
    format: PixelFormat,
    lut: &[f32; 256],
    enc: &Encoder,
    background: impl Fn(usize) -> [f32; 3],
) {
    let bpp = format.bytes_per_pixel();
    let offsets = format.rgb_offsets();
    let alpha = format.alpha_offset();
    for (x, ((o, s), &m)) in out.chunks_exact_mut(bpp).zip(src.chunks_exact(bpp)).zip(mask).enumerate() {
        if m >= 1.0 {
            // All person: the blend would give back the source codes exactly (every code
            // round-trips through decode and encode), so they are copied.
            o.copy_from_slice(s);
            continue;
        }
        let bg = background(x);
        if m <= 0.0 {
            // All background: `bg + 0 · (…)` is `bg`, without decoding the source.
            for c in 0..3 {
                o[offsets[c]] = enc.encode(bg[c]);
            }
            if let Some(a) = alpha {
                o[a] = s[a];
            }
            continue;
        }
        for c in 0..3 {
            let b = bg[c];
            o[offsets[c]] = enc.encode(b + m * (lut[s[offsets[c]] as usize] - b));
        }
        if let Some(a) = alpha {
            o[a] = s[a];
        }
    }
}

/// `blur` mode: the person over their own blurred background.
pub(crate) fn blend_blurred(src: FrameRef<'_>, mask: &Mask, bg: &BlurredBackground, out: &mut FrameMut<'_>) {
    let (w, format, lut, enc) = (src.width() as usize, src.format(), decode_lut(), Encoder::new());
    let bpp = format.bytes_per_pixel();
    let m = mask.data();
    out.rows_mut().enumerate().for_each(|(y, out_row)| {
        let (bg_row, src_row, m_row) = (bg.row(y), src.row(y as u32), &m[y * w..(y + 1) * w]);
        #[cfg(target_arch = "x86_64")]
        let done = {
            let [i0, i1] = &bg.col_taps;
            let taps = x86::Background::Taps { row: bg_row, taps: [i0, i1], t: &bg.col_t };
            x86::blend_row(out_row, src_row, m_row, format, lut, crate::color::encode_lut_padded(), taps)
        };
        #[cfg(not(target_arch = "x86_64"))]
        let done = 0;
        let (out_row, src_row, m_row) = (&mut out_row[done * bpp..], &src_row[done * bpp..], &m_row[done..]);
        blend_row(out_row, src_row, m_row, format, lut, &enc, |x| bg.sample(bg_row, done + x));
    });
}

/// The least coverage whose colour is decontaminated: below it the pixel is invisible in a
/// cut-out (alpha rounds to 0), adds under 1/255 to a replaced background, and `1 / m` would only
/// amplify rounding (the CPU and GPU estimates of the old background differ in the last bits).
pub(crate) const DECONTAMINATE_FROM: f32 = 1.0 / 255.0;

/// The foreground colour of a mixed pixel: `clamp((i − (1 − m)·old) / m, 0, 1)`, or `i` as it
/// is below [`DECONTAMINATE_FROM`].
#[inline(always)]
pub(crate) fn decontaminated(i: f32, m: f32, old: f32) -> f32 {
    if m >= DECONTAMINATE_FROM {
        ((i - (1.0 - m) * old) / m).clamp(0.0, 1.0)
    } else {
        i
    }
}

/// `replace` mode: the person over a new background, already at frame size in linear RGB; with
/// `old` (the old background's estimate), edge colours are decontaminated first.
pub(crate) fn blend_replaced(
    src: FrameRef<'_>,
    mask: &Mask,
    bg: &[[f32; 3]],
    old: Option<&BlurredBackground>,
    out: &mut FrameMut<'_>,
) {
    let (w, format, lut, enc) = (src.width() as usize, src.format(), decode_lut(), Encoder::new());
    let m = mask.data();
    let Some(old) = old else {
        let bpp = format.bytes_per_pixel();
        out.rows_mut().enumerate().for_each(|(y, out_row)| {
            let (bg_row, src_row, m_row) = (&bg[y * w..(y + 1) * w], src.row(y as u32), &m[y * w..(y + 1) * w]);
            #[cfg(target_arch = "x86_64")]
            let done = x86::blend_row(
                out_row,
                src_row,
                m_row,
                format,
                lut,
                crate::color::encode_lut_padded(),
                x86::Background::Full(bg_row),
            );
            #[cfg(not(target_arch = "x86_64"))]
            let done = 0;
            let (out_row, src_row, m_row) = (&mut out_row[done * bpp..], &src_row[done * bpp..], &m_row[done..]);
            blend_row(out_row, src_row, m_row, format, lut, &enc, |x| bg_row[done + x]);
        });
        return;
    };
    let (bpp, offsets, alpha) = (format.bytes_per_pixel(), format.rgb_offsets(), format.alpha_offset());
    out.rows_mut().enumerate().for_each(|(y, out_row)| {
        let (bg_row, old_row, m_row) = (&bg[y * w..(y + 1) * w], old.row(y), &m[y * w..(y + 1) * w]);
        let src_row = src.row(y as u32);
        for (x, (o, s)) in out_row.chunks_exact_mut(bpp).zip(src_row.chunks_exact(bpp)).enumerate() {
            let (b, mv) = (bg_row[x], m_row[x]);
            let ob = old.sample(old_row, x);
            for c in 0..3 {
                let f = decontaminated(lut[s[offsets[c]] as usize], mv, ob[c]);
                o[offsets[c]] = enc.encode(b[c] + mv * (f - b[c]));
            }
            if let Some(a) = alpha {
                o[a] = s[a];
            }
        }
    });
}

/// `cutout` mode: RGBA with the mask as (straight) alpha, multiplied by any input alpha; with
/// `old`, the colour of edge pixels (`0 < m < 1`) is decontaminated.
pub(crate) fn cutout(src: FrameRef<'_>, mask: &Mask, old: Option<&BlurredBackground>, out: &mut FrameMut<'_>) {
    debug_assert_eq!(out.format(), PixelFormat::Rgba8);
    let w = src.width() as usize;
    let bpp = src.format().bytes_per_pixel();
    let [ro, go, bo] = src.format().rgb_offsets();
    let alpha = src.format().alpha_offset();
    let m = mask.data();
    let (lut, enc) = (decode_lut(), Encoder::new());
    out.rows_mut().enumerate().for_each(|(y, out_row)| {
        let src_row = src.row(y as u32);
        let old_row = old.map(|o| o.row(y));
        for (x, (o, s)) in out_row.chunks_exact_mut(4).zip(src_row.chunks_exact(bpp)).enumerate() {
            let a = alpha.map_or(1.0, |a| s[a] as f32 / 255.0);
            let mv = m[y * w + x];
            match (old, old_row) {
                (Some(old), Some(row)) if (DECONTAMINATE_FROM..1.0).contains(&mv) => {
                    let ob = old.sample(row, x);
                    for (c, off) in [ro, go, bo].into_iter().enumerate() {
                        o[c] = enc.encode(decontaminated(lut[s[off] as usize], mv, ob[c]));
                    }
                }
                _ => {
                    o[0] = s[ro];
                    o[1] = s[go];
                    o[2] = s[bo];
                }
            }
            o[3] = (mv.clamp(0.0, 1.0) * a * 255.0).round() as u8;
        }
    });
}

/// `mask` mode: the mask as 8-bit grey, 255 = person.
pub(crate) fn write_mask(mask: &Mask, out: &mut FrameMut<'_>) {
    debug_assert_eq!(out.format(), PixelFormat::Gray8);
    let w = mask.width() as usize;
    let m = mask.data();
    out.rows_mut().enumerate().for_each(|(y, out_row)| {
        for (o, &v) in out_row.iter_mut().zip(&m[y * w..(y + 1) * w]) {
            *o = (v.clamp(0.0, 1.0) * 255.0).round() as u8;
        }
    });
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A small deterministic generator (xorshift) for test data.
    pub(crate) fn noise(seed: u32) -> impl FnMut() -> u32 {
        let mut s = seed.max(1);
        move || {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            s
        }
    }

    /// The AVX2 blend writes the portable loop's bytes exactly — every format, blur reductions
    /// that take its permute path (factor ≥ 2) and its gather path (factor 1, row ends), a
    /// background at frame width, and masks that are 0, 1, outside 0..=1, NaN or in between.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_avx2_blend_gives_the_portable_bytes() {
        if !std::arch::is_x86_feature_detected!("avx2") {
            eprintln!("skipped: this CPU has no AVX2");
            return;
        }
        let (lut, enc, padded) = (decode_lut(), Encoder::new(), crate::color::encode_lut_padded());
        let mut next = noise(7);
        let w = 203; // not a multiple of 8: the portable loop finishes each row
        let specials = [0.0, 1.0, -0.25, 1.5, f32::NAN, 0.5, 1.0 - f32::EPSILON, f32::MIN_POSITIVE];
        for format in [PixelFormat::Rgb8, PixelFormat::Rgba8, PixelFormat::Bgra8] {
            let bpp = format.bytes_per_pixel();
            for factor in [1, 2, 3, 6, 13] {
                let src: Vec<u8> = (0..w * bpp).map(|_| next() as u8).collect();
                let mask: Vec<f32> = (0..w)
                    .map(|_| match next() % 4 {
                        0 => specials[next() as usize % specials.len()],
                        _ => (next() % 10_000) as f32 / 9_999.0,
                    })
                    .collect();
                let low = w.div_ceil(factor);
                // Linear values, some above 1 as highlight bloom makes them.
                let row: Vec<f32> = (0..3 * low).map(|_| (next() % 3_000) as f32 / 1_000.0).collect();
                let taps: Vec<_> = crate::blur::upsample_taps(low, w, factor).collect();
                let sample = |x: usize| {
                    let tap = taps[x];
                    let lerp = |c: usize| {
                        let (a, b) = (row[c * low + tap.i0], row[c * low + tap.i1]);
                        a + (b - a) * tap.t
                    };
                    [lerp(0), lerp(1), lerp(2)]
                };
                let mut expected = vec![0u8; w * bpp];
                blend_row(&mut expected, &src, &mask, format, lut, &enc, sample);
                let [i0, i1]: [Vec<i32>; 2] = [0, 1].map(|k| taps.iter().map(|t| [t.i0, t.i1][k] as i32).collect());
                let t: Vec<f32> = taps.iter().map(|t| t.t).collect();
                let background = x86::Background::Taps { row: &row, taps: [&i0, &i1], t: &t };
                let mut got = vec![0u8; w * bpp];
                let done = x86::blend_row(&mut got, &src, &mask, format, lut, padded, background);
                assert!(done >= w - 16, "{format:?} factor {factor}: only {done} pixels in AVX2");
                blend_row(&mut got[done * bpp..], &src[done * bpp..], &mask[done..], format, lut, &enc, |x| {
                    sample(done + x)
                });
                assert_eq!(got, expected, "{format:?} factor {factor}");

                let full: Vec<[f32; 3]> = (0..w).map(sample).collect();
                let mut expected = vec![0u8; w * bpp];
                blend_row(&mut expected, &src, &mask, format, lut, &enc, |x| full[x]);
                let mut got = vec![0u8; w * bpp];
                let done = x86::blend_row(&mut got, &src, &mask, format, lut, padded, x86::Background::Full(&full));
                assert!(done >= w - 16, "{format:?} full background: only {done} pixels in AVX2");
                blend_row(&mut got[done * bpp..], &src[done * bpp..], &mask[done..], format, lut, &enc, |x| {
                    full[done + x]
                });
                assert_eq!(got, expected, "{format:?} full background");
            }
        }
    }

    /// The shortcuts for all-person and all-background pixels give exactly the bytes of the
    /// blend they skip (the GPU backend, which blends every pixel, relies on it).
    #[test]
    fn the_all_person_and_all_background_shortcuts_equal_the_full_blend() {
        let (lut, enc) = (decode_lut(), Encoder::new());
        let backgrounds = [[0.0, 0.5, 1.0], [0.013, 0.2, 0.73], [1.0, 0.0, 0.31]];
        for format in [PixelFormat::Rgb8, PixelFormat::Rgba8, PixelFormat::Bgra8] {
            let bpp = format.bytes_per_pixel();
            // Every code in every channel, with an alpha that differs from the colours.
            let src: Vec<u8> = (0..256 * bpp).map(|i| ((i / bpp) as u8).wrapping_add((i % bpp) as u8 * 85)).collect();
            for bg in backgrounds {
                for m in [0.0f32, 1.0] {
                    let mask = vec![m; 256];
                    let mut out = vec![0u8; src.len()];
                    blend_row(&mut out, &src, &mask, format, lut, &enc, |_| bg);
                    for (o, s) in out.chunks_exact(bpp).zip(src.chunks_exact(bpp)) {
                        for (c, off) in format.rgb_offsets().into_iter().enumerate() {
                            let full = enc.encode(bg[c] + m * (lut[s[off] as usize] - bg[c]));
                            assert_eq!(o[off], full, "{format:?} mask {m} code {} bg {bg:?}", s[off]);
                        }
                        if let Some(a) = format.alpha_offset() {
                            assert_eq!(o[a], s[a]);
                        }
                    }
                }
            }
        }
    }
}
