//! Camera formats: Y′CbCr frames (NV12, NV21, I420, YUYV) and their conversion to and from RGB.
//!
//! Phone and webcam drivers hand out Y′CbCr, not RGB: Android's camera gives NV21 or I420
//! (`YUV_420_888`), iOS gives NV12 (`420v` / `420f`), UVC webcams give YUYV. The pipeline works
//! on packed RGB(A), so a [`YuvFrameRef`] describes such a buffer — one to three planes, each
//! with its own stride, validated like [`FrameRef`] — and [`YuvFrameRef::to_rgb_into`] converts
//! it in one parallel pass. [`YuvFrame::from_rgb`] goes the other way (video files, tests).
//!
//! Chroma planes are subsampled by two (both directions for 4:2:0, horizontally for YUYV); odd
//! sizes round the chroma size up, as every driver does. The colour conversion uses the matrix
//! and range of [`YuvColor`] (default BT.601 limited range, what most cameras send), in 16-bit
//! fixed point: every output is within one level of the exact conversion.

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::frame::{Frame, FrameMut, FrameRef, PixelFormat};

/// How the planes of a Y′CbCr frame are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum YuvLayout {
    /// 4:2:0, a Y plane then one plane of interleaved U,V pairs (iOS `420v`/`420f`).
    Nv12,
    /// 4:2:0, a Y plane then one plane of interleaved V,U pairs (Android's camera default).
    Nv21,
    /// 4:2:0, three planes: Y, U, V (Android `YUV_420_888` with pixel stride 1, Y4M video).
    I420,
    /// 4:2:2 packed in one plane as Y0 U Y1 V (UVC webcams).
    Yuyv,
}

impl YuvLayout {
    /// Number of planes.
    pub const fn planes(self) -> usize {
        match self {
            YuvLayout::Yuyv => 1,
            YuvLayout::Nv12 | YuvLayout::Nv21 => 2,
            YuvLayout::I420 => 3,
        }
    }

    /// Bytes per row and number of rows of plane `plane` for a `width × height` frame.
    fn plane_dims(self, plane: usize, width: u32, height: u32) -> (usize, usize) {
        let (w, h) = (width as usize, height as usize);
        let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
        match (self, plane) {
            (YuvLayout::Yuyv, _) => (cw * 4, h),
            (_, 0) => (w, h),
            (YuvLayout::Nv12 | YuvLayout::Nv21, _) => (cw * 2, ch),
            (YuvLayout::I420, _) => (cw, ch),
        }
    }
}

/// The colour matrix of a Y′CbCr signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum YuvMatrix {
    /// ITU-R BT.601 (standard definition, JPEG, most phone cameras).
    #[default]
    Bt601,
    /// ITU-R BT.709 (HD video).
    Bt709,
}

/// The value range of a Y′CbCr signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum YuvRange {
    /// "Video" range: Y in 16..=235, chroma in 16..=240 (`420v`, most video).
    #[default]
    Limited,
    /// "Full" range: all of 0..=255 (`420f`, JPEG, Android's NV21 preview).
    Full,
}

/// Colour matrix and range together. The default is BT.601, limited range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct YuvColor {
    /// The matrix.
    pub matrix: YuvMatrix,
    /// The range.
    pub range: YuvRange,
}

impl YuvColor {
    /// Builds a colour description.
    pub const fn new(matrix: YuvMatrix, range: YuvRange) -> Self {
        YuvColor { matrix, range }
    }

    /// (Kr, Kb) of the matrix.
    fn kr_kb(self) -> (f32, f32) {
        match self.matrix {
            YuvMatrix::Bt601 => (0.299, 0.114),
            YuvMatrix::Bt709 => (0.2126, 0.0722),
        }
    }

    /// (luma offset, luma scale to 0..255, chroma scale to ±127.5) of the range.
    fn range_params(self) -> (f32, f32, f32) {
        match self.range {
            YuvRange::Limited => (16.0, 255.0 / 219.0, 255.0 / 224.0),
            YuvRange::Full => (0.0, 1.0, 1.0),
        }
    }
}

