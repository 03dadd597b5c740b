//! Small-subject video clips made from the shared photos, for the live path's tests.
//!
//! The shared video clip (dance-twirl) shows its dancer large; the live path fails where people
//! are small. These clips are built from `../shared/testdata/photos` and their hand-drawn masks:
//! a 16:9 virtual camera about 0.6 of the photo wide pans across a photo and zooms in and out
//! (±12%), so the people fill 2–10% of the frame and move across it, and the ground truth goes
//! through exactly the same window and sampling (bilinear). Only real pixels are used (no
//! compositing), so the model meets nothing a camera could not show it; the window is upscaled
//! about 1.6× (a digital zoom's softness). Two of the photos are small crowds (four and eight
//! people), whose union box a tracking crop cannot shrink much.
//!
//! Deterministic: the photos, the target sizes, the paths and [`SEED`] (which sets each clip's
//! phase and direction) fix every frame, so the clips are made at test time, not stored.

use std::path::Path;

/// Frames of each clip.
pub const FRAMES: usize = 64;
/// The clips' frame size (16:9).
pub const SIZE: (u32, u32) = (640, 360);
/// Fixes each clip's direction and phase.
pub const SEED: u64 = 0x5eed_b0c4;

/// The landscape photos whose people fill 0.6–3.1% of the photo (one to eight people): in a
/// window of about 0.6 of the photo's width they fill 2–10% of the frame, with room to pan.
pub const SOURCES: [&str; 6] = [
    "coco_train_000000000260",
    "coco_train_000000000532",
    "coco_train_000000000074",
    "coco_train_000000000061",
    "coco_train_000000000382",
    "coco_train_000000000531",
];

/// The window's width as a fraction of the widest 16:9 window the photo holds.
const ZOOM: f64 = 0.62;

/// One clip: RGB frames and their masks (8-bit, 255 = person), all [`SIZE`].
pub struct Clip {
    pub name: String,
    pub frames: Vec<Vec<u8>>,
    pub truth: Vec<Vec<u8>>,
}

/// A tiny deterministic generator (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) as f64 / u64::MAX as f64
    }
}

/// Bilinear sample of channel `c` of an interleaved `w × h × ch` image at `(x, y)` (pixel
/// centres at +0.5), edges replicated.
fn sample(img: &[u8], w: usize, h: usize, ch: usize, c: usize, x: f64, y: f64) -> f64 {
    let x = (x - 0.5).clamp(0.0, (w - 1) as f64);
    let y = (y - 0.5).clamp(0.0, (h - 1) as f64);
    let (x0, y0) = (x.floor() as usize, y.floor() as usize);
    let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
    let (fx, fy) = (x - x0 as f64, y - y0 as f64);
    let at = |xx: usize, yy: usize| img[(yy * w + xx) * ch + c] as f64;
    let top = at(x0, y0) * (1.0 - fx) + at(x1, y0) * fx;
    let bottom = at(x0, y1) * (1.0 - fx) + at(x1, y1) * fx;
    top * (1.0 - fy) + bottom * fy
}

/// Builds every clip from the photos under `shared/testdata/photos`.
pub fn make_all(shared: &Path) -> Vec<Clip> {
    let mut rng = Rng(SEED);
    SOURCES.iter().map(|&name| make(shared, name, &mut rng)).collect()
}

fn make(shared: &Path, name: &str, rng: &mut Rng) -> Clip {
    let dir = shared.join("testdata/photos");
    let photo = image::open(dir.join("images").join(format!("{name}.jpg"))).expect("photo").to_rgb8();
    let mask = image::open(dir.join("masks").join(format!("{name}.png"))).expect("mask").to_luma8();
    let (pw, ph) = (photo.width() as usize, photo.height() as usize);
    let (m, px) = (mask.as_raw(), photo.as_raw());
    // The people's bounding box in the photo.
    let (mut x0, mut y0, mut x1, mut y1) = (pw, ph, 0, 0);
    for (i, _) in m.iter().enumerate().filter(|(_, &v)| v >= 128) {
        let (x, y) = (i % pw, i / pw);
        (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x + 1), y1.max(y + 1));
    }
    assert!(x1 > x0, "{name}: no person in the mask");
    let aspect = SIZE.0 as f64 / SIZE.1 as f64;
    let max_w = (pw as f64).min(ph as f64 * aspect);
    let base_w = ZOOM * max_w;
    let (bx, by) = ((x0 + x1) as f64 / 2.0, (y0 + y1) as f64 / 2.0);
    let direction = if rng.next() < 0.5 { 1.0 } else { -1.0 };
    let phase = rng.next() * std::f64::consts::TAU;
    let (fw, fh) = (SIZE.0 as usize, SIZE.1 as usize);
    let mut frames = Vec::with_capacity(FRAMES);
    let mut truth = Vec::with_capacity(FRAMES);
    for t in 0..FRAMES {
        let s = t as f64 / (FRAMES - 1) as f64;
        // Zoom in and out by ±12%; the people travel from one side of the frame to the other
        // (as far as the photo reaches).
        let ww = (base_w * (1.0 + 0.12 * (std::f64::consts::TAU * s + phase).sin())).min(max_w);
        let wh = ww / aspect;
        let cx = bx + direction * ww * 0.35 * (1.0 - 2.0 * s);
        let cy = by + wh * 0.06 * (std::f64::consts::TAU * 2.0 * s + phase).sin();
        let left = (cx - ww / 2.0).clamp(0.0, pw as f64 - ww);
        let top = (cy - wh / 2.0).clamp(0.0, ph as f64 - wh);
        let (kx, ky) = (ww / fw as f64, wh / fh as f64);
        let mut frame = vec![0u8; fw * fh * 3];
        let mut gt = vec![0u8; fw * fh];
        for y in 0..fh {
            let sy = top + (y as f64 + 0.5) * ky;
            for x in 0..fw {
                let sx = left + (x as f64 + 0.5) * kx;
                for c in 0..3 {
                    frame[(y * fw + x) * 3 + c] = sample(px, pw, ph, 3, c, sx, sy).round() as u8;
                }
                gt[y * fw + x] = sample(m, pw, ph, 1, 0, sx, sy).round() as u8;
            }
        }
        frames.push(frame);
        truth.push(gt);
    }
    Clip { name: name.to_string(), frames, truth }
}
