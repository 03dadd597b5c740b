//! Decoding untrusted image files without surprises (feature `image`).
//!
//! Photos come from anywhere: a header can claim 100000×100000 pixels, a JPEG can stop half-way,
//! a text file can be named `.png`. [`decode_image`] checks what it can before allocating pixel
//! memory — the format from the content, the size from the header against [`DecodeLimits`] — and
//! refuses a JPEG without its end-of-image marker (the `image` crate would otherwise fill the
//! missing part with grey and report success). EXIF orientation is applied, so the result is
//! upright.

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader};

use crate::error::{Error, Result};
use crate::frame::Frame;

/// How large a decoded image may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Most pixels (width × height) accepted.
    pub max_pixels: u64,
}

impl DecodeLimits {
    /// Longest side accepted, whatever the pixel budget.
    pub const MAX_SIDE: u32 = 65_535;
}

impl Default for DecodeLimits {
    /// 100 megapixels: every phone camera's full-resolution photo, with margin.
    fn default() -> Self {
        DecodeLimits { max_pixels: 100_000_000 }
    }
}

/// Whether a JPEG stream ends properly: an EOI marker (`FF D9`) after the first scan. Inside
/// entropy-coded data `FF` is always followed by `00` or a restart marker, so `FF D9` there can
/// only be the end of the image; a truncated file has none.
fn jpeg_is_complete(bytes: &[u8]) -> bool {
    let sos = bytes.windows(2).position(|w| w == [0xFF, 0xDA]);
    sos.is_some_and(|start| bytes[start..].windows(2).any(|w| w == [0xFF, 0xD9]))
}

fn decode_error(message: impl Into<String>) -> Error {
    Error::Decode(message.into())
}

/// Decodes an encoded image (JPEG, PNG, and WebP where the `image` crate has it enabled) within
/// `limits`, upright per its EXIF orientation.
pub fn decode_image(bytes: &[u8], limits: DecodeLimits) -> Result<DynamicImage> {
    if bytes.is_empty() {
        return Err(decode_error("empty file"));
    }
    let reader = ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| decode_error(format!("cannot read: {e}")))?;
    let format = reader.format().ok_or_else(|| decode_error("not a jpg, png or webp image"))?;
    if format == ImageFormat::Jpeg && !jpeg_is_complete(bytes) {
        return Err(decode_error("truncated JPEG (no end-of-image marker)"));
    }
    let mut decoder = reader.into_decoder().map_err(|e| decode_error(format!("not a supported image: {e}")))?;
    let (width, height) = decoder.dimensions();
    let pixels = width as u64 * height as u64;
    if pixels > limits.max_pixels || width > DecodeLimits::MAX_SIDE || height > DecodeLimits::MAX_SIDE {
        return Err(Error::TooLarge { width, height, max_pixels: limits.max_pixels });
    }
    let mut decoder_limits = image::Limits::default();
    // Room for the largest pixel type (RGBA, 32-bit float) plus the decoder's own buffers.
    decoder_limits.max_alloc = Some(pixels.saturating_mul(16).max(1 << 26));
    decoder.set_limits(decoder_limits).map_err(|e| decode_error(format!("image too large: {e}")))?;
    let orientation = decoder.orientation().map_err(|e| decode_error(format!("bad orientation data: {e}")))?;
    let mut img = DynamicImage::from_decoder(decoder).map_err(|e| decode_error(format!("cannot decode: {e}")))?;
    img.apply_orientation(orientation);
    Ok(img)
}

/// [`decode_image`] straight to an RGB8 (or RGBA8, with alpha) [`Frame`].
pub fn decode_frame(bytes: &[u8], limits: DecodeLimits) -> Result<Frame> {
    Frame::from_dynamic_image(decode_image(bytes, limits)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jpeg_completeness_needs_an_end_marker_after_the_scan() {
        assert!(jpeg_is_complete(&[0xFF, 0xD8, 0xFF, 0xDA, 1, 2, 0xFF, 0x00, 0xFF, 0xD9]));
        assert!(!jpeg_is_complete(&[0xFF, 0xD8, 0xFF, 0xDA, 1, 2, 0xFF, 0x00]));
        assert!(!jpeg_is_complete(&[0xFF, 0xD9, 0xFF, 0xDA, 1, 2]), "an EOI before the scan does not count");
        assert!(!jpeg_is_complete(&[]));
    }

    #[test]
    fn small_valid_images_decode_and_bad_bytes_are_errors() {
        let mut png = Vec::new();
        image::RgbImage::from_pixel(3, 2, image::Rgb([1, 2, 3]))
            .write_to(&mut std::io::Cursor::new(&mut png), ImageFormat::Png)
            .expect("encode");
        let frame = decode_frame(&png, DecodeLimits::default()).expect("decodes");
        assert_eq!((frame.width(), frame.height()), (3, 2));
        let err = decode_frame(&png, DecodeLimits { max_pixels: 5 }).expect_err("over the limit");
        assert!(matches!(err, Error::TooLarge { width: 3, height: 2, max_pixels: 5 }), "{err}");
        for bad in [&b""[..], b"hello", &png[..png.len() / 2]] {
            assert!(matches!(decode_frame(bad, DecodeLimits::default()), Err(Error::Decode(_))));
        }
    }
}
