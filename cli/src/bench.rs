//! `bokeh bench`: per-stage and end-to-end medians on real frames, without criterion.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use image::imageops::FilterType;

use bokeh::args::parse_size;
use bokeh::{Backend, BlurKind, Frame, Options, Pipeline, PixelFormat, Schedule, Segmenter, Stream};

/// The bundled sample photo, used when no `--input` is given.
const SAMPLE: &[u8] = include_bytes!("../../examples/data/grace_hopper.jpg");

/// Inputs for benchmarking are resized anyway; accept anything a photo can be.
const BENCH_LIMITS: bokeh::DecodeLimits = bokeh::DecodeLimits { max_pixels: 400_000_000 };

/// Frames run before timing starts (plan compilation, caches, page faults).
const WARM_UP: usize = 5;

/// Times the pipeline on real frames and prints one `name<TAB>ms` line per stage (medians), and
/// last the end-to-end frame time.
#[derive(Debug, clap::Args)]
pub(crate) struct BenchArgs {
    /// Frame size as WxH (frames are resized to it).
    #[arg(long, default_value = "1280x720", value_parser = parse_size)]
    size: (u32, u32),

    /// Number of timed frames (after a short warm-up).
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    frames: u32,

    /// A photo, or a folder of frames taken in name order (default: the bundled sample).
    #[arg(long, value_name = "PATH")]
    input: Option<PathBuf>,

    /// Blur radius as a fraction of the frame's diagonal.
    #[arg(short, long, default_value_t = Options::DEFAULT_STRENGTH)]
    strength: f32,

    /// Blur kernel.
    #[arg(long, value_enum, default_value_t = BlurKind::Disc)]
    blur: BlurKind,

    /// Time the pipelined stream (inference of frame N+1 overlapped with the pixel stages of
    /// frame N, one frame of latency) instead of the sequential pipeline. Measure the two
    /// modes in separate runs: one process running both measured the second up to 40% slower.
    #[arg(long)]
    pipelined: bool,

    /// With `--pipelined`: how the model and the pixel stages share the cores (`auto` measures
    /// the others on a few frames first; those frames are left out of the times).
    #[arg(long, value_enum, default_value_t = Schedule::Auto)]
    schedule: Schedule,

    /// Where the pixel stages run.
    #[arg(long, value_enum, default_value_t = Backend::Auto)]
    backend: Backend,

    /// Where the model runs (auto: on the pixel stages' GPU when that is a hardware one).
    #[arg(long, value_enum, default_value_t = Backend::Auto)]
    model_backend: Backend,

    /// Without the edge-aware refinement (its cost is in the upsample stage).
    #[arg(long)]
    no_refine: bool,

    /// The video path: the temporal filter and the subject-tracking crop, as `bokeh video`, the
    /// webcam demo and the C API with `temporal` set (frames from `--input` in order; a folder
    /// played in a loop jumps back at its end like a scene cut).
    #[arg(long)]
    video: bool,
}

/// Loads the source images and resizes them to the benchmark size.
fn frames(args: &BenchArgs) -> Result<Vec<Frame>> {
    let (w, h) = args.size;
    let images = match &args.input {
        None => vec![image::load_from_memory(SAMPLE).context("bundled sample")?],
        Some(path) if path.is_dir() => {
            let mut paths: Vec<PathBuf> = std::fs::read_dir(path)
                .with_context(|| format!("cannot list {}", path.display()))?
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect();
            paths.sort();
            paths.truncate(args.frames as usize);
            let images: Vec<_> = paths.iter().filter_map(|p| crate::jobs::decode(p, BENCH_LIMITS).ok()).collect();
            if images.is_empty() {
                bail!("{}: no readable images", path.display());
            }
            images
        }
        Some(path) => vec![crate::jobs::decode(path, BENCH_LIMITS).with_context(|| path.display().to_string())?],
    };
    images
        .into_iter()
        .map(|img| {
            let rgb = image::imageops::resize(&img.into_rgb8(), w, h, FilterType::Triangle);
            Ok(Frame::from_vec(rgb.into_raw(), w, h, PixelFormat::Rgb8)?)
        })
        .collect()
}

