//! Pixel buffers: borrowed views over caller memory and an owned frame.
//!
//! Camera and FFI buffers arrive with their own row pitch, so every frame carries an explicit
//! `stride` (bytes from the start of one row to the start of the next) next to its width, height
//! and [`PixelFormat`]. Views ([`FrameRef`], [`FrameMut`]) wrap that memory without copying;
//! [`Frame`] owns a tightly packed buffer. All constructors validate the layout with checked
//! arithmetic, so a buffer that is too short, a stride smaller than a row or a size that
//! overflows is an [`Error::InvalidFrame`], never a panic or an out-of-bounds read later on.
//!
//! Colour contract: 8-bit channels are sRGB-encoded and alpha is straight (not premultiplied).
//! Processing never changes alpha.

use crate::error::{Error, Result};

/// Layout of one pixel in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PixelFormat {
    /// Three bytes per pixel: red, green, blue.
    Rgb8,
    /// Four bytes per pixel: red, green, blue, alpha.
    Rgba8,
    /// Four bytes per pixel: blue, green, red, alpha (iOS `CVPixelBuffer`, Windows DIBs).
    Bgra8,
    /// One byte per pixel: grey level (also used for masks).
    Gray8,
}

impl PixelFormat {
    /// Bytes one pixel occupies.
    pub const fn bytes_per_pixel(self) -> usize {
        match self {
            PixelFormat::Rgb8 => 3,
            PixelFormat::Rgba8 | PixelFormat::Bgra8 => 4,
            PixelFormat::Gray8 => 1,
        }
    }

    /// Byte offsets of red, green and blue inside a pixel (all 0 for grey).
    pub(crate) const fn rgb_offsets(self) -> [usize; 3] {
        match self {
            PixelFormat::Rgb8 | PixelFormat::Rgba8 => [0, 1, 2],
            PixelFormat::Bgra8 => [2, 1, 0],
            PixelFormat::Gray8 => [0, 0, 0],
        }
    }

    /// Byte offset of the alpha channel, if the format has one.
    pub(crate) const fn alpha_offset(self) -> Option<usize> {
        match self {
            PixelFormat::Rgba8 | PixelFormat::Bgra8 => Some(3),
            PixelFormat::Rgb8 | PixelFormat::Gray8 => None,
        }
    }
}

/// Checks that `len` bytes can hold `height` rows of `width` pixels spaced `stride` apart, and
/// returns the number of meaningful bytes in one row.
fn check_layout(len: usize, width: u32, height: u32, stride: usize, format: PixelFormat) -> Result<usize> {
    if width == 0 || height == 0 {
        return Err(Error::InvalidFrame(format!("empty frame ({width}x{height})")));
    }
    let row_bytes = (width as usize)
        .checked_mul(format.bytes_per_pixel())
        .ok_or_else(|| Error::InvalidFrame(format!("width {width} overflows")))?;
    if stride < row_bytes {
        return Err(Error::InvalidFrame(format!(
            "stride {stride} is smaller than one row of {width} {format:?} pixels ({row_bytes} bytes)"
        )));
    }
    let needed = stride
        .checked_mul(height as usize - 1)
        .and_then(|n| n.checked_add(row_bytes))
        .ok_or_else(|| Error::InvalidFrame(format!("{width}x{height} with stride {stride} overflows")))?;
    if len < needed {
        return Err(Error::InvalidFrame(format!(
            "buffer of {len} bytes is too short for {width}x{height} {format:?} with stride {stride} \
             ({needed} bytes needed)"
        )));
    }
    Ok(row_bytes)
}

/// A read-only view of an image in caller memory.
#[derive(Debug, Clone, Copy)]
pub struct FrameRef<'a> {
    data: &'a [u8],
    width: u32,
    height: u32,
    stride: usize,
    format: PixelFormat,
}

impl<'a> FrameRef<'a> {
    /// Wraps `data` as `height` rows of `width` pixels, each row starting `stride` bytes after
    /// the previous one. The last row needs only its pixels, not a whole stride.
    pub fn new(data: &'a [u8], width: u32, height: u32, stride: usize, format: PixelFormat) -> Result<Self> {
        check_layout(data.len(), width, height, stride, format)?;
        Ok(FrameRef { data, width, height, stride, format })
    }

