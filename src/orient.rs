//! Camera orientation: frames that arrive sideways, upside down or mirrored.
//!
//! Phone sensors are mounted sideways: Android hands every frame with the clockwise rotation
//! that makes it upright (`ImageInfo.rotationDegrees`), iOS delivers landscape buffers unless the
//! connection rotates them, and front cameras mirror. The model only knows upright people (a
//! sideways frame gives a mask IoU of 0.46–0.59 against the upright result), so an
//! [`Orientation`] tells the pipeline how to turn the frame upright, and three places use it:
//!
//! - **preprocess** samples the model input straight from the frame as stored: rotations by a
//!   multiple of 90° and a mirror map each axis of the upright picture onto one axis of the
//!   frame, possibly reversed, so the separable resampler runs over the frame as it is, with
//!   mirrored taps on a reversed axis, into a buffer of the model's size; only that buffer
//!   (256×256 values at most) is transposed into the tensor. No full-frame copy, and the model
//!   sees exactly what it would see from the upright frame.
//! - **the model's mask** is turned back to the frame's orientation at model resolution, so the
//!   pixel stages (upsample, refine, blur, composite), the temporal filter and the tracking crop
//!   all work in the frame's own coordinates and need no change.
//! - **the output**, when asked for upright ([`Options::upright_output`](crate::Options)), is
//!   composited as stored and then copied turned upright (one extra copy of the output frame).
//!
//! [`Orientation::axes`] is the one place the geometry lives: for each axis of the stored frame,
//! which axis of the upright picture it carries and whether reversed.

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::frame::{FrameMut, FrameRef};

/// The clockwise rotation that turns a stored frame upright (as Android's
/// `ImageInfo.rotationDegrees` and the sensor orientation report it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Rotation {
    /// The frame is upright as stored.
    #[default]
    None,
    /// Turn the frame 90° clockwise to see it upright.
    Cw90,
    /// Turn the frame 180°.
    Cw180,
    /// Turn the frame 270° clockwise (90° counter-clockwise).
    Cw270,
}

impl Rotation {
    /// The rotation for `degrees` clockwise: 0, 90, 180 or 270 (others are an error).
    pub fn from_degrees(degrees: u32) -> Result<Self> {
        match degrees {
            0 => Ok(Rotation::None),
            90 => Ok(Rotation::Cw90),
            180 => Ok(Rotation::Cw180),
            270 => Ok(Rotation::Cw270),
            _ => Err(Error::InvalidOption(format!("rotation {degrees}: must be 0, 90, 180 or 270 degrees"))),
        }
    }

    /// The rotation in degrees clockwise.
    pub fn degrees(self) -> u32 {
        match self {
            Rotation::None => 0,
            Rotation::Cw90 => 90,
            Rotation::Cw180 => 180,
            Rotation::Cw270 => 270,
        }
    }
}

/// How a stored frame relates to the upright picture: turn it by `rotation` clockwise, then, if
/// `mirror`, flip it left to right. The default is upright and unmirrored.
///
/// A front camera's preview is usually shown mirrored; whether `mirror` is set makes no
/// difference to the mask (the model sees an upright person either way), only to the picture
/// [`Options::upright_output`](crate::Options) writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Orientation {
    /// Clockwise rotation that makes the frame upright.
    pub rotation: Rotation,
    /// After the rotation, flip left to right.
    pub mirror: bool,
}

/// For each axis of the stored frame, the axis of the upright picture it carries and whether
/// reversed: stored `(x, y)` shows upright `(u, v)` with `x = u` or `v` (`transpose`), counted
/// from the far end when `flip_x`, and likewise `y`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub(crate) struct Axes {
    /// Stored x carries upright v (and stored y upright u).
    pub(crate) transpose: bool,
    /// Stored x runs against the upright axis it carries.
    pub(crate) flip_x: bool,
    /// Stored y runs against the upright axis it carries.
    pub(crate) flip_y: bool,
}

impl Axes {
    /// The stored position `(x, y)` in a `width × height` stored frame of the upright position
    /// `(u, v)`.
    pub(crate) fn stored(self, (u, v): (usize, usize), (width, height): (usize, usize)) -> (usize, usize) {
        let (a, b) = if self.transpose { (v, u) } else { (u, v) };
        (if self.flip_x { width - 1 - a } else { a }, if self.flip_y { height - 1 - b } else { b })
    }
}

impl Orientation {
    /// Upright and unmirrored.
    pub const UPRIGHT: Orientation = Orientation { rotation: Rotation::None, mirror: false };

