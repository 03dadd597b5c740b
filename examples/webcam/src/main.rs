//! `bokeh-webcam`: live portrait mode in a window.
//!
//! Frames come from a camera (nokhwa: V4L2, AVFoundation, Media Foundation) or, with `--input`,
//! from a video file, a Y4M file or pipe, or a folder of images. They go through one
//! [`bokeh::Stream`] (the model works on frame N+1 while frame N is composited, one frame of
//! latency, each mask applied to its own frame) with the mask smoothed over time, and the
//! result is shown in a minifb window whose title carries the frame rate, the stage times and
//! the latency. Keys change the look live. `--output -` also writes the result as Y4M to
//! standard output, for ffmpeg or a v4l2loopback virtual camera. Nothing here panics on a
//! missing camera or display: each is a one-line error with what to do instead.

mod source;
mod view;

use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use bokeh::args::parse_size;
use bokeh::{Backend, BlurKind, Frame, Mode, Options, Segmenter, Stream, Temporal, Y4mWriter};
use clap::Parser;

use crate::source::Source;
use crate::view::{Key, View};

const AFTER_HELP: &str = "\
Keys: M mode (blur, cut-out, mask, replace with --background), Up/Down strength, K kernel
(disc/Gaussian), S smoothing on/off, B backend (CPU/GPU), Esc or Q quit.

Examples:
  bokeh-webcam                                   the first camera, in a window
  bokeh-webcam --input clip.mp4 --loop           a video instead (ffmpeg decodes it)
  bokeh-webcam --output - --no-window | ffmpeg -f yuv4mpegpipe -i - -f v4l2 /dev/video9
                                                 a virtual camera through v4l2loopback";

/// Live portrait mode from a webcam (or a video) in a window.
#[derive(Debug, Parser)]
#[command(name = "bokeh-webcam", version, about, after_help = AFTER_HELP)]
struct Args {
    /// Camera number (0 = the first one).
    #[arg(long, default_value_t = 0)]
    camera: u32,

    /// Camera resolution to ask for, WxH (the closest the camera offers is used).
    #[arg(long, default_value = "1280x720", value_parser = parse_size)]
    camera_size: (u32, u32),

    /// Instead of a camera: a video file (decoded by ffmpeg), a .y4m file, a folder of
    /// frames, or - for Y4M on standard input.
    #[arg(short, long, value_name = "SOURCE")]
    input: Option<String>,

    /// The --input is raw RGB24 frames of this size (e.g. from `ffmpeg -f rawvideo -pix_fmt rgb24`).
    #[arg(long, value_name = "WxH", value_parser = parse_size, requires = "input")]
    raw: Option<(u32, u32)>,

    /// Play a file or folder source over and over.
    #[arg(long = "loop")]
    repeat: bool,

    /// Show a file source at its own frame rate instead of as fast as it can be processed.
    #[arg(long)]
    realtime: bool,

    /// Also write the result as Y4M to standard output (`-`): for ffmpeg, or a v4l2loopback
    /// virtual camera.
    #[arg(short, long, value_name = "-", value_parser = ["-"])]
    output: Option<String>,

    /// No window (with --output, or to measure).
    #[arg(long)]
    no_window: bool,

    /// Stop after this many frames.
    #[arg(long, value_name = "N")]
    frames: Option<u64>,

    /// What to show.
    #[arg(short, long, value_enum, default_value_t = Mode::Blur)]
    mode: Mode,

    /// Blur radius as a fraction of the frame's diagonal (0 to 0.25).
    #[arg(short, long, default_value_t = Options::DEFAULT_STRENGTH)]
    strength: f32,

    /// Gaussian instead of the lens-like disc.
    #[arg(long)]
    gaussian: bool,

    /// New background for the replace mode.
    #[arg(long, value_name = "IMAGE")]
    background: Option<std::path::PathBuf>,

    /// Where the pixel stages run.
    #[arg(long, value_enum, default_value_t = Backend::Auto)]
    backend: Backend,

    /// Run the model on every N-th frame only (the frames between reuse the newest mask).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    mask_every: u32,

    /// Reuse the newest mask while the picture changes less than this (mean 8-bit difference of
    /// a small grey thumbnail; 2 suits a camera on a tripod).
    #[arg(long, value_name = "CODES")]
    still_threshold: Option<f32>,

    /// Turn the temporal smoothing of the mask off (and with it the subject-tracking crop).
    #[arg(long)]
    no_smooth: bool,