fn median(mut v: Vec<Duration>) -> f64 {
    v.sort();
    v.get(v.len() / 2).map_or(0.0, |d| d.as_secs_f64() * 1e3)
}

pub(crate) fn run(args: &BenchArgs) -> Result<()> {
    let frames = frames(args)?;
    let options = Options::default()
        .with_strength(args.strength)
        .with_blur(args.blur)
        .with_backend(args.backend)
        .with_model_backend(args.model_backend)
        .with_refine((!args.no_refine).then(bokeh::Refine::default))
        .with_temporal(args.video.then(bokeh::Temporal::default));
    let segmenter = Segmenter::new()?;
    let (w, h) = args.size;
    let mut out = Frame::new(w, h, PixelFormat::Rgb8)?;
    let n = args.frames as usize;
    let mut stages: Vec<Vec<Duration>> = (0..5).map(|_| Vec::with_capacity(n)).collect();
    let mut totals = Vec::with_capacity(n);
    let mut latencies = Vec::with_capacity(n);
    let backend_note;
    let model_note;
    let mut schedule_note = String::new();
    if args.pipelined {
        // Frame time = interval between consecutive outputs of the stream, counted once the
        // schedule is settled (`auto` measures first) and WARM_UP frames more have passed.
        let mut stream = Stream::new(&segmenter, options)?;
        stream.set_schedule(args.schedule);
        backend_note = stream.backend_description().to_string();
        model_note = stream.model_description();
        let mut last = Instant::now();
        let mut settled = 0;
        for i in 0.. {
            if totals.len() == n {
                break;
            }
            let measuring = stream.schedule().1;
            if stream.push(frames[i % frames.len()].as_ref(), &mut out.as_mut())? {
                let now = Instant::now();
                if measuring {
                    settled = 0;
                } else if settled < WARM_UP {
                    settled += 1;
                } else {
                    for (k, (_, d)) in stream.timings().stages().iter().enumerate() {
                        stages[k].push(*d);
                    }
                    totals.push(now - last);
                    latencies.push(stream.latency());
                }
                last = now;
            }
        }
        schedule_note = format!(
            ", schedule {}{}",
            stream.schedule().0.name(),
            if args.schedule == Schedule::Auto { " (chosen by auto)" } else { "" }
        );
        stream.finish(&mut out.as_mut())?;
    } else {
        let mut pipeline = Pipeline::new(&segmenter, options)?;
        backend_note = pipeline.backend_description().to_string();
        model_note = pipeline.model_description();
        for i in 0..WARM_UP + n {
            let t0 = Instant::now();
            pipeline.process_into(frames[i % frames.len()].as_ref(), &mut out.as_mut())?;
            let total = t0.elapsed();
            if i >= WARM_UP {
                for (k, (_, d)) in pipeline.timings().stages().iter().enumerate() {
                    stages[k].push(*d);
                }
                totals.push(total);
            }
        }
    }
    println!("# pixels\t{backend_note}");
    println!("# model\t{model_note}");
    println!(
        "# frame\t{w}x{h}, {n} frames from {}, {} threads, strength {}, {}{schedule_note}{}",
        args.input.as_ref().map_or("the bundled sample".into(), |p| p.display().to_string()),
        rayon::current_num_threads(),
        args.strength,
        if args.pipelined { "pipelined (inference overlapped, 1 frame latency)" } else { "sequential" },
        if args.video { ", video path (temporal filter, tracking crop)" } else { "" }
    );
    for (name, times) in ["preprocess", "inference", "upsample", "blur", "composite"].iter().zip(stages) {
        println!("{name}\t{:.2}", median(times));
    }
    if args.pipelined {
        println!("latency\t{:.2}", median(latencies));
    }
    println!("end_to_end\t{:.2}", median(totals));
    Ok(())
}