const FIX: i32 = 16;
const HALF: i32 = 1 << (FIX - 1);

/// Fixed-point Y′CbCr → RGB coefficients.
#[derive(Clone, Copy)]
struct ToRgb {
    y_offset: i32,
    y_scale: i32,
    r_v: i32,
    g_u: i32,
    g_v: i32,
    b_u: i32,
}

impl ToRgb {
    fn new(color: YuvColor) -> Self {
        let (kr, kb) = color.kr_kb();
        let kg = 1.0 - kr - kb;
        let (y_offset, y_scale, c_scale) = color.range_params();
        let fix = |v: f32| (v * (1 << FIX) as f32).round() as i32;
        ToRgb {
            y_offset: y_offset as i32,
            y_scale: fix(y_scale),
            r_v: fix(c_scale * 2.0 * (1.0 - kr)),
            g_u: fix(c_scale * 2.0 * (1.0 - kb) * kb / kg),
            g_v: fix(c_scale * 2.0 * (1.0 - kr) * kr / kg),
            b_u: fix(c_scale * 2.0 * (1.0 - kb)),
        }
    }

    /// Grey level of one pixel (luma expanded to full range).
    #[inline(always)]
    fn grey(&self, y: u8) -> u8 {
        (((y as i32 - self.y_offset) * self.y_scale + HALF) >> FIX).clamp(0, 255) as u8
    }
}

/// A read-only view of a Y′CbCr frame in caller memory.
#[derive(Debug, Clone, Copy)]
pub struct YuvFrameRef<'a> {
    layout: YuvLayout,
    width: u32,
    height: u32,
    color: YuvColor,
    planes: [&'a [u8]; 3],
    strides: [usize; 3],
}