    /// Turn the subject-tracking crop off: the model always sees the whole frame.
    #[arg(long)]
    no_track: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bokeh-webcam: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Where finished frames go: the window, standard output, and the time sums for the summary.
struct Outputs {
    view: Option<View>,
    y4m: bool,
    sink: Option<Y4mWriter<Box<dyn Write>>>,
    fps: Option<f64>,
    totals: Totals,
}

/// Per-frame time sums for the summary.
#[derive(Default)]
struct Totals {
    frames: u64,
    capture: Duration,
    display: Duration,
    stages: [Duration; 5],
    latency: Duration,
}

fn options(args: &Args) -> Result<Options> {
    let mut options = Options::default()
        .with_mode(args.mode)
        .with_strength(args.strength)
        .with_blur(if args.gaussian { BlurKind::Gaussian } else { BlurKind::Disc })
        .with_backend(args.backend)
        .with_temporal((!args.no_smooth).then(Temporal::default))
        .with_tracking((!args.no_track).then(bokeh::Tracking::default));
    if let Some(path) = &args.background {
        let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let frame = bokeh::decode_frame(&bytes, bokeh::DecodeLimits::default())
            .with_context(|| format!("background {}", path.display()))?;
        options = options.with_background(frame);
    }
    options.validate()?;
    Ok(options)
}

fn run(args: &Args) -> Result<()> {
    let mut options = options(args)?;
    let mut source = match (&args.input, args.raw) {
        (Some(input), Some(size)) => Source::raw(input, size)?,
        (Some(input), None) => Source::open(input, args.repeat)?,
        (None, _) => Source::camera(args.camera, args.camera_size)?,
    };
    let segmenter = Segmenter::new()?;
    let mut stream = Stream::new(&segmenter, options.clone())?;
    stream.set_mask_interval(args.mask_every)?;
    stream.set_still_threshold(args.still_threshold)?;
    eprintln!("bokeh-webcam: pixel stages on {}", stream.backend_description());
    let view = if args.no_window { None } else { Some(View::open()?) };
    let fps = source.fps().filter(|f| *f > 0.0);
    let mut outs = Outputs { view, y4m: args.output.is_some(), sink: None, fps, totals: Totals::default() };
    let pace = if args.realtime { fps.map(|f| Duration::from_secs_f64(1.0 / f)) } else { None };
    let mut out: Option<Frame> = None;
    let mut notice = String::new();
    let started = Instant::now();
    let mut shown_since = (Instant::now(), 0u64);
    let mut failed = None;
    loop {
        if args.frames.is_some_and(|n| stream.mask_counts().0 >= n) {
            break;
        }
        if let Some(v) = outs.view.as_mut() {
            if !v.is_open() {
                break;
            }
            let mut quit = false;
            for key in v.keys() {
                match apply_key(key, &mut options, args.background.is_some(), &mut stream) {
                    Ok(true) => notice.clear(),
                    Ok(false) => quit = true,
                    Err(e) => notice = format!("{e:#}"),
                }
            }
            if quit {
                break;
            }
        }
        let t0 = Instant::now();
        // A source that fails mid-way still gets its finished frames out first.
        let frame = match source.next() {
            Ok(Some(frame)) => frame,
            Ok(None) => break,
            Err(e) => {
                failed = Some(e);
                break;
            }
        };
        outs.totals.capture += t0.elapsed();
        let format = stream.output_format(frame.format());
        let target = out.get_or_insert(Frame::new(frame.width(), frame.height(), format)?);
        if (target.width(), target.height(), target.format()) != (frame.width(), frame.height(), format) {
            *target = Frame::new(frame.width(), frame.height(), format)?;
        }
        if stream.push(frame.as_ref(), &mut target.as_mut())? {
            outs.show(&stream, target)?;
            shown_since.1 += 1;
        }
        let elapsed = shown_since.0.elapsed();
        if elapsed > Duration::from_millis(500) {
            let fps = shown_since.1 as f64 / elapsed.as_secs_f64();
            shown_since = (Instant::now(), 0);
            if let Some(v) = outs.view.as_mut() {
                v.set_title(&title(fps, &stream, &options, &notice));
            }
        }
        if let Some(rest) = pace.and_then(|p| p.checked_sub(t0.elapsed())) {
            std::thread::sleep(rest);
        }
    }
    if let Some(target) = out.as_mut() {
        while stream.finish(&mut target.as_mut())? {
            outs.show(&stream, target)?;
        }
    }
    outs.summary(started.elapsed(), stream.mask_counts());
    failed.map_or(Ok(()), Err)
}

impl Outputs {
    /// Shows (and writes) one finished frame.
    fn show(&mut self, stream: &Stream, frame: &Frame) -> Result<()> {
        let t = Instant::now();
        if let Some(v) = self.view.as_mut() {
            v.show(frame)?;
        }
        if self.y4m {
            let rgb = view::displayable(frame);
            if self.sink.is_none() {
                let writer: Box<dyn Write> = Box::new(std::io::BufWriter::new(std::io::stdout()));
                let fps = self.fps.map_or((30, 1), |f| ((f * 1000.0).round() as usize, 1000));
                self.sink = Some(Y4mWriter::new(writer, rgb.width(), rgb.height(), fps)?);
            }
            if let Some(w) = self.sink.as_mut() {
                w.write(rgb.as_ref()).context("standard output")?;
            }
        }
        let totals = &mut self.totals;
        totals.display += t.elapsed();
        totals.frames += 1;
        for (sum, (_, d)) in totals.stages.iter_mut().zip(stream.timings().stages()) {
            *sum += d;
        }
        totals.latency += stream.latency();
        Ok(())
    }

