//! Where frames come from: a camera (nokhwa), a video file (decoded by ffmpeg into Y4M), a Y4M
//! file or stream, or a folder of images. Every source hands out RGB frames.

use std::collections::VecDeque;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{bail, Context, Result};
use bokeh::{DecodeLimits, Frame, PixelFormat, Y4mReader, YuvFrameRef};
use nokhwa::pixel_format::RgbFormat;
use nokhwa::utils::{
    ApiBackend, CameraFormat, CameraIndex, FrameFormat, RequestedFormat, RequestedFormatType, Resolution,
};

/// What to do when no camera can be opened: the alternatives, in one message.
pub(crate) const NO_CAMERA_HELP: &str = "without a camera, give the demo a video instead:
  --input clip.mp4          any video ffmpeg reads (ffmpeg must be on PATH)
  --input clip.y4m          a Y4M file (ffmpeg -i clip.mp4 -pix_fmt yuv420p clip.y4m)
  --input frames/           a folder of jpg/png/webp frames, in name order
  --input -                 Y4M on standard input (ffmpeg ... -f yuv4mpegpipe - | bokeh-webcam --input -)
  --input - --raw WxH       raw RGB24 frames on standard input (ffmpeg ... -f rawvideo -pix_fmt rgb24 -)";

/// Largest frame accepted from files and pipes (a 8K frame is 33 megapixels).
const LIMITS: DecodeLimits = DecodeLimits { max_pixels: 40_000_000 };

pub(crate) enum Source {
    Camera { camera: Box<nokhwa::Camera>, rgb: Option<Frame> },
    Y4m { reader: Box<Y4mReader<BufReader<Box<dyn Read>>>>, rgb: Frame, child: Option<Child>, reopen: Option<String> },
    Frames { all: Vec<PathBuf>, left: VecDeque<PathBuf>, repeat: bool },
    Raw { reader: Box<dyn Read>, size: (u32, u32), buffer: Vec<u8>, index: u64 },
}

impl Source {
    /// Camera `index`, asking for about `size` at 30 fps.
    pub(crate) fn camera(index: u32, size: (u32, u32)) -> Result<Self> {
        #[cfg(target_os = "macos")]
        nokhwa::nokhwa_initialize(|_| {});
        let cameras = nokhwa::query(ApiBackend::Auto).map_err(|e| anyhow::anyhow!("cannot list cameras ({e})"))?;
        if cameras.is_empty() {
            bail!("no camera found; {NO_CAMERA_HELP}");
        }
        let want = CameraFormat::new(Resolution::new(size.0, size.1), FrameFormat::YUYV, 30);
        let requested = RequestedFormat::new::<RgbFormat>(RequestedFormatType::Closest(want));
        let mut camera = nokhwa::Camera::new(CameraIndex::Index(index), requested)
            .map_err(|e| anyhow::anyhow!("cannot open camera {index} ({e}); {NO_CAMERA_HELP}"))?;
        camera.open_stream().map_err(|e| anyhow::anyhow!("cannot start camera {index} ({e}); {NO_CAMERA_HELP}"))?;
        Ok(Source::Camera { camera: Box::new(camera), rgb: None })
    }

