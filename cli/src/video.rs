//! `bokeh video`: portrait mode for a sequence of frames, in order, with temporal smoothing.
//!
//! A video is a source of frames (a folder of images in name order, a Y4M file, or Y4M on
//! stdin) and a sink (a folder of images with the same base names, a Y4M file, or Y4M on
//! stdout, so `ffmpeg … -f yuv4mpegpipe - | bokeh video - -o - | ffmpeg …` works). Frames go
//! through one [`bokeh::Stream`]: the model works on frame N+1 while the pixel stages finish
//! frame N, each mask applied to its own frame, and the mask is smoothed over time unless
//! `--no-smooth`. With smoothing the model looks at a crop around the people of the last frames
//! (`--no-track` turns it off, `--full-frame-every N` sets how often it looks at the whole
//! frame; see `src/track.rs`). Y4M is 8-bit 4:2:0 (`ffmpeg -pix_fmt yuv420p`), BT.601 limited range.
//!
//! Nothing half-written is left behind: folder outputs are written one file at a time through
//! the same temporary-file-and-rename as photos, and a Y4M file output is assembled in a
//! temporary file that only takes the final name once the whole video is written.

use std::collections::VecDeque;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};

use bokeh::{Frame, Mode, Options, PixelFormat, Stream, Temporal, Y4mReader, Y4mWriter};

use crate::output::{self, Encoding, Format};
use crate::Look;

/// Arguments of `bokeh video`.
#[derive(Debug, clap::Args)]
pub(crate) struct VideoArgs {
    /// A folder of frames (jpg/png/webp, processed in name order), a .y4m file, or - for Y4M
    /// on standard input.
    #[arg(value_name = "INPUT")]
    input: String,

    /// A folder (created if missing; frames keep their base names, masks and cut-outs are png),
    /// a .y4m file, or - for Y4M on standard output.
    #[arg(short, long, value_name = "OUTPUT")]
    output: String,

    #[command(flatten)]
    look: Look,

    /// Turn off the temporal smoothing of the mask (on by default for video).
    #[arg(long)]
    no_smooth: bool,

    /// Turn off the subject-tracking crop: the model always sees the whole frame (the crop
    /// follows the people of the last frames, so small or distant people keep their mask).
    #[arg(long)]
    no_track: bool,

    /// With tracking, look at the whole frame at least every N frames, so people who walk in
    /// are found.
    #[arg(long, value_name = "N", default_value_t = bokeh::Tracking::default().full_frame_interval,
          value_parser = clap::value_parser!(u32).range(1..))]
    full_frame_every: u32,

    /// Run the model on every N-th frame only; the frames between reuse the newest mask.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    mask_every: u32,

    /// Reuse the newest mask while the picture changes less than this (mean difference of a
    /// small grey thumbnail, in 8-bit codes; 2 suits a still camera).
    #[arg(long, value_name = "CODES")]
    still_threshold: Option<f32>,

    /// Frame rate written into a Y4M output made from a folder of frames.
    #[arg(long, default_value_t = 30)]
    fps: u32,

    /// Replace outputs that already exist.
    #[arg(long)]
    overwrite: bool,

    /// JPEG quality for jpg frames, 1 to 100.
    #[arg(long, value_name = "Q", default_value_t = 92, value_parser = clap::value_parser!(u8).range(1..=100))]
    jpeg_quality: u8,

    /// Print the frame rate and the stage timings at the end.
    #[arg(short, long)]
    verbose: bool,
}

/// Where frames come from.
enum Source {
    Frames { paths: VecDeque<PathBuf>, limits: bokeh::DecodeLimits },
    Y4m { reader: Box<Y4mReader<BufReader<Box<dyn Read>>>>, rgb: Frame },
}

