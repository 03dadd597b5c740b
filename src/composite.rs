//! Compositing: the last stage, turning the frame, its mask and a background into the output.
//!
//! Colour contract: blending happens in linear light (`out = m·fg + (1 − m)·bg`), which keeps
//! soft edges from going dark; inputs and outputs are 8-bit sRGB with straight alpha, and an
//! input's alpha channel is copied through unchanged. Every function here works row by row in
//! parallel and writes each output byte exactly once.

use rayon::prelude::*;

use crate::blur::{for_each_in_row, upsample_taps, BlurredBackground, Tap};
use crate::color::{decode_lut, Encoder};
use crate::frame::{FrameMut, FrameRef, PixelFormat};
use crate::mask::Mask;

/// Blends `src` over a background supplied row by row in linear RGB by `background(y, row)`.
fn blend<B>(src: FrameRef<'_>, mask: &Mask, out: &mut FrameMut<'_>, background: B)
where
    B: Fn(usize, &mut [[f32; 3]]) + Sync,
{
    let w = src.width() as usize;
    let format = src.format();
    let bpp = format.bytes_per_pixel();
    let offsets = format.rgb_offsets();
    let alpha = format.alpha_offset();
    let lut = decode_lut();
    let enc = Encoder::new();
    let m = mask.data();
    out.rows_mut().enumerate().for_each_init(
        || vec![[0.0f32; 3]; w],
        |bg, (y, out_row)| {
            background(y, bg);
            let src_row = src.row(y as u32);
            let mrow = &m[y * w..(y + 1) * w];
            for (x, (o, s)) in out_row.chunks_exact_mut(bpp).zip(src_row.chunks_exact(bpp)).enumerate() {
                let mv = mrow[x];
                for (c, &off) in offsets.iter().enumerate() {
                    let b = bg[x][c];
                    o[off] = enc.encode(b + mv * (lut[s[off] as usize] - b));
                }
                if let Some(a) = alpha {
                    o[a] = s[a];
                }
            }
        },
    );
}

/// `blur` mode: the person over their own blurred background.
pub(crate) fn blend_blurred(src: FrameRef<'_>, mask: &Mask, bg: &BlurredBackground, out: &mut FrameMut<'_>) {
    let cols: Vec<Tap> = upsample_taps(bg.width, src.width() as usize, bg.factor).collect();
    let rows: Vec<Tap> = upsample_taps(bg.height, src.height() as usize, bg.factor).collect();
    blend(src, mask, out, |y, row| for_each_in_row(bg, rows[y], &cols, |x, v| row[x] = v));
}

/// `replace` mode: the person over a new background, already at frame size in linear RGB.
pub(crate) fn blend_replaced(src: FrameRef<'_>, mask: &Mask, bg: &[[f32; 3]], out: &mut FrameMut<'_>) {
    let w = src.width() as usize;
    blend(src, mask, out, |y, row| row.copy_from_slice(&bg[y * w..(y + 1) * w]));
}

/// `cutout` mode: RGBA with the mask as (straight) alpha, multiplied by any input alpha.
pub(crate) fn cutout(src: FrameRef<'_>, mask: &Mask, out: &mut FrameMut<'_>) {
    debug_assert_eq!(out.format(), PixelFormat::Rgba8);
    let w = src.width() as usize;
    let bpp = src.format().bytes_per_pixel();
    let [ro, go, bo] = src.format().rgb_offsets();
    let alpha = src.format().alpha_offset();
    let m = mask.data();
    out.rows_mut().enumerate().for_each(|(y, out_row)| {
        let src_row = src.row(y as u32);
        for (x, (o, s)) in out_row.chunks_exact_mut(4).zip(src_row.chunks_exact(bpp)).enumerate() {
            let a = alpha.map_or(1.0, |a| s[a] as f32 / 255.0);
            o[0] = s[ro];
            o[1] = s[go];
            o[2] = s[bo];
            o[3] = (m[y * w + x].clamp(0.0, 1.0) * a * 255.0).round() as u8;
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
