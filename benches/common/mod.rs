//! Inputs shared by the benchmarks: the sample photo at the benchmark sizes, a fixed mask.
#![allow(dead_code, unreachable_pub, missing_docs)]

use bokeh::{Frame, Mask, PixelFormat};

pub const SIZES: [(u32, u32); 3] = [(640, 480), (1280, 720), (1920, 1080)];

const SAMPLE: &[u8] = include_bytes!("../../examples/data/grace_hopper.jpg");

/// The sample photo stretched to `w × h`, RGB.
pub fn frame(w: u32, h: u32) -> Frame {
    let img = image::load_from_memory(SAMPLE).expect("sample decodes").into_rgb8();
    let img = image::imageops::resize(&img, w, h, image::imageops::FilterType::Triangle);
    Frame::from_vec(img.into_raw(), w, h, PixelFormat::Rgb8).expect("frame")
}

/// A soft, person-like mask (centred ellipse with a soft edge) at `w × h`.
pub fn mask(w: u32, h: u32) -> Mask {
    let mut mask = Mask::new(w, h);
    for y in 0..h {
        for x in 0..w {
            let d = ((x as f32 / w as f32 - 0.5) / 0.25).powi(2) + ((y as f32 / h as f32 - 0.6) / 0.45).powi(2);
            mask.data_mut()[(y * w + x) as usize] = (1.5 - d.sqrt() * 1.5).clamp(0.0, 1.0);
        }
    }
    mask
}

pub fn label(w: u32, h: u32) -> String {
    format!("{w}x{h}")
}

/// Naive bilinear resize of a one-channel float image, coordinates computed per pixel.
pub fn naive_bilinear(src: &[f32], sw: usize, sh: usize, dw: usize, dh: usize, out: &mut [f32]) {
    for y in 0..dh {
        let v = ((y as f32 + 0.5) * sh as f32 / dh as f32 - 0.5).clamp(0.0, (sh - 1) as f32);
        let (y0, ty) = (v.floor() as usize, v.fract());
        let y1 = (y0 + 1).min(sh - 1);
        for x in 0..dw {
            let u = ((x as f32 + 0.5) * sw as f32 / dw as f32 - 0.5).clamp(0.0, (sw - 1) as f32);
            let (x0, tx) = (u.floor() as usize, u.fract());
            let x1 = (x0 + 1).min(sw - 1);
            let top = src[y0 * sw + x0] * (1.0 - tx) + src[y0 * sw + x1] * tx;
            let bottom = src[y1 * sw + x0] * (1.0 - tx) + src[y1 * sw + x1] * tx;
            out[y * dw + x] = top * (1.0 - ty) + bottom * ty;
        }
    }
}

/// Naive soft blend in sRGB space (what a quick numpy composite does).
pub fn naive_blend(fg: &[u8], bg: &[u8], mask: &[f32], out: &mut [u8]) {
    for (i, ((o, f), b)) in out.chunks_exact_mut(3).zip(fg.chunks_exact(3)).zip(bg.chunks_exact(3)).enumerate() {
        let a = mask[i];
        for c in 0..3 {
            o[c] = (f[c] as f32 * a + b[c] as f32 * (1.0 - a)) as u8;
        }
    }
}