impl<'a> YuvFrameRef<'a> {
    /// Wraps planes laid out as `layout`: `planes[i]` with row stride `strides[i]` for each of
    /// the layout's [`YuvLayout::planes`] planes (the others are ignored). Every plane is
    /// checked to hold its rows; the last row needs only its bytes, not a whole stride.
    pub fn new(layout: YuvLayout, width: u32, height: u32, planes: [&'a [u8]; 3], strides: [usize; 3]) -> Result<Self> {
        if width == 0 || height == 0 {
            return Err(Error::InvalidFrame(format!("empty frame ({width}x{height})")));
        }
        for plane in 0..layout.planes() {
            let (row_bytes, rows) = layout.plane_dims(plane, width, height);
            let (len, stride) = (planes[plane].len(), strides[plane]);
            if stride < row_bytes {
                return Err(Error::InvalidFrame(format!(
                    "{layout:?} plane {plane}: stride {stride} is smaller than one row ({row_bytes} bytes) \
                     of a {width}x{height} frame"
                )));
            }
            let needed = stride.checked_mul(rows - 1).and_then(|n| n.checked_add(row_bytes)).ok_or_else(|| {
                Error::InvalidFrame(format!(
                    "{layout:?} plane {plane}: {width}x{height} with stride {stride} overflows"
                ))
            })?;
            // Android's YUV_420_888 with interleaved chroma hands the second plane as a view that
            // starts at its first component and so ends one byte before the last sample of the
            // other: accepted, and that one sample is taken from the pair before it.
            let android_short = plane == 1 && matches!(layout, YuvLayout::Nv12 | YuvLayout::Nv21) && len + 1 == needed;
            if len < needed && !android_short {
                return Err(Error::InvalidFrame(format!(
                    "{layout:?} plane {plane}: buffer of {len} bytes is too short for a {width}x{height} frame \
                     with stride {stride} ({needed} bytes needed)"
                )));
            }
        }
        let empty: &'a [u8] = &[];
        let mut kept = [empty; 3];
        kept[..layout.planes()].copy_from_slice(&planes[..layout.planes()]);
        Ok(YuvFrameRef { layout, width, height, color: YuvColor::default(), planes: kept, strides })
    }

    /// NV12: a Y plane and an interleaved UV plane.
    pub fn nv12(y: &'a [u8], y_stride: usize, uv: &'a [u8], uv_stride: usize, width: u32, height: u32) -> Result<Self> {
        Self::new(YuvLayout::Nv12, width, height, [y, uv, &[]], [y_stride, uv_stride, 0])
    }

    /// NV21: a Y plane and an interleaved VU plane.
    pub fn nv21(y: &'a [u8], y_stride: usize, vu: &'a [u8], vu_stride: usize, width: u32, height: u32) -> Result<Self> {
        Self::new(YuvLayout::Nv21, width, height, [y, vu, &[]], [y_stride, vu_stride, 0])
    }

    /// I420: Y, U and V planes.
    #[allow(clippy::too_many_arguments)]
    pub fn i420(
        y: &'a [u8],
        y_stride: usize,
        u: &'a [u8],
        u_stride: usize,
        v: &'a [u8],
        v_stride: usize,
        width: u32,
        height: u32,
    ) -> Result<Self> {
        Self::new(YuvLayout::I420, width, height, [y, u, v], [y_stride, u_stride, v_stride])
    }

    /// YUYV: one packed plane.
    pub fn yuyv(data: &'a [u8], stride: usize, width: u32, height: u32) -> Result<Self> {
        Self::new(YuvLayout::Yuyv, width, height, [data, &[], &[]], [stride, 0, 0])
    }

    /// The same view with another colour matrix and range.
    pub fn with_color(mut self, color: YuvColor) -> Self {
        self.color = color;
        self
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// Plane layout.
    pub fn layout(&self) -> YuvLayout {
        self.layout
    }

    /// Colour matrix and range.
    pub fn color(&self) -> YuvColor {
        self.color
    }

    /// Converts into `out`, which must have the same size and be [`PixelFormat::Rgb8`],
    /// [`PixelFormat::Rgba8`] or [`PixelFormat::Bgra8`] (alpha is set to 255), or
    /// [`PixelFormat::Gray8`] (luma expanded to full range).
    pub fn to_rgb_into(&self, out: &mut FrameMut<'_>) -> Result<()> {
        if (out.width(), out.height()) != (self.width, self.height) {
            return Err(Error::SizeMismatch {
                what: "converted frame",
                expected: crate::Dims(self.width, self.height),
                actual: crate::Dims(out.width(), out.height()),
            });
        }
        let format = out.format();
        let bpp = format.bytes_per_pixel();
        let offsets = format.rgb_offsets();
        let alpha = format.alpha_offset();
        let k = ToRgb::new(self.color);
        let width = self.width as usize;
        let (planes, strides, layout) = (self.planes, self.strides, self.layout);
        out.rows_mut().enumerate().for_each(|(row, dst)| {
            let y_row = &planes[0][row * strides[0]..];
            if format == PixelFormat::Gray8 {
                let step = if layout == YuvLayout::Yuyv { 2 } else { 1 };
                for (d, y) in dst.iter_mut().zip(y_row.iter().step_by(step)) {
                    *d = k.grey(*y);
                }
                return;
            }
            // One match per row; inside, each 2-pixel pair shares its chroma.
            let crow = row / 2;
            let luma = |pair: usize| (y_row[2 * pair], y_row.get(2 * pair + 1).copied().unwrap_or(0));
            match layout {
                YuvLayout::Nv12 | YuvLayout::Nv21 => {
                    let c = &planes[1][crow * strides[1]..];
                    let (ui, vi) = if layout == YuvLayout::Nv12 { (0, 1) } else { (1, 0) };
                    if c.len() >= 2 * width.div_ceil(2) {
                        write_pairs(dst, width, bpp, offsets, alpha, &k, |p| {
                            let (y0, y1) = luma(p);
                            (y0, y1, c[2 * p + ui], c[2 * p + vi])
                        });
                    } else {
                        // The last row of a plane one byte short (see `new`).
                        let at = |i: usize| c.get(i).or_else(|| c.get(i.wrapping_sub(2))).copied().unwrap_or(128);
                        write_pairs(dst, width, bpp, offsets, alpha, &k, |p| {
                            let (y0, y1) = luma(p);
                            (y0, y1, at(2 * p + ui), at(2 * p + vi))
                        });
                    }
                }
                YuvLayout::I420 => {
                    let (u, v) = (&planes[1][crow * strides[1]..], &planes[2][crow * strides[2]..]);
                    write_pairs(dst, width, bpp, offsets, alpha, &k, |p| {
                        let (y0, y1) = luma(p);
                        (y0, y1, u[p], v[p])
                    });
                }
                YuvLayout::Yuyv => write_pairs(dst, width, bpp, offsets, alpha, &k, |p| {
                    let q = &y_row[4 * p..4 * p + 4];
                    (q[0], q[2], q[1], q[3])
                }),
            }
        });
        Ok(())
    }

    /// Converts into a new packed frame of `format` (see [`YuvFrameRef::to_rgb_into`]).
    pub fn to_frame(&self, format: PixelFormat) -> Result<Frame> {
        let mut frame = Frame::new(self.width, self.height, format)?;
        self.to_rgb_into(&mut frame.as_mut())?;
        Ok(frame)
    }
}

/// Writes one row of RGB(A) pixels from `fetch(pair) = (y0, y1, u, v)`, two pixels per pair
/// (the last pair of an odd width writes one).
#[inline(always)]
fn write_pairs(
    dst: &mut [u8],
    width: usize,
    bpp: usize,
    [ro, go, bo]: [usize; 3],
    alpha: Option<usize>,
    k: &ToRgb,
    fetch: impl Fn(usize) -> (u8, u8, u8, u8),
) {
    for (pair, px) in dst.chunks_mut(2 * bpp).enumerate().take(width.div_ceil(2)) {
        let (y0, y1, u, v) = fetch(pair);
        let (u, v) = (u as i32 - 128, v as i32 - 128);
        let (r, g, b) = (k.r_v * v, -k.g_u * u - k.g_v * v, k.b_u * u);
        for (px, y) in px.chunks_exact_mut(bpp).zip([y0, y1]) {
            let y = (y as i32 - k.y_offset) * k.y_scale + HALF;
            px[ro] = ((y + r) >> FIX).clamp(0, 255) as u8;
            px[go] = ((y + g) >> FIX).clamp(0, 255) as u8;
            px[bo] = ((y + b) >> FIX).clamp(0, 255) as u8;
            if let Some(a) = alpha {
                px[a] = 255;
            }
        }
    }
}

/// RGB → Y′CbCr coefficients for one pixel format.
struct ToYuv {
    k: [f32; 3],
    /// 1 / (2 (1 − Kb)) and 1 / (2 (1 − Kr)).
    diff_scale: [f32; 2],
    y_offset: f32,
    y_scale: f32,
    c_scale: f32,
    offsets: [usize; 3],
    bpp: usize,
}

impl ToYuv {
    fn new(color: YuvColor, format: PixelFormat) -> Self {
        let (kr, kb) = color.kr_kb();
        let (y_offset, y_scale, c_scale) = color.range_params();
        ToYuv {
            k: [kr, 1.0 - kr - kb, kb],
            diff_scale: [0.5 / (1.0 - kb), 0.5 / (1.0 - kr)],
            y_offset,
            y_scale: 1.0 / y_scale,
            c_scale: 1.0 / c_scale,
            offsets: format.rgb_offsets(),
            bpp: format.bytes_per_pixel(),
        }
    }

    /// The encoded luma of pixel `x` of `line` and its colour differences (B − Y′, R − Y′),
    /// scaled to ±127.5.
    #[inline(always)]
    fn luma_diff(&self, line: &[u8], x: usize) -> (u8, [f32; 2]) {
        let p = &line[x * self.bpp..];
        let (r, g, b) = (p[self.offsets[0]] as f32, p[self.offsets[1]] as f32, p[self.offsets[2]] as f32);
        let y = self.k[0] * r + self.k[1] * g + self.k[2] * b;
        let luma = (self.y_offset + y * self.y_scale).round().clamp(0.0, 255.0) as u8;
        (luma, [(b - y) * self.diff_scale[0], (r - y) * self.diff_scale[1]])
    }

    /// Encoded chroma from mean colour differences.
    #[inline(always)]
    fn chroma(&self, d: [f32; 2]) -> (u8, u8) {
        let c = |v: f32| (128.0 + v * self.c_scale).round().clamp(0.0, 255.0) as u8;
        (c(d[0]), c(d[1]))
    }
}

/// An owned Y′CbCr frame with tightly packed planes, one after the other in one buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YuvFrame {
    layout: YuvLayout,
    width: u32,
    height: u32,
    color: YuvColor,
    data: Vec<u8>,
}

impl YuvFrame {
    /// Converts an RGB, RGBA, BGRA or grey frame to `layout` with `color`. Chroma is the mean
    /// of each 2×2 (4:2:0) or 2×1 (4:2:2) block, computed in gamma-encoded values as cameras do.
    pub fn from_rgb(src: FrameRef<'_>, layout: YuvLayout, color: YuvColor) -> Result<Self> {
        let (w, h) = (src.width() as usize, src.height() as usize);
        let total: usize = (0..layout.planes())
            .map(|p| {
                let (row_bytes, rows) = layout.plane_dims(p, src.width(), src.height());
                row_bytes * rows
            })
            .sum();
        let mut data = vec![0u8; total];
        let k = ToYuv::new(color, src.format());
        let cw = w.div_ceil(2);
        // Each parallel task converts one block row: two image rows for 4:2:0, one for 4:2:2.
        match layout {
            YuvLayout::Yuyv => data.par_chunks_mut(cw * 4).enumerate().for_each(|(row, out)| {
                let line = src.row(row as u32);
                for (cx, px) in out.chunks_exact_mut(4).enumerate() {
                    let x1 = (2 * cx + 1).min(w - 1);
                    let (y0, d0) = k.luma_diff(line, 2 * cx);
                    let (y1, d1) = k.luma_diff(line, x1);
                    let d = if x1 == 2 * cx { d0 } else { [(d0[0] + d1[0]) / 2.0, (d0[1] + d1[1]) / 2.0] };
                    let (u, v) = k.chroma(d);
                    px.copy_from_slice(&[y0, u, y1, v]);
                }
            }),
            _ => {
                let (luma, chroma) = data.split_at_mut(w * h);
                let chroma_row = if layout == YuvLayout::I420 { cw } else { 2 * cw };
                let (first, second) = if layout == YuvLayout::I420 {
                    chroma.split_at_mut(chroma.len() / 2)
                } else {
                    (chroma, &mut [][..])
                };
                let convert = |by: usize, y_rows: &mut [u8], put: &mut dyn FnMut(usize, u8, u8)| {
                    let rows = y_rows.len() / w;
                    let mut sums = vec![[0f32; 3]; cw];
                    for r in 0..rows {
                        let line = src.row((2 * by + r) as u32);
                        for x in 0..w {
                            let (y, d) = k.luma_diff(line, x);
                            y_rows[r * w + x] = y;
                            let s = &mut sums[x / 2];
                            s[0] += d[0];
                            s[1] += d[1];
                            s[2] += 1.0;
                        }
                    }
                    for (cx, s) in sums.iter().enumerate() {
                        let (u, v) = k.chroma([s[0] / s[2], s[1] / s[2]]);
                        put(cx, u, v);
                    }
                };
                if layout == YuvLayout::I420 {
                    luma.par_chunks_mut(2 * w)
                        .zip(first.par_chunks_mut(chroma_row))
                        .zip(second.par_chunks_mut(chroma_row))
                        .enumerate()
                        .for_each(|(by, ((y_rows, u), v))| {
                            convert(by, y_rows, &mut |cx, cu, cv| {
                                u[cx] = cu;
                                v[cx] = cv;
                            })
                        });
                } else {
                    let (ui, vi) = if layout == YuvLayout::Nv12 { (0, 1) } else { (1, 0) };
                    luma.par_chunks_mut(2 * w).zip(first.par_chunks_mut(chroma_row)).enumerate().for_each(
                        |(by, (y_rows, c))| {
                            convert(by, y_rows, &mut |cx, cu, cv| {
                                c[2 * cx + ui] = cu;
                                c[2 * cx + vi] = cv;
                            })
                        },
                    );
                }
            }
        }
        Ok(YuvFrame { layout, width: src.width(), height: src.height(), color, data })
    }