    /// Wraps tightly packed pixels (stride = width × bytes per pixel).
    pub fn packed(data: &'a [u8], width: u32, height: u32, format: PixelFormat) -> Result<Self> {
        let stride = (width as usize).saturating_mul(format.bytes_per_pixel());
        Self::new(data, width, height, stride, format)
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// Bytes from the start of one row to the start of the next.
    pub fn stride(&self) -> usize {
        self.stride
    }

    /// Pixel layout.
    pub fn format(&self) -> PixelFormat {
        self.format
    }

    /// The `width × height` rectangle at `(x, y)`, clamped to this frame (at least 1×1).
    pub(crate) fn crop(&self, x: u32, y: u32, width: u32, height: u32) -> FrameRef<'a> {
        let x = x.min(self.width - 1);
        let y = y.min(self.height - 1);
        let start = y as usize * self.stride + x as usize * self.format.bytes_per_pixel();
        FrameRef {
            data: &self.data[start..],
            width: width.clamp(1, self.width - x),
            height: height.clamp(1, self.height - y),
            stride: self.stride,
            format: self.format,
        }
    }

    /// All pixels as one slice when the rows are packed without padding.
    #[cfg(feature = "gpu")]
    pub(crate) fn packed_bytes(&self) -> Option<&'a [u8]> {
        let row_len = self.width as usize * self.format.bytes_per_pixel();
        (self.stride == row_len).then(|| &self.data[..row_len * self.height as usize])
    }

    /// The pixels of row `y` (exactly `width × bytes_per_pixel` bytes); `y < height`, as every
    /// caller iterates over `0..height` (out of range panics like slice indexing).
    pub(crate) fn row(&self, y: u32) -> &'a [u8] {
        let start = y as usize * self.stride;
        &self.data[start..start + self.width as usize * self.format.bytes_per_pixel()]
    }
}

/// A writable view of an image in caller memory.
#[derive(Debug)]
pub struct FrameMut<'a> {
    data: &'a mut [u8],
    width: u32,
    height: u32,
    stride: usize,
    format: PixelFormat,
}

impl<'a> FrameMut<'a> {
    /// Wraps `data` like [`FrameRef::new`], for writing.
    pub fn new(data: &'a mut [u8], width: u32, height: u32, stride: usize, format: PixelFormat) -> Result<Self> {
        check_layout(data.len(), width, height, stride, format)?;
        Ok(FrameMut { data, width, height, stride, format })
    }

    /// Wraps tightly packed pixels for writing.
    pub fn packed(data: &'a mut [u8], width: u32, height: u32, format: PixelFormat) -> Result<Self> {
        let stride = (width as usize).saturating_mul(format.bytes_per_pixel());
        Self::new(data, width, height, stride, format)
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// Pixel layout.
    pub fn format(&self) -> PixelFormat {
        self.format
    }

    /// A read-only view of the same pixels.
    pub fn as_ref(&self) -> FrameRef<'_> {
        FrameRef { data: self.data, width: self.width, height: self.height, stride: self.stride, format: self.format }
    }

    /// Copies `src`, which must have this frame's size and format, into this frame's rows.
    pub fn copy_from(&mut self, src: FrameRef<'_>) -> Result<()> {
        if (src.width, src.height) != (self.width, self.height) {
            return Err(Error::SizeMismatch {
                what: "copied frame",
                expected: crate::Dims(self.width, self.height),
                actual: crate::Dims(src.width, src.height),
            });
        }
        if src.format != self.format {
            return Err(Error::UnsupportedFormat { format: src.format, context: "a copy into another format" });
        }
        let row_bytes = self.width as usize * self.format.bytes_per_pixel();
        for (y, row) in self.data.chunks_mut(self.stride).take(self.height as usize).enumerate() {
            row[..row_bytes].copy_from_slice(src.row(y as u32));
        }
        Ok(())
    }

    /// The pixel memory and the stride, for passes that write several rows at once.
    pub(crate) fn data_and_stride_mut(&mut self) -> (&mut [u8], usize) {
        (self.data, self.stride)
    }

