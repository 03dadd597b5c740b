//! Y4M (YUV4MPEG2) video in and out (feature `y4m`): the uncompressed stream that ffmpeg pipes
//! (`ffmpeg -i in.mp4 -pix_fmt yuv420p -f yuv4mpegpipe -`) and that v4l2loopback virtual
//! cameras are fed with.
//!
//! Only 8-bit 4:2:0 is read and written (what `-pix_fmt yuv420p` gives), converted to and from
//! RGB frames with [`crate::yuv`] (BT.601, limited range, chroma centred). Parsing is the `y4m`
//! crate's; this module adds what a streaming tool needs on top: the frame size is checked
//! against a pixel limit *before* the decoder allocates a frame, and a stream that stops in the
//! middle of a frame is an error that says so, while one that stops between frames is a clean
//! end.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::frame::{FrameMut, FrameRef};
use crate::yuv::{YuvColor, YuvFrame, YuvFrameRef, YuvLayout};

/// A reader that counts the bytes it hands out, to tell a clean end from a truncated frame.
struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

fn invalid(e: y4m::Error) -> Error {
    match e {
        y4m::Error::EOF => Error::Decode("unexpected end of the Y4M stream".into()),
        y4m::Error::UnknownColorspace => Error::Decode("unknown Y4M colour space".into()),
        other => Error::Decode(format!("not a valid Y4M stream ({other})")),
    }
}

/// Reads the frames of a Y4M stream as RGB.
pub struct Y4mReader<R: Read> {
    decoder: y4m::Decoder<Counting<R>>,
    read: Arc<AtomicU64>,
    width: u32,
    height: u32,
    frame_bytes: u64,
    index: usize,
}

impl<R: Read> std::fmt::Debug for Y4mReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Y4mReader").field("width", &self.width).field("height", &self.height).finish_non_exhaustive()
    }
}

impl<R: Read> Y4mReader<R> {
    /// Reads the stream header. Frames over `max_pixels` are refused here
    /// ([`Error::TooLarge`]), before any frame buffer exists; so are colour spaces other than
    /// 8-bit 4:2:0 and headers that are not Y4M ([`Error::Decode`]).
    pub fn new(reader: R, max_pixels: u64) -> Result<Self> {
        let read = Arc::new(AtomicU64::new(0));
        let counting = Counting { inner: reader, count: Arc::clone(&read) };
        // The decoder allocates one frame from the header's size (1.5 bytes per pixel, plus
        // rounding): its own cap, at 2 bytes per pixel, stops absurd headers before that
        // allocation; the exact pixel check below names the size of anything nearer the limit.
        let max_bytes = usize::try_from(max_pixels.saturating_mul(2)).unwrap_or(usize::MAX);
        let decoder =
            y4m::Decoder::new_with_limits(counting, y4m::Limits { bytes: max_bytes }).map_err(|e| match e {
                y4m::Error::EOF => Error::Decode("not a valid Y4M stream (it ends inside the header)".into()),
                // Only the size is known to be too large here, not the exact dimensions.
                y4m::Error::OutOfMemory => Error::Decode(format!(
                    "the frames are over the size limit of {:.1} megapixels",
                    max_pixels as f64 / 1e6
                )),
                e => invalid(e),
            })?;
        match decoder.get_colorspace() {
            y4m::Colorspace::C420
            | y4m::Colorspace::C420jpeg
            | y4m::Colorspace::C420paldv
            | y4m::Colorspace::C420mpeg2 => {}
            other => {
                return Err(Error::Decode(format!(
                    "Y4M colour space {other:?} is not supported; use 8-bit 4:2:0 (ffmpeg -pix_fmt yuv420p)"
                )))
            }
        }
        let (w, h) = (decoder.get_width(), decoder.get_height());
        let too_large = || Error::Decode(format!("{w}x{h} frames are too large"));
        let (width, height) = (u32::try_from(w).map_err(|_| too_large())?, u32::try_from(h).map_err(|_| too_large())?);
        if width as u64 * height as u64 > max_pixels {
            return Err(Error::TooLarge { width, height, max_pixels });
        }
        let frame_bytes = w as u64 * h as u64 + 2 * (w.div_ceil(2) as u64 * h.div_ceil(2) as u64);
        Ok(Y4mReader { decoder, read, width, height, frame_bytes, index: 0 })
    }

    /// Frame width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Frame height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// Frame rate as `(numerator, denominator)` frames per second.
    pub fn fps(&self) -> (usize, usize) {
        let r = self.decoder.get_framerate();
        (r.num, r.den)
    }

    /// Frames read so far.
    pub fn frames_read(&self) -> usize {
        self.index
    }