    /// All planes, one after the other.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// Plane `index` and its stride (empty for planes the layout does not have).
    pub fn plane(&self, index: usize) -> (&[u8], usize) {
        let mut start = 0;
        for plane in 0..self.layout.planes() {
            let (row_bytes, rows) = self.layout.plane_dims(plane, self.width, self.height);
            if plane == index {
                return (&self.data[start..start + row_bytes * rows], row_bytes);
            }
            start += row_bytes * rows;
        }
        (&[], 0)
    }

    /// A view of this frame.
    pub fn as_ref(&self) -> YuvFrameRef<'_> {
        let (p0, s0) = self.plane(0);
        let (p1, s1) = self.plane(1);
        let (p2, s2) = self.plane(2);
        YuvFrameRef {
            layout: self.layout,
            width: self.width,
            height: self.height,
            color: self.color,
            planes: [p0, p1, p2],
            strides: [s0, s1, s2],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LAYOUTS: [YuvLayout; 4] = [YuvLayout::Nv12, YuvLayout::Nv21, YuvLayout::I420, YuvLayout::Yuyv];
    const COLORS: [YuvColor; 4] = [
        YuvColor::new(YuvMatrix::Bt601, YuvRange::Limited),
        YuvColor::new(YuvMatrix::Bt601, YuvRange::Full),
        YuvColor::new(YuvMatrix::Bt709, YuvRange::Limited),
        YuvColor::new(YuvMatrix::Bt709, YuvRange::Full),
    ];

    /// A frame whose 2×2 blocks share one colour, so 4:2:0 loses nothing.
    fn blocky(w: u32, h: u32) -> Frame {
        let mut data = Vec::new();
        for y in 0..h {
            for x in 0..w {
                let (bx, by) = (x / 2, y / 2);
                data.extend_from_slice(&[(bx * 37 % 256) as u8, (by * 91 % 256) as u8, ((bx + by) * 53 % 256) as u8]);
            }
        }
        Frame::from_vec(data, w, h, PixelFormat::Rgb8).expect("valid frame")
    }

    #[test]
    fn round_trip_is_within_quantisation() {
        for layout in LAYOUTS {
            for color in COLORS {
                for (w, h) in [(16, 8), (7, 5), (1, 1)] {
                    let rgb = blocky(w, h);
                    let yuv = YuvFrame::from_rgb(rgb.as_ref(), layout, color).expect("convert");
                    let back = yuv.as_ref().to_frame(PixelFormat::Rgb8).expect("back");
                    let worst =
                        rgb.data().iter().zip(back.data()).map(|(a, b)| a.abs_diff(*b)).max().unwrap_or_default();
                    // Limited range has 219 luma levels for 256: up to ~2 levels of rounding per channel,
                    // plus saturated colours that fall outside the gamut after chroma rounding.
                    assert!(worst <= 4, "{layout:?} {color:?} {w}x{h}: worst {worst}");
                }
            }
        }
    }

    #[test]
    fn known_values() {
        // BT.601 limited: Y=16 black, Y=235 white, (81, 90, 240) is pure red. A 4x2 frame: the
        // left 2x2 block shares chroma (128, 128), the right one (90, 240).
        let y = [16u8, 235, 81, 81, 16, 235, 81, 81];
        let uv = [128u8, 128, 90, 240];
        let frame = YuvFrameRef::nv12(&y, 4, &uv, 4, 4, 2).expect("frame");
        let rgba = frame.to_frame(PixelFormat::Rgba8).expect("convert");
        let px: Vec<&[u8]> = rgba.data().chunks(4).collect();
        assert_eq!(px[0], [0, 0, 0, 255]);
        assert_eq!(px[1], [255, 255, 255, 255]);
        for p in [px[2], px[3], px[6], px[7]] {
            assert!(p[0] >= 253 && p[1] <= 2 && p[2] <= 2, "{p:?}");
        }
        // Swapping the chroma order (NV21) turns red into blue.
        let bgra = YuvFrameRef::nv21(&y, 4, &uv, 4, 4, 2).expect("frame").to_frame(PixelFormat::Bgra8).expect("c");
        let p = &bgra.data()[8..12];
        assert!(p[0] >= 200 && p[2] <= 30, "{p:?}");
        let grey = frame.to_frame(PixelFormat::Gray8).expect("grey");
        assert_eq!(&grey.data()[..2], &[0, 255]);
    }

    #[test]
    fn strides_and_bad_layouts() {
        let y = vec![50u8; 10 * 4];
        let uv = vec![128u8; 10 * 2];
        let f = YuvFrameRef::nv12(&y, 10, &uv, 10, 8, 4).expect("padded rows");
        assert!(f.to_frame(PixelFormat::Rgb8).is_ok());
        assert!(YuvFrameRef::nv12(&y, 7, &uv, 10, 8, 4).is_err(), "stride below a row");
        assert!(YuvFrameRef::nv12(&y, 10, &uv[..12], 10, 8, 4).is_err(), "short chroma plane");
        assert!(YuvFrameRef::i420(&y, 10, &uv, 4, &uv[..5], 4, 8, 4).is_err(), "short V plane");
        assert!(YuvFrameRef::yuyv(&y, usize::MAX, 8, 4).is_err(), "overflowing stride");
        assert!(YuvFrameRef::nv12(&y, 10, &uv, 10, 0, 4).is_err(), "empty frame");
        let mut small = Frame::new(4, 4, PixelFormat::Rgb8).expect("frame");
        assert!(matches!(f.to_rgb_into(&mut small.as_mut()), Err(Error::SizeMismatch { .. })));
    }

    #[test]
    fn android_chroma_view_one_byte_short() {
        // 6x4 NV21: chroma rows of 6 bytes (3 V,U pairs), stride 8. Android's V buffer ends
        // before the last U: 8 + 6 - 1 = 13 bytes.
        let (w, h) = (6u32, 4u32);
        let y = vec![120u8; 6 * 4];
        let mut vu = vec![0u8; 8 + 6];
        for (i, b) in vu.iter_mut().enumerate() {
            *b = if i % 2 == 0 { 150 } else { 100 }; // V, U
        }
        let whole = YuvFrameRef::nv21(&y, 6, &vu, 8, w, h).expect("whole").to_frame(PixelFormat::Rgb8).expect("rgb");
        let short = YuvFrameRef::nv21(&y, 6, &vu[..13], 8, w, h).expect("one byte short is accepted");
        // The missing U is the one before it (100 as well here): the same picture.
        assert_eq!(short.to_frame(PixelFormat::Rgb8).expect("rgb"), whole);
        assert!(YuvFrameRef::nv21(&y, 6, &vu[..12], 8, w, h).is_err(), "two bytes short is not");
        assert!(YuvFrameRef::i420(&y, 6, &vu[..5], 3, &vu[..5], 3, w, h).is_err(), "only interleaved chroma");
    }
}