    /// The rows as mutable slices of exactly `width × bytes_per_pixel` bytes, top to bottom.
    pub(crate) fn rows_mut(&mut self) -> impl rayon::iter::IndexedParallelIterator<Item = &mut [u8]> + '_ {
        use rayon::prelude::*;
        let row_bytes = self.width as usize * self.format.bytes_per_pixel();
        let height = self.height as usize;
        self.data.par_chunks_mut(self.stride).take(height).map(move |row| &mut row[..row_bytes])
    }
}

/// An owned, tightly packed image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    data: Vec<u8>,
    width: u32,
    height: u32,
    format: PixelFormat,
}

impl Frame {
    /// A black (all-zero) frame.
    pub fn new(width: u32, height: u32, format: PixelFormat) -> Result<Self> {
        let len = (width as usize)
            .checked_mul(height as usize)
            .and_then(|n| n.checked_mul(format.bytes_per_pixel()))
            .ok_or_else(|| Error::InvalidFrame(format!("{width}x{height} overflows")))?;
        check_layout(len, width, height, width as usize * format.bytes_per_pixel(), format)?;
        Ok(Frame { data: vec![0; len], width, height, format })
    }

    /// The frame in `slot` if it already is a `width × height` frame of `format`, else a new
    /// black one put there: a buffer kept from one frame to the next, reallocated only when the
    /// size or format changes (its pixels are whatever the last user left).
    pub fn reuse(slot: &mut Option<Frame>, width: u32, height: u32, format: PixelFormat) -> Result<&mut Frame> {
        let frame = match slot.take() {
            Some(f) if (f.width, f.height, f.format) == (width, height, format) => f,
            _ => Frame::new(width, height, format)?,
        };
        Ok(slot.insert(frame))
    }

    /// Takes ownership of tightly packed pixels; the length must be exactly
    /// `width × height × bytes_per_pixel`.
    pub fn from_vec(data: Vec<u8>, width: u32, height: u32, format: PixelFormat) -> Result<Self> {
        let row_bytes = check_layout(data.len(), width, height, width as usize * format.bytes_per_pixel(), format)?;
        if data.len() != row_bytes * height as usize {
            return Err(Error::InvalidFrame(format!(
                "buffer of {} bytes does not match {width}x{height} {format:?} ({} bytes)",
                data.len(),
                row_bytes * height as usize
            )));
        }
        Ok(Frame { data, width, height, format })
    }

    /// Copies any view into a packed frame of the same format.
    pub fn from_ref(src: FrameRef<'_>) -> Self {
        let capacity = src.width as usize * src.height as usize * src.format.bytes_per_pixel();
        let mut frame = Frame { data: Vec::with_capacity(capacity), width: 0, height: 0, format: src.format };
        frame.copy_from(src);
        frame
    }

    /// Makes this frame a packed copy of `src`, reusing the allocation when it is large enough.
    pub fn copy_from(&mut self, src: FrameRef<'_>) {
        self.data.clear();
        for y in 0..src.height {
            self.data.extend_from_slice(src.row(y));
        }
        self.width = src.width;
        self.height = src.height;
        self.format = src.format;
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// Pixel layout.
    pub fn format(&self) -> PixelFormat {
        self.format
    }

    /// The packed pixel bytes, row after row.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// Gives the packed pixel bytes back.
    pub fn into_vec(self) -> Vec<u8> {
        self.data
    }

    /// A read-only view.
    pub fn as_ref(&self) -> FrameRef<'_> {
        FrameRef {
            data: &self.data,
            width: self.width,
            height: self.height,
            stride: self.width as usize * self.format.bytes_per_pixel(),
            format: self.format,
        }
    }

    /// A writable view.
    pub fn as_mut(&mut self) -> FrameMut<'_> {
        let stride = self.width as usize * self.format.bytes_per_pixel();
        FrameMut { data: &mut self.data, width: self.width, height: self.height, stride, format: self.format }
    }
}

#[cfg(feature = "image")]
mod image_conv {
    //! Conversions to and from the `image` crate (feature `image`).
    use super::{Frame, FrameRef, PixelFormat};
    use crate::error::Result;
    use image::{DynamicImage, GrayImage, RgbImage, RgbaImage};

