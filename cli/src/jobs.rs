//! Turning command-line inputs into jobs, and running one job.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use image::DynamicImage;

use bokeh::{DecodeLimits, Frame, Mode, Options, Pipeline};

use crate::output::{self, Format};
use crate::Cli;

/// One input photo and where its result goes.
#[derive(Debug)]
pub(crate) struct Job {
    pub(crate) input: PathBuf,
    pub(crate) output: PathBuf,
    pub(crate) format: Format,
    /// Whether an existing file at `output` may be replaced.
    pub(crate) overwrite: bool,
}

/// The work of a run: jobs to do, and inputs that failed before any work (missing files,
/// output clashes), reported with the rest.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    pub(crate) jobs: Vec<Job>,
    pub(crate) errors: Vec<anyhow::Error>,
}

/// Extensions of the images a folder or glob contributes.
const IMAGE_EXTENSIONS: [&str; 4] = ["jpg", "jpeg", "png", "webp"];

fn is_image(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Our own outputs, skipped when a folder or glob is expanded so a re-run does not process them.
fn is_our_output(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    name.contains(".bokeh.") || name.ends_with(".mask.png")
}

/// Expands files, folders and glob patterns into input files, in a stable order.
fn expand(inputs: &[String], errors: &mut Vec<anyhow::Error>) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for input in inputs {
        let path = Path::new(input);
        if path.is_dir() {
            match std::fs::read_dir(path) {
                Ok(entries) => {
                    let mut found: Vec<PathBuf> = entries
                        .flatten()
                        .map(|e| e.path())
                        .filter(|p| p.is_file() && is_image(p) && !is_our_output(p))
                        .collect();
                    found.sort();
                    if found.is_empty() {
                        errors.push(anyhow!("{input}: folder has no jpg, png or webp images"));
                    }
                    files.extend(found);
                }
                Err(e) => errors.push(anyhow!("{input}: cannot list folder: {e}")),
            }
        } else if path.exists() {
            files.push(path.to_path_buf());
        } else if input.contains(['*', '?', '[']) {
            match glob::glob(input) {
                Ok(paths) => {
                    let mut found: Vec<PathBuf> =
                        paths.flatten().filter(|p| p.is_file() && is_image(p) && !is_our_output(p)).collect();
                    found.sort();
                    if found.is_empty() {
                        errors.push(anyhow!("{input}: no image matches this pattern"));
                    }
                    files.extend(found);
                }
                Err(e) => errors.push(anyhow!("{input}: bad pattern: {e}")),
            }
        } else {
            errors.push(anyhow!("{input}: no such file or folder"));
        }
    }
    files
}

/// The format a job writes: `-o`'s extension, then `--format`, then one that fits the mode
/// (png for cut-outs and masks) and else the input's own.
fn output_format(cli: &Cli, options: &Options, input: &Path) -> Result<Format> {
    if let Some(out) = &cli.output {
        return Format::from_path(out)
            .ok_or_else(|| anyhow!("{}: unknown output extension (use .jpg, .png or .webp)", out.display()));
    }
    if let Some(format) = cli.format {
        return Ok(format);
    }
    Ok(match options.mode {
        Mode::Cutout | Mode::Mask => Format::Png,
        _ => Format::from_path(input).unwrap_or(Format::Jpg),
    })
}

fn output_path(cli: &Cli, options: &Options, input: &Path, format: Format) -> PathBuf {
    if let Some(out) = &cli.output {
        return out.clone();
    }
    let stem = input.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "image".into());
    match &cli.out_dir {
        Some(dir) => dir.join(format!("{stem}.{}", format.extension())),
        None => {
            let infix = if options.mode == Mode::Mask { "mask" } else { "bokeh" };
            input.with_file_name(format!("{stem}.{infix}.{}", format.extension()))
        }
    }
}

/// The same file, whether or not `b` exists yet.
fn same_file(a: &Path, b: &Path) -> bool {
    let canon = |p: &Path| -> Option<PathBuf> {
        p.canonicalize().ok().or_else(|| {
            let parent = p.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
            Some(parent.canonicalize().ok()?.join(p.file_name()?))
        })
    };
    matches!((canon(a), canon(b)), (Some(x), Some(y)) if x == y)
}

/// Expands the inputs and decides every output before any work starts.
pub(crate) fn plan(cli: &Cli, options: &Options) -> Result<Plan> {
    let mut plan = Plan::default();
    let inputs = expand(&cli.inputs, &mut plan.errors);
    if inputs.is_empty() && plan.errors.is_empty() {
        bail!("no input images");
    }
    if cli.output.is_some() && inputs.len() + plan.errors.len() > 1 {
        bail!("-o/--output takes a single input; use --out-dir for several");
    }
    if let Some(dir) = &cli.out_dir {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create output folder {}", dir.display()))?;
    }
    let mut taken = HashSet::new();
    for input in inputs {
        let format = output_format(cli, options, &input)?;
        if options.mode == Mode::Cutout && !format.has_alpha() {
            bail!("a cut-out needs transparency: write .png or .webp, not .{}", format.extension());
        }
        let output = output_path(cli, options, &input, format);
        if same_file(&input, &output) {
            plan.errors.push(anyhow!("{}: the output would overwrite the input; choose another name", input.display()));
        } else if output.exists() && !cli.overwrite {
            plan.errors.push(anyhow!(
                "{}: {} exists (use --overwrite to replace it)",
                input.display(),
                output.display()
            ));
        } else if !taken.insert(output.clone()) {
            plan.errors.push(anyhow!(
                "{}: its output {} is already written for another input",
                input.display(),
                output.display()
            ));
        } else {
            plan.jobs.push(Job { input, output, format, overwrite: cli.overwrite });
        }
    }
    Ok(plan)
}

/// Reads and decodes an image file within `limits` (see [`bokeh::decode_image`]).
pub(crate) fn decode(path: &Path, limits: DecodeLimits) -> Result<DynamicImage> {
    let bytes = std::fs::read(path).context("cannot read")?;
    bokeh::decode_image(&bytes, limits).map_err(|e| match e {
        bokeh::Error::TooLarge { .. } => anyhow!("{e} (raise it with --max-megapixels)"),
        e => e.into(),
    })
}

/// Runs one job; returns the line `--verbose` prints.
pub(crate) fn process(
    job: &Job,
    pipeline: &mut Pipeline,
    limits: DecodeLimits,
    encoding: &output::Encoding,
) -> Result<String> {
    let t0 = Instant::now();
    let frame = Frame::from_dynamic_image(decode(&job.input, limits)?)?;
    let t1 = Instant::now();
    let out = pipeline.process(frame.as_ref())?;
    let t2 = Instant::now();
    output::write_atomic(out, &job.output, job.format, encoding, job.overwrite)?;
    let t3 = Instant::now();
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
    let mut line = format!(
        "{} -> {} ({}x{}): decode {:.1} ms",
        job.input.display(),
        job.output.display(),
        frame.width(),
        frame.height(),
        ms(t1 - t0)
    );
    for (name, d) in pipeline.timings().stages() {
        line.push_str(&format!(", {name} {:.1} ms", ms(d)));
    }
    line.push_str(&format!(", encode {:.1} ms, total {:.1} ms", ms(t3 - t2), ms(t3 - t0)));
    Ok(line)
}