    /// The frame rate and where the time went, on standard error.
    fn summary(&self, wall: Duration, (pushed, masks): (u64, u64)) {
        let totals = &self.totals;
        let n = totals.frames.max(1) as f64;
        let ms = |d: Duration| d.as_secs_f64() * 1000.0 / n;
        let names = ["preprocess", "inference", "upsample", "blur", "composite"];
        let stages: Vec<String> = names.iter().zip(totals.stages).map(|(s, d)| format!("{s} {:.2}", ms(d))).collect();
        eprintln!(
            "bokeh-webcam: {} frames in {:.2} s ({:.1} fps); ms per frame: capture {:.2}, {}, display {:.2}; \
             latency 1 frame, {:.1} ms; the model ran on {masks} of {pushed} frames",
            totals.frames,
            wall.as_secs_f64(),
            totals.frames as f64 / wall.as_secs_f64(),
            ms(totals.capture),
            stages.join(", "),
            ms(totals.display),
            ms(totals.latency),
        );
    }
}

/// One key press: applies it to the stream; `false` to quit.
fn apply_key(key: Key, options: &mut Options, has_background: bool, stream: &mut Stream) -> Result<bool> {
    let mut next = options.clone();
    match key {
        Key::Quit => return Ok(false),
        Key::Mode => {
            next.mode = match next.mode {
                Mode::Blur => Mode::Cutout,
                Mode::Cutout => Mode::Mask,
                Mode::Mask if has_background => Mode::Replace,
                _ => Mode::Blur,
            }
        }
        Key::Stronger => next.strength = (next.strength + 0.01).min(Options::MAX_STRENGTH),
        Key::Weaker => next.strength = (next.strength - 0.01).max(0.0),
        Key::Kernel => {
            next.blur = match next.blur {
                BlurKind::Disc => BlurKind::Hexagon,
                BlurKind::Hexagon => BlurKind::Gaussian,
                _ => BlurKind::Disc,
            };
        }
        Key::Refine => next.refine = if next.refine.is_some() { None } else { Some(bokeh::Refine::default()) },
        Key::Smoothing => next.temporal = if next.temporal.is_some() { None } else { Some(Temporal::default()) },
        Key::Backend => next.backend = if stream_uses_gpu(stream) { Backend::Cpu } else { Backend::Gpu },
    }
    stream.set_options(next.clone())?;
    *options = next;
    Ok(true)
}

fn stream_uses_gpu(stream: &Stream) -> bool {
    stream.backend_description().starts_with("GPU")
}

fn title(fps: f64, stream: &Stream, options: &Options, notice: &str) -> String {
    let t = stream.timings();
    let pixels = t.upsample + t.blur + t.composite;
    let mode = match options.mode {
        Mode::Blur => "blur",
        Mode::Replace => "replace",
        Mode::Cutout => "cut-out",
        _ => "mask",
    };
    let kernel = match options.blur {
        BlurKind::Disc => "disc",
        BlurKind::Hexagon => "hexagon",
        _ => "gaussian",
    };
    let backend = if stream_uses_gpu(stream) { "GPU" } else { "CPU" };
    let mut s = format!(
        "bokeh webcam | {fps:.1} fps | inference {:.1} ms, pixels {:.1} ms ({backend}) | latency {} frame, {:.0} ms, \
         mask age {} | {mode} {:.2} {kernel} | smoothing {}, refine {}",
        t.inference.as_secs_f64() * 1e3,
        pixels.as_secs_f64() * 1e3,
        stream.latency_frames(),
        stream.latency().as_secs_f64() * 1e3,
        stream.mask_age(),
        options.strength,
        if options.temporal.is_some() { "on" } else { "off" },
        if options.refine.is_some() { "on" } else { "off" },
    );
    if !notice.is_empty() {
        s.push_str(" | ");
        s.push_str(notice);
    }
    s
}