    impl<'a> FrameRef<'a> {
        /// Views an `image` RGB buffer.
        pub fn from_rgb_image(img: &'a RgbImage) -> Result<Self> {
            FrameRef::packed(img.as_raw(), img.width(), img.height(), PixelFormat::Rgb8)
        }

        /// Views an `image` RGBA buffer.
        pub fn from_rgba_image(img: &'a RgbaImage) -> Result<Self> {
            FrameRef::packed(img.as_raw(), img.width(), img.height(), PixelFormat::Rgba8)
        }
    }

    impl Frame {
        /// Converts any decoded image to an 8-bit RGB frame, or RGBA when it has alpha
        /// (16-bit and float images are reduced to 8 bits, grey is expanded to RGB).
        pub fn from_dynamic_image(img: DynamicImage) -> Result<Self> {
            let (w, h) = (img.width(), img.height());
            if img.color().has_alpha() {
                Frame::from_vec(img.into_rgba8().into_raw(), w, h, PixelFormat::Rgba8)
            } else {
                Frame::from_vec(img.into_rgb8().into_raw(), w, h, PixelFormat::Rgb8)
            }
        }

        /// Converts to an `image` type: RGB8, RGBA8 (BGRA8 is swizzled) or Luma8.
        pub fn into_dynamic_image(self) -> DynamicImage {
            let (w, h) = (self.width, self.height);
            // The buffers were validated when the frame was made, so the lengths match.
            let conv = match self.format {
                PixelFormat::Rgb8 => RgbImage::from_raw(w, h, self.data).map(DynamicImage::ImageRgb8),
                PixelFormat::Rgba8 => RgbaImage::from_raw(w, h, self.data).map(DynamicImage::ImageRgba8),
                PixelFormat::Bgra8 => {
                    let mut data = self.data;
                    data.chunks_exact_mut(4).for_each(|p| p.swap(0, 2));
                    RgbaImage::from_raw(w, h, data).map(DynamicImage::ImageRgba8)
                }
                PixelFormat::Gray8 => GrayImage::from_raw(w, h, self.data).map(DynamicImage::ImageLuma8),
            };
            conv.unwrap_or_else(|| unreachable!("frame buffers always match their size"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strided_view_reads_rows_without_padding() {
        // 2x2 RGB with 2 bytes of padding per row; the last row has no padding.
        let data = [1, 2, 3, 4, 5, 6, 0, 0, 7, 8, 9, 10, 11, 12];
        let f = FrameRef::new(&data, 2, 2, 8, PixelFormat::Rgb8).expect("valid layout");
        assert_eq!(f.row(0), &[1, 2, 3, 4, 5, 6]);
        assert_eq!(f.row(1), &[7, 8, 9, 10, 11, 12]);
        assert_eq!(Frame::from_ref(f).data(), &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    }

    #[test]
    fn bad_layouts_are_errors() {
        let data = [0u8; 12];
        assert!(FrameRef::new(&data, 0, 2, 6, PixelFormat::Rgb8).is_err(), "zero width");
        assert!(FrameRef::new(&data, 2, 0, 6, PixelFormat::Rgb8).is_err(), "zero height");
        assert!(FrameRef::new(&data, 2, 2, 5, PixelFormat::Rgb8).is_err(), "stride below a row");
        assert!(FrameRef::new(&data, 2, 2, 7, PixelFormat::Rgb8).is_err(), "buffer too short");
        assert!(FrameRef::new(&data, u32::MAX, u32::MAX, usize::MAX, PixelFormat::Rgba8).is_err(), "overflow");
        assert!(Frame::from_vec(vec![0; 13], 2, 2, PixelFormat::Rgb8).is_err(), "length must be exact");
        assert!(Frame::new(u32::MAX, u32::MAX, PixelFormat::Rgba8).is_err(), "size overflows");
        let err = FrameRef::new(&data, 2, 2, 7, PixelFormat::Rgb8).expect_err("too short").to_string();
        assert!(err.contains("13 bytes needed"), "{err}");
    }
}