    /// `rotation` clockwise, then mirrored if `mirror`.
    pub fn new(rotation: Rotation, mirror: bool) -> Self {
        Orientation { rotation, mirror }
    }

    /// True for the upright, unmirrored orientation (nothing to do).
    pub fn is_upright(self) -> bool {
        self == Self::UPRIGHT
    }

    /// True when the upright picture's width is the stored frame's height (90° and 270°).
    pub fn swaps_sides(self) -> bool {
        matches!(self.rotation, Rotation::Cw90 | Rotation::Cw270)
    }

    /// The upright picture's size for a stored `width × height` frame.
    pub fn upright_size(self, width: u32, height: u32) -> (u32, u32) {
        if self.swaps_sides() {
            (height, width)
        } else {
            (width, height)
        }
    }

    /// The geometry ([`Axes`]). Turning a frame 90° clockwise puts its bottom-left pixel at the
    /// top left: upright `(u, v)` is stored `(v, H − 1 − u)`; 180°: `(W − 1 − u, H − 1 − v)`;
    /// 270°: `(W − 1 − v, u)`. The mirror reverses whichever stored axis carries upright u.
    pub(crate) fn axes(self) -> Axes {
        let (transpose, flip_x, flip_y) = match self.rotation {
            Rotation::None => (false, false, false),
            Rotation::Cw90 => (true, false, true),
            Rotation::Cw180 => (false, true, true),
            Rotation::Cw270 => (true, true, false),
        };
        let mut axes = Axes { transpose, flip_x, flip_y };
        if self.mirror {
            if transpose {
                axes.flip_y = !axes.flip_y;
            } else {
                axes.flip_x = !axes.flip_x;
            }
        }
        axes
    }
}

/// Copies the stored frame `src` into `dst` turned upright by `orientation`. `dst` must have the
/// upright size and `src`'s format (any packed format).
pub fn orient_into(src: FrameRef<'_>, orientation: Orientation, dst: &mut FrameMut<'_>) -> Result<()> {
    let (uw, uh) = orientation.upright_size(src.width(), src.height());
    if (dst.width(), dst.height()) != (uw, uh) || dst.format() != src.format() {
        return Err(Error::SizeMismatch {
            what: "upright output frame",
            expected: crate::error::Dims(uw, uh),
            actual: crate::error::Dims(dst.width(), dst.height()),
        });
    }
    match src.format().bytes_per_pixel() {
        1 => turn::<1>(src, orientation.axes(), dst),
        3 => turn::<3>(src, orientation.axes(), dst),
        _ => turn::<4>(src, orientation.axes(), dst),
    }
    Ok(())
}

/// Output rows turned together: a band of upright rows is a band of stored columns, so each
/// stored row is read once per band, `BAND` pixels in a row (one or two cache lines) — a
/// column-at-a-time walk would touch a new cache line for every pixel.
const BAND: usize = 64;

/// [`orient_into`] for pixels of `N` bytes.
fn turn<const N: usize>(src: FrameRef<'_>, axes: Axes, dst: &mut FrameMut<'_>) {
    let size = (src.width() as usize, src.height() as usize);
    let (uw, uh) = (dst.width() as usize, dst.height() as usize);
    let (data, stride) = dst.data_and_stride_mut();
    if !axes.transpose {
        // Each upright row is one stored row, forwards or backwards.
        data.par_chunks_mut(stride).take(uh).enumerate().for_each(|(v, out)| {
            let (_, y) = axes.stored((0, v), size);
            let stored = src.row(y as u32);
            let out = &mut out[..uw * N];
            if axes.flip_x {
                for (o, p) in out.chunks_exact_mut(N).zip(stored.chunks_exact(N).rev()) {
                    o.copy_from_slice(p);
                }
            } else {
                out.copy_from_slice(stored);
            }
        });
        return;
    }
    data.par_chunks_mut(stride * BAND).enumerate().for_each(|(band, chunk)| {
        let v0 = band * BAND;
        let rows = BAND.min(uh - v0);
        for u in 0..uw {
            // Upright column u is one stored row; the band's rows are stored pixels side by side.
            let (x0, y) = axes.stored((u, v0), size);
            let x_lo = if axes.flip_x { x0 + 1 - rows } else { x0 };
            let pixels = src.row(y as u32)[x_lo * N..(x_lo + rows) * N].chunks_exact(N);
            let at = u * N..u * N + N;
            if axes.flip_x {
                for (out, px) in chunk.chunks_mut(stride).zip(pixels.rev()) {
                    out[at.clone()].copy_from_slice(px);
                }
            } else {
                for (out, px) in chunk.chunks_mut(stride).zip(pixels) {
                    out[at.clone()].copy_from_slice(px);
                }
            }
        }
    });
}