    /// Reads the next frame into `out` (this stream's size, any RGB-like format); `false` at
    /// a clean end of the stream, an error naming the frame if it stops inside one.
    pub fn read_into(&mut self, out: &mut FrameMut<'_>) -> Result<bool> {
        let before = self.read.load(Ordering::Relaxed);
        let n = self.index + 1;
        let frame = match self.decoder.read_frame() {
            Ok(frame) => frame,
            Err(y4m::Error::EOF) => {
                let partial = self.read.load(Ordering::Relaxed) - before;
                if partial > 0 {
                    return Err(Error::Decode(format!(
                        "Y4M input is truncated: frame {n} has {partial} of its {} bytes",
                        self.frame_bytes
                    )));
                }
                return Ok(false);
            }
            Err(e) => return Err(Error::Decode(format!("Y4M frame {n}: {}", invalid(e)))),
        };
        let cw = self.width.div_ceil(2) as usize;
        let yuv = YuvFrameRef::i420(
            frame.get_y_plane(),
            self.width as usize,
            frame.get_u_plane(),
            cw,
            frame.get_v_plane(),
            cw,
            self.width,
            self.height,
        )?;
        yuv.to_rgb_into(out)?;
        self.index += 1;
        Ok(true)
    }
}

/// Writes RGB frames as a Y4M stream: 8-bit 4:2:0 (`C420jpeg`, centred chroma), BT.601
/// limited range, as ffmpeg assumes.
pub struct Y4mWriter<W: Write> {
    encoder: y4m::Encoder<W>,
    width: u32,
    height: u32,
}

impl<W: Write> std::fmt::Debug for Y4mWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Y4mWriter").field("width", &self.width).field("height", &self.height).finish_non_exhaustive()
    }
}

impl<W: Write> Y4mWriter<W> {
    /// Writes the header for `width × height` frames at `fps` (numerator, denominator).
    pub fn new(writer: W, width: u32, height: u32, fps: (usize, usize)) -> Result<Self> {
        let encoder = y4m::encode(width as usize, height as usize, y4m::Ratio::new(fps.0.max(1), fps.1.max(1)))
            .with_colorspace(y4m::Colorspace::C420jpeg)
            .write_header(writer)
            .map_err(|e| Error::Encode(format!("writing the Y4M header: {e}")))?;
        Ok(Y4mWriter { encoder, width, height })
    }

    /// Appends one frame (this writer's size; RGB, RGBA, BGRA or grey).
    pub fn write(&mut self, frame: FrameRef<'_>) -> Result<()> {
        if (frame.width(), frame.height()) != (self.width, self.height) {
            return Err(Error::SizeMismatch {
                what: "Y4M frame",
                expected: crate::Dims(self.width, self.height),
                actual: crate::Dims(frame.width(), frame.height()),
            });
        }
        let yuv = YuvFrame::from_rgb(frame, YuvLayout::I420, YuvColor::default())?;
        let planes = [yuv.plane(0).0, yuv.plane(1).0, yuv.plane(2).0];
        self.encoder
            .write_frame(&y4m::Frame::new(planes, None))
            .map_err(|e| Error::Encode(format!("writing a Y4M frame: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{Frame, PixelFormat};

    fn gradient(w: u32, h: u32) -> Frame {
        let data = (0..w * h).flat_map(|i| [(i % w * 255 / w) as u8, (i / w * 255 / h) as u8, 128]).collect();
        Frame::from_vec(data, w, h, PixelFormat::Rgb8).expect("frame")
    }

    #[test]
    fn frames_round_trip_and_a_clean_end_is_not_an_error() {
        let (w, h) = (33, 17);
        let frame = gradient(w, h);
        let mut bytes = Vec::new();
        {
            let mut writer = Y4mWriter::new(&mut bytes, w, h, (30, 1)).expect("header");
            for _ in 0..3 {
                writer.write(frame.as_ref()).expect("frame");
            }
        }
        let mut reader = Y4mReader::new(bytes.as_slice(), 1 << 20).expect("reader");
        assert_eq!((reader.width(), reader.height(), reader.fps()), (w, h, (30, 1)));
        let mut out = Frame::new(w, h, PixelFormat::Rgb8).expect("out");
        for _ in 0..3 {
            assert!(reader.read_into(&mut out.as_mut()).expect("frame"));
            // 4:2:0 in limited range: smooth gradients survive within a few codes.
            let max = out.data().iter().zip(frame.data()).map(|(a, b)| a.abs_diff(*b)).max().unwrap_or(0);
            assert!(max <= 12, "max {max}");
        }
        assert!(!reader.read_into(&mut out.as_mut()).expect("clean end"));
        assert_eq!(reader.frames_read(), 3);
    }

    #[test]
    fn truncation_size_and_junk_are_errors() {
        let frame = gradient(8, 8);
        let mut bytes = Vec::new();
        Y4mWriter::new(&mut bytes, 8, 8, (25, 1)).expect("header").write(frame.as_ref()).expect("frame");
        let cut = &bytes[..bytes.len() - 10];
        let mut reader = Y4mReader::new(cut, 1 << 20).expect("reader");
        let mut out = Frame::new(8, 8, PixelFormat::Rgb8).expect("out");
        let err = reader.read_into(&mut out.as_mut()).expect_err("truncated").to_string();
        assert!(err.contains("truncated: frame 1"), "{err}");
        assert!(matches!(Y4mReader::new(bytes.as_slice(), 63), Err(Error::TooLarge { width: 8, height: 8, .. })));
        assert!(Y4mReader::new(&b"P6 8 8 255\n"[..], 1 << 20).is_err());
        let mut writer = Y4mWriter::new(Vec::new(), 8, 8, (25, 1)).expect("header");
        assert!(matches!(writer.write(gradient(9, 8).as_ref()), Err(Error::SizeMismatch { .. })));
    }
}