    /// `-` (Y4M on stdin), a `.y4m` file, a folder of images, or any other video (via ffmpeg).
    pub(crate) fn open(input: &str, repeat: bool) -> Result<Self> {
        let path = Path::new(input);
        if input != "-" && path.is_dir() {
            let mut all: Vec<PathBuf> = std::fs::read_dir(path)
                .with_context(|| format!("cannot read {input}"))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.extension()
                        .and_then(|e| e.to_str())
                        .is_some_and(|e| ["jpg", "jpeg", "png", "webp"].iter().any(|x| e.eq_ignore_ascii_case(x)))
                })
                .collect();
            all.sort();
            if all.is_empty() {
                bail!("{input}: no jpg, png or webp frames in this folder");
            }
            return Ok(Source::Frames { left: all.clone().into(), all, repeat });
        }
        let is_y4m = input == "-" || path.extension().is_some_and(|e| e.eq_ignore_ascii_case("y4m"));
        let (reader, child): (Box<dyn Read>, Option<Child>) = if input == "-" {
            (Box::new(std::io::stdin()), None)
        } else if is_y4m {
            (Box::new(std::fs::File::open(path).with_context(|| format!("cannot open {input}"))?), None)
        } else {
            if !path.is_file() {
                bail!("{input}: no such file");
            }
            let mut child = Command::new("ffmpeg")
                .args(["-loglevel", "error", "-nostdin", "-i", input, "-f", "yuv4mpegpipe", "-pix_fmt", "yuv420p", "-"])
                .stdout(Stdio::piped())
                .spawn()
                .with_context(|| format!("{input}: reading this video needs ffmpeg on PATH (or convert it to .y4m)"))?;
            let stdout = child.stdout.take().context("ffmpeg's output")?;
            (Box::new(stdout), Some(child))
        };
        let reader = Y4mReader::new(BufReader::new(reader), LIMITS.max_pixels).with_context(|| input.to_string())?;
        let rgb = Frame::new(reader.width(), reader.height(), PixelFormat::Rgb8)?;
        let reopen = (repeat && input != "-").then(|| input.to_string());
        Ok(Source::Y4m { reader: Box::new(reader), rgb, child, reopen })
    }

    /// Raw RGB24 frames of `size` from `input` (`-` for standard input, or a file).
    pub(crate) fn raw(input: &str, size: (u32, u32)) -> Result<Self> {
        let reader: Box<dyn Read> = if input == "-" {
            Box::new(BufReader::new(std::io::stdin()))
        } else {
            Box::new(BufReader::new(std::fs::File::open(input).with_context(|| format!("cannot open {input}"))?))
        };
        if size.0 as u64 * size.1 as u64 > LIMITS.max_pixels {
            bail!("--raw {}x{}: larger than {} megapixels", size.0, size.1, LIMITS.max_pixels / 1_000_000);
        }
        Ok(Source::Raw { reader, size, buffer: Vec::new(), index: 0 })
    }

    /// Frames per second the source declares, if any.
    pub(crate) fn fps(&self) -> Option<f64> {
        match self {
            Source::Camera { camera, .. } => Some(camera.frame_rate() as f64),
            Source::Y4m { reader, .. } => {
                let (n, d) = reader.fps();
                (d > 0).then(|| n as f64 / d as f64)
            }
            Source::Frames { .. } | Source::Raw { .. } => None,
        }
    }

    /// The next frame, or `None` at the end of a file source.
    pub(crate) fn next(&mut self) -> Result<Option<Frame>> {
        match self {
            Source::Camera { camera, rgb } => {
                let buffer = camera.frame().map_err(|e| anyhow::anyhow!("camera: {e}"))?;
                let res = buffer.resolution();
                let (w, h) = (res.width(), res.height());
                let target = rgb.get_or_insert(Frame::new(w, h, PixelFormat::Rgb8)?);
                if (target.width(), target.height()) != (w, h) {
                    *target = Frame::new(w, h, PixelFormat::Rgb8)?;
                }
                let data = buffer.buffer();
                match buffer.source_frame_format() {
                    // Camera formats go through bokeh's own converters, MJPEG through `image`.
                    FrameFormat::YUYV => {
                        YuvFrameRef::yuyv(data, w as usize * 2, w, h)?.to_rgb_into(&mut target.as_mut())?
                    }
                    FrameFormat::NV12 => {
                        let (y, uv) = data.split_at((w * h) as usize);
                        YuvFrameRef::nv12(y, w as usize, uv, w.div_ceil(2) as usize * 2, w, h)?
                            .to_rgb_into(&mut target.as_mut())?
                    }
                    FrameFormat::MJPEG => *target = bokeh::decode_frame(data, LIMITS)?,
                    FrameFormat::RAWRGB => *target = Frame::from_vec(data.to_vec(), w, h, PixelFormat::Rgb8)?,
                    other => bail!("camera delivers {other} frames, which this demo does not convert"),
                }
                Ok(Some(target.clone()))
            }
            Source::Y4m { reader, rgb, child, reopen } => {
                if reader.read_into(&mut rgb.as_mut())? {
                    return Ok(Some(rgb.clone()));
                }
                let Some(input) = reopen.clone() else { return Ok(None) };
                if let Some(mut c) = child.take() {
                    let _ = c.wait();
                }
                *self = Source::open(&input, true)?;
                self.next()
            }
            Source::Raw { reader, size, buffer, index } => {
                let len = size.0 as usize * size.1 as usize * 3;
                buffer.resize(len, 0);
                let mut filled = 0;
                while filled < len {
                    match reader.read(&mut buffer[filled..]) {
                        Ok(0) => break,
                        Ok(n) => filled += n,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(e).context("reading raw frames"),
                    }
                }
                *index += 1;
                match filled {
                    0 => Ok(None),
                    n if n < len => bail!("raw input is truncated: frame {index} has {n} of its {len} bytes"),
                    _ => Ok(Some(Frame::from_vec(buffer.clone(), size.0, size.1, PixelFormat::Rgb8)?)),
                }
            }
            Source::Frames { all, left, repeat } => {
                if left.is_empty() && *repeat {
                    left.extend(all.iter().cloned());
                }
                let Some(path) = left.pop_front() else { return Ok(None) };
                let bytes = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
                Ok(Some(bokeh::decode_frame(&bytes, LIMITS).with_context(|| path.display().to_string())?))
            }
        }
    }
}

impl Drop for Source {
    fn drop(&mut self) {
        if let Source::Y4m { child: Some(child), .. } = self {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
