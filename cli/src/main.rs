//! `bokeh` — portrait mode for photos from the command line.
//!
//! Flags become validated [`bokeh::Options`] once; inputs (files, folders, globs) become a list
//! of jobs with their output paths decided up front, so clashes are found before any work. Jobs
//! run in parallel, each worker with its own [`bokeh::Pipeline`] over one shared
//! [`bokeh::Segmenter`]. A bad input is reported with its name and the reason and the batch goes
//! on; every output is written to a temporary file in the target folder and renamed into place,
//! so no half-written file is ever left behind and no input is ever touched.

mod bench;
mod flags;
mod jobs;
mod models;
mod output;
mod video;

use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;

use bokeh::{Frame, Mode, ModelSpec, Options, Pipeline, Segmenter};

use flags::{Cli, CliQuality, Command, Look};

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
    let mut options = Options::default()
        .with_mode(mode)
        .with_blur(cli.blur)
        .with_strength(cli.strength)
        .with_bloom(cli.bloom)
        .with_focus_falloff(cli.falloff)
        .with_backend(cli.backend)
        .with_model_backend(cli.model_backend)
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
    // any file, and -v names the adapter. Meanwhile another thread compiles the model plans
    // the first photo's size needs (plans are shared by every worker), so the adapter probe
    // (≈ 40 ms on the 2-core VM) and the compile (≈ 65 ms a plan) overlap: one photo took
    // 0.10-0.12 s instead of 0.13-0.14. A warm-up that fails is left to the photo itself to
    // meet and report.
    let first = std::thread::scope(|scope| {
        let first_size = plan.jobs.first().and_then(|job| image::image_dimensions(&job.input).ok());
        let warm = first_size.map(|(w, h)| {
            let segmenter = &segmenter;
            scope.spawn(move || segmenter.session().prepare(w, h))
        });
        let first = new_pipeline();
        if let Some(warm) = warm {
            let _ = warm.join();
        }
        first
    })?;
    if cli.verbose {
        eprintln!("bokeh: pixel stages on {}", first.backend_description());
        eprintln!("bokeh: model on {}", first.model_description());
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