impl Source {
    fn open(input: &str, limits: bokeh::DecodeLimits) -> Result<Self> {
        let path = Path::new(input);
        if input != "-" && path.is_dir() {
            let mut paths: Vec<PathBuf> = std::fs::read_dir(path)
                .with_context(|| format!("cannot read {}", path.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && Format::from_path(p).is_some())
                .collect();
            paths.sort();
            if paths.is_empty() {
                bail!("{}: no jpg, png or webp frames in this folder", path.display());
            }
            return Ok(Source::Frames { paths: paths.into(), limits });
        }
        let reader: Box<dyn Read> = if input == "-" {
            Box::new(std::io::stdin().lock())
        } else {
            Box::new(std::fs::File::open(path).with_context(|| format!("cannot open {input}"))?)
        };
        let reader = Y4mReader::new(BufReader::new(reader), limits.max_pixels).map_err(|e| match e {
            bokeh::Error::TooLarge { width, height, .. } => {
                anyhow::anyhow!("{input}: {width}x{height} frames are over the size limit (--max-megapixels)")
            }
            bokeh::Error::Decode(m) if m.contains("size limit") => {
                anyhow::anyhow!("{input}: {m} (--max-megapixels)")
            }
            e => anyhow::anyhow!("{input}: {e}"),
        })?;
        let rgb = Frame::new(reader.width(), reader.height(), PixelFormat::Rgb8)?;
        Ok(Source::Y4m { reader: Box::new(reader), rgb })
    }

    /// Frame rate, where the source has one.
    fn fps(&self) -> Option<(usize, usize)> {
        match self {
            Source::Y4m { reader, .. } => Some(reader.fps()),
            Source::Frames { .. } => None,
        }
    }

    fn len(&self) -> Option<usize> {
        match self {
            Source::Frames { paths, .. } => Some(paths.len()),
            Source::Y4m { .. } => None,
        }
    }

    /// The next frame and its name (file stem, or frame number), or `None` at the end.
    fn next(&mut self) -> Result<Option<(String, Frame)>> {
        match self {
            Source::Frames { paths, limits } => {
                let Some(path) = paths.pop_front() else { return Ok(None) };
                let img = crate::jobs::decode(&path, *limits).with_context(|| path.display().to_string())?;
                let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
                Ok(Some((name, Frame::from_dynamic_image(img)?)))
            }
            Source::Y4m { reader, rgb } => {
                if !reader.read_into(&mut rgb.as_mut())? {
                    return Ok(None);
                }
                Ok(Some((format!("{:05}", reader.frames_read() - 1), rgb.clone())))
            }
        }
    }
}

/// Where frames go.
enum Sink {
    Frames {
        dir: PathBuf,
        format: Format,
        encoding: Encoding,
        overwrite: bool,
    },
    Y4m {
        encoder: Option<Y4mWriter<Box<dyn Write>>>,
        file: Option<(tempfile::NamedTempFile, PathBuf)>,
        fps: (usize, usize),
    },
}

impl Sink {
    fn open(args: &VideoArgs, mode: Mode, input_format: Option<Format>, fps: (usize, usize)) -> Result<Self> {
        let out = &args.output;
        let is_y4m = out == "-" || Path::new(out).extension().is_some_and(|e| e.eq_ignore_ascii_case("y4m"));
        if is_y4m {
            if mode == Mode::Cutout {
                bail!("--mode cutout needs transparency: write to a folder of png frames, not Y4M");
            }
            let file = if out == "-" {
                None
            } else {
                let path = PathBuf::from(out);
                if path.exists() && !args.overwrite {
                    bail!("{out} exists (use --overwrite to replace it)");
                }
                let dir = match path.parent() {
                    Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                    _ => PathBuf::from("."),
                };
                let mut builder = tempfile::Builder::new();
                builder.prefix(".bokeh-").suffix(".tmp");
                #[cfg(unix)]
                {
                    use std::os::unix::fs::PermissionsExt;
                    builder.permissions(std::fs::Permissions::from_mode(0o644));
                }
                let tmp =
                    builder.tempfile_in(&dir).with_context(|| format!("cannot create a file in {}", dir.display()))?;
                Some((tmp, path))
            };
            return Ok(Sink::Y4m { encoder: None, file, fps });
        }
        let dir = PathBuf::from(out);
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let format = match mode {
            Mode::Cutout | Mode::Mask => Format::Png,
            _ => input_format.unwrap_or(Format::Png),
        };
        Ok(Sink::Frames { dir, format, encoding: Encoding { quality: args.jpeg_quality }, overwrite: args.overwrite })
    }

    fn write(&mut self, name: &str, frame: &Frame) -> Result<()> {
        match self {
            Sink::Frames { dir, format, encoding, overwrite } => {
                let path = dir.join(format!("{name}.{}", format.extension()));
                output::write_atomic(frame.clone(), &path, *format, encoding, *overwrite)
                    .with_context(|| path.display().to_string())
            }
            Sink::Y4m { encoder, file, fps } => {
                if encoder.is_none() {
                    let writer: Box<dyn Write> = match file {
                        Some((tmp, _)) => Box::new(BufWriter::new(tmp.reopen().context("reopening the output")?)),
                        None => Box::new(BufWriter::new(std::io::stdout().lock())),
                    };
                    *encoder = Some(Y4mWriter::new(writer, frame.width(), frame.height(), *fps)?);
                }
                if let Some(e) = encoder {
                    e.write(frame.as_ref())?;
                }
                Ok(())
            }
        }
    }