/// Writes the upright `src` (`width × height` values, rows of `width`) into `dst` in the stored
/// orientation (`dst` gets the stored size: the sides swapped for 90° and 270°). For the model's
/// mask, at model resolution.
pub(crate) fn store_upright_values(
    src: &[f32],
    (width, height): (usize, usize),
    orientation: Orientation,
    dst: &mut [f32],
) {
    let axes = orientation.axes();
    let stored = if orientation.swaps_sides() { (height, width) } else { (width, height) };
    for v in 0..height {
        for u in 0..width {
            let (x, y) = axes.stored((u, v), stored);
            dst[y * stored.0 + x] = src[v * width + u];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{Frame, PixelFormat};

    /// Rotates a grey image by hand, as the definitions say: clockwise by quarter turns.
    fn turn_cw(src: &[u8], w: usize, h: usize) -> Vec<u8> {
        // Rotated: h wide, w high; (u, v) = (h - 1 - y, x).
        let mut out = vec![0; w * h];
        for y in 0..h {
            for x in 0..w {
                out[x * h + (h - 1 - y)] = src[y * w + x];
            }
        }
        out
    }

    fn mirror(src: &[u8], w: usize) -> Vec<u8> {
        src.chunks_exact(w).flat_map(|r| r.iter().rev().copied()).collect()
    }

    #[test]
    fn orient_into_matches_quarter_turns_and_mirrors() {
        let (w, h) = (5usize, 3usize);
        let stored: Vec<u8> = (0..(w * h) as u8).collect();
        let frame = Frame::from_vec(stored.clone(), w as u32, h as u32, PixelFormat::Gray8).expect("frame");
        for (degrees, turns) in [(0u32, 0), (90, 1), (180, 2), (270, 3)] {
            let mut expected = stored.clone();
            let (mut ew, mut eh) = (w, h);
            for _ in 0..turns {
                expected = turn_cw(&expected, ew, eh);
                std::mem::swap(&mut ew, &mut eh);
            }
            for mirrored in [false, true] {
                let want = if mirrored { mirror(&expected, ew) } else { expected.clone() };
                let o = Orientation::new(Rotation::from_degrees(degrees).expect("angle"), mirrored);
                assert_eq!(o.upright_size(w as u32, h as u32), (ew as u32, eh as u32));
                let mut out = Frame::new(ew as u32, eh as u32, PixelFormat::Gray8).expect("frame");
                orient_into(frame.as_ref(), o, &mut out.as_mut()).expect("orient");
                assert_eq!(out.data(), &want[..], "{degrees}° mirror={mirrored}");
                // And the model-resolution mask goes back the other way.
                let up: Vec<f32> = want.iter().map(|&v| v as f32).collect();
                let mut back = vec![0.0; w * h];
                store_upright_values(&up, (ew, eh), o, &mut back);
                assert!(back.iter().zip(&stored).all(|(a, &b)| *a == b as f32), "{degrees}° mirror={mirrored}");
            }
        }
    }

    #[test]
    fn packed_formats_keep_their_pixels_whole() {
        let frame = Frame::from_vec((0..2 * 2 * 4).collect(), 2, 2, PixelFormat::Rgba8).expect("frame");
        let mut out = Frame::new(2, 2, PixelFormat::Rgba8).expect("frame");
        orient_into(frame.as_ref(), Orientation::new(Rotation::Cw90, false), &mut out.as_mut()).expect("orient");
        // Stored pixels 0 1 / 2 3 turned clockwise: 2 0 / 3 1.
        let px = |i: u8| [4 * i, 4 * i + 1, 4 * i + 2, 4 * i + 3];
        let want: Vec<u8> = [2, 0, 3, 1].into_iter().flat_map(px).collect();
        assert_eq!(out.data(), &want[..]);
        let mut wrong = Frame::new(3, 2, PixelFormat::Rgba8).expect("frame");
        assert!(orient_into(frame.as_ref(), Orientation::UPRIGHT, &mut wrong.as_mut()).is_err());
    }

    #[test]
    fn rotations_only_from_quarter_turns() {
        assert_eq!(Rotation::from_degrees(270).map(Rotation::degrees).ok(), Some(270));
        assert!(Rotation::from_degrees(45).is_err() && Rotation::from_degrees(360).is_err());
    }
}