    /// Flushes and, for a Y4M file, gives it its final name.
    fn finish(self, overwrite: bool) -> Result<()> {
        if let Sink::Y4m { encoder, file, .. } = self {
            drop(encoder); // flushes the BufWriter
            if let Some((tmp, path)) = file {
                tmp.as_file().sync_all().context("writing")?;
                let persisted = if overwrite { tmp.persist(&path) } else { tmp.persist_noclobber(&path) };
                persisted.map_err(|e| e.error).with_context(|| format!("cannot write {}", path.display()))?;
            }
        }
        Ok(())
    }
}

/// Runs `bokeh video`; returns the number of frames written.
pub(crate) fn run(args: &VideoArgs, limits: bokeh::DecodeLimits) -> Result<usize> {
    let temporal = if args.no_smooth { None } else { Some(Temporal::default()) };
    if args.look.quality == crate::CliQuality::High {
        anyhow::bail!(
            "--quality high is for photos (MODNet takes about a second per frame); video uses the standard mask"
        );
    }
    let tracking = (!args.no_track).then(|| bokeh::Tracking::default().with_full_frame_interval(args.full_frame_every));
    let options: Options = crate::options(&args.look, limits, false)?.with_temporal(temporal).with_tracking(tracking);
    let segmenter = crate::segmenter(&args.look)?;
    let mut source = Source::open(&args.input, limits)?;
    let input_format = match &source {
        Source::Frames { paths, .. } => paths.front().and_then(|p| Format::from_path(p)),
        Source::Y4m { .. } => None,
    };
    let fps = source.fps().unwrap_or((args.fps.max(1) as usize, 1));
    let mut sink = Sink::open(args, options.mode, input_format, fps)?;
    let progress = match source.len() {
        Some(n) if args.output != "-" => {
            let bar = ProgressBar::new(n as u64);
            bar.set_style(
                ProgressStyle::with_template("{bar:30} {pos}/{len} {elapsed_precise} eta {eta} {per_sec}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar
        }
        None if args.output != "-" => ProgressBar::new_spinner(),
        _ => ProgressBar::hidden(),
    };

    let mut stream = Stream::new(&segmenter, options.clone())?;
    stream.set_mask_interval(args.mask_every)?;
    stream.set_still_threshold(args.still_threshold)?;
    if args.verbose {
        progress.suspend(|| {
            eprintln!("bokeh: pixel stages on {}", stream.backend_description());
            eprintln!("bokeh: model on {}", stream.model_description());
        });
    }
    let mut names = VecDeque::new();
    let mut out: Option<Frame> = None;
    let mut written = 0usize;
    let started = Instant::now();
    let mut totals = [0f64; 5];
    let (mut read_time, mut write_time) = (Duration::ZERO, Duration::ZERO);
    let mut emit = |stream: &Stream, name: String, frame: &Frame, sink: &mut Sink| -> Result<()> {
        let t = Instant::now();
        sink.write(&name, frame)?;
        write_time += t.elapsed();
        for (total, (_, d)) in totals.iter_mut().zip(stream.timings().stages()) {
            *total += d.as_secs_f64() * 1000.0;
        }
        written += 1;
        progress.inc(1);
        Ok(())
    };
    loop {
        let t = Instant::now();
        let Some((name, frame)) = source.next()? else { break };
        read_time += t.elapsed();
        let format = options.output_format(frame.format());
        let target = out.get_or_insert(Frame::new(frame.width(), frame.height(), format)?);
        if (target.width(), target.height(), target.format()) != (frame.width(), frame.height(), format) {
            bail!("{name}: {}x{} differs from the first frame's size", frame.width(), frame.height());
        }
        names.push_back(name);
        if stream.push(frame.as_ref(), &mut target.as_mut())? {
            let done = names.pop_front().unwrap_or_default();
            emit(&stream, done, target, &mut sink)?;
        }
    }
    if let Some(target) = out.as_mut() {
        while stream.finish(&mut target.as_mut())? {
            let done = names.pop_front().unwrap_or_default();
            emit(&stream, done, target, &mut sink)?;
        }
    }
    progress.finish_and_clear();
    sink.finish(args.overwrite)?;
    if written == 0 {
        bail!("{}: no frames", args.input);
    }
    if args.verbose {
        let secs = started.elapsed().as_secs_f64();
        let stages = ["preprocess", "inference", "upsample", "blur", "composite"];
        let n = written as f64;
        let per_stage: Vec<String> = stages.iter().zip(totals).map(|(s, t)| format!("{s} {:.2}", t / n)).collect();
        eprintln!(
            "bokeh: {written} frames in {secs:.2} s ({:.1} fps); ms per frame: read+convert {:.2}, {}, convert+write {:.2} \
             (preprocess and inference overlap the later stages); the model ran on {} of {} frames \
             ({}); {} blinks bridged; latency {} frame; schedule {}",
            n / secs,
            read_time.as_secs_f64() * 1000.0 / n,
            per_stage.join(", "),
            write_time.as_secs_f64() * 1000.0 / n,
            stream.mask_counts().1,
            stream.mask_counts().0,
            tracking_summary(stream.tracking_stats()),
            stream.blinks_bridged(),
            stream.latency_frames(),
            stream.schedule().0.name(),
        );
    }
    Ok(written)
}

/// "N crops, N whole frames (N after a lost crop), N quarters, R runs per frame", or "no
/// tracking".
fn tracking_summary(t: bokeh::TrackStats) -> String {
    if t.frames == 0 {
        return "no tracking crop".into();
    }
    format!(
        "{} crops, {} whole frames ({} after a crop lost or cut someone), {} quarters scanned, {:.3} model runs \
         per frame",
        t.crops,
        t.full_frames,
        t.fallbacks,
        t.tiles,
        t.runs_per_frame()
    )
}
