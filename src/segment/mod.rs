//! Person segmentation: ONNX models run with tract.
//!
//! A [`Segmenter`] is the immutable, shareable half: it holds the parsed model(s) and a cache of
//! optimised tract plans, one per input size, compiled on first use (decluttered, 1×1 and
//! depthwise convolutions and upsamplings swapped for our ops in `ops/`, then `into_optimized` →
//! `into_runnable`) and shared by every stream through an `Arc`. A [`SegmenterSession`] is the
//! per-stream half: tract's mutable state plus the preprocessing buffers, reused frame after
//! frame. Cloning a `Segmenter` is cheap; give each thread or stream its own session.
//!
//! The default segmenter embeds MediaPipe's selfie segmentation models (square 256×256 and
//! landscape 256×144, see `models/README.md`). The landscape model is for 16:9 frames: it is
//! used only when the frame is at least about as wide as the model, never to squeeze a wider
//! model onto a 4:3 or 3:2 photo (on the shared test photos, mostly 4:3 and 3:2, the square
//! model scores a mean IoU of 0.439, the landscape one 0.396, nearest-aspect selection 0.428).
//! Preprocessing follows
//! MediaPipe's runtime: the whole frame is stretched to the model size (no letterbox), sampled
//! bilinearly without antialiasing as its `ImageToTensorCalculator` does ([`Sampling`]), as RGB,
//! then normalised as the [`ModelSpec`] says. The sampling matters more than it looks: the
//! models learnt from aliased inputs, and on an 854×480 frame an antialiased input made the raw
//! mask agree with MediaPipe's own at a mean IoU of only 0.89 on dance-twirl (bilinear: see
//! `tests/reference_runtime.rs`), a small runner's mask vanishing altogether on some frames.

mod ops;
mod spec;

use std::sync::{Arc, Mutex};

use tract_onnx::prelude::*;

pub use spec::{InputSize, Layout, ModelSpec, Normalization, OutputKind, Sampling};

use crate::error::{Error, Result};
use crate::frame::FrameRef;
use crate::mask::Mask;
use crate::orient::{store_upright_values, Orientation};
use crate::resample::Resampler;

/// The embedded square model: MediaPipe selfie segmentation (Apache-2.0), in its NCHW form
/// (input `[1,3,256,256]`), the same function as `models/selfie_segmentation.onnx` rewritten so
/// tract runs it fast (see `models/README.md`).
pub static SELFIE_SQUARE_ONNX: &[u8] = include_bytes!("../../models/selfie_segmentation_nchw.onnx");
/// The embedded landscape model (input `[1,3,144,256]`), likewise.
pub static SELFIE_LANDSCAPE_ONNX: &[u8] = include_bytes!("../../models/selfie_segmentation_landscape_nchw.onnx");

type Plan = Arc<TypedRunnableModel>;

/// One model with its spec and the plans compiled for it so far.
struct Variant {
    spec: ModelSpec,
    model: InferenceModel,
    input_index: usize,
    plans: Mutex<Vec<((u32, u32), Plan)>>,
    /// The ONNX file, for the GPU's graph.
    #[cfg(feature = "gpu")]
    source: Arc<[u8]>,
    /// The graph as the GPU runs it, read on first use (an error says why it cannot).
    #[cfg(feature = "gpu")]
    gpu_graph: std::sync::OnceLock<std::result::Result<Arc<crate::gpu::ModelGraph>, String>>,
}

impl Variant {
    fn load(bytes: &[u8], spec: ModelSpec, origin: &str) -> Result<Self> {
        spec.validate()?;
        let model = tract_onnx::onnx()
            .model_for_read(&mut std::io::Cursor::new(bytes))
            .map_err(|e| Error::model(format!("loading ONNX model {origin}"), e))?;
        let outlets = model.input_outlets().map_err(|e| Error::model(format!("reading inputs of {origin}"), e))?;
        let names: Vec<&str> = outlets.iter().map(|o| model.node(o.node).name.as_str()).collect();
        let input_index = match &spec.input {
            None if !names.is_empty() => 0,
            None => return Err(Error::InvalidSpec(format!("model {origin} has no input"))),
            Some(name) => names.iter().position(|n| n == name).ok_or_else(|| {
                Error::InvalidSpec(format!("model {origin} has no input named {name:?} (inputs: {names:?})"))
            })?,
        };
        if model.output_outlets().map_or(0, |o| o.len()) == 0 {
            return Err(Error::InvalidSpec(format!("model {origin} has no output")));
        }
        Ok(Variant {
            spec,
            model,
            input_index,
            plans: Mutex::new(Vec::new()),
            #[cfg(feature = "gpu")]
            source: bytes.into(),
            #[cfg(feature = "gpu")]
            gpu_graph: std::sync::OnceLock::new(),
        })
    }

    /// The graph for the GPU, or why this model cannot run there (an operator its kernels do
    /// not cover, or an input layout other than NCHW).
    #[cfg(feature = "gpu")]
    fn gpu_graph(&self) -> std::result::Result<Arc<crate::gpu::ModelGraph>, String> {
        self.gpu_graph
            .get_or_init(|| {
                if self.spec.layout != Layout::Nchw {
                    return Err("the GPU runs NCHW models only".into());
                }
                crate::gpu::ModelGraph::from_onnx(&self.source).map(Arc::new).map_err(|e| e.to_string())
            })
            .clone()
    }

    /// The optimised plan for one input size, compiled on first use.
    fn plan(&self, size: (u32, u32)) -> Result<Plan> {
        let mut plans = self.plans.lock().unwrap_or_else(|poison| poison.into_inner());
        if let Some((_, plan)) = plans.iter().find(|(s, _)| *s == size) {
            return Ok(plan.clone());
        }
        let shape = input_shape(self.spec.layout, size);
        let context = format!("preparing the model for a {}x{} input", size.0, size.1);
        let plan = self
            .model
            .clone()
            .with_input_fact(self.input_index, f32::fact(shape).into())
            .and_then(|m| m.into_typed())
            .and_then(|m| m.into_decluttered())
            .and_then(|mut m| ops::rewrite(&mut m).map(|_| m))
            .and_then(|m| m.into_optimized())
            .and_then(|m| m.into_runnable())
            .map_err(|e| Error::model(context, e))?;
        plans.push((size, plan.clone()));
        Ok(plan)
    }

    /// The model's input aspect ratio (width / height); `None` for sizes that follow the frame.
    fn aspect(&self) -> Option<f64> {
        match self.spec.size {
            InputSize::Fixed { width, height } => Some(width as f64 / height as f64),
            InputSize::ShortSide { .. } => None,
        }
    }
}

fn input_shape(layout: Layout, (w, h): (u32, u32)) -> [usize; 4] {
    match layout {
        Layout::Nhwc => [1, h as usize, w as usize, 3],
        Layout::Nchw => [1, 3, h as usize, w as usize],
    }
}

/// A loaded segmentation model (or a pair of them), shareable across threads.
#[derive(Clone)]
pub struct Segmenter {
    variants: Arc<Vec<Variant>>,
}

impl std::fmt::Debug for Segmenter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.variants.iter().map(|v| &v.spec)).finish()
    }
}

impl Segmenter {
    /// The embedded MediaPipe selfie segmentation models (square and landscape, NCHW input).
    pub fn new() -> Result<Self> {
        let nchw = |spec: ModelSpec| ModelSpec { layout: Layout::Nchw, ..spec };
        let square =
            Variant::load(SELFIE_SQUARE_ONNX, nchw(ModelSpec::mediapipe_selfie()), "embedded selfie_segmentation")?;
        let landscape = Variant::load(
            SELFIE_LANDSCAPE_ONNX,
            nchw(ModelSpec::mediapipe_selfie_landscape()),
            "embedded selfie_segmentation_landscape",
        )?;
        Ok(Segmenter { variants: Arc::new(vec![square, landscape]) })
    }

    /// Loads an ONNX model from memory, described by `spec`.
    pub fn from_onnx_bytes(bytes: &[u8], spec: ModelSpec) -> Result<Self> {
        Self::load_checked(bytes, spec, "from memory")
    }

    /// Loads an ONNX model from a file, described by `spec`.
    pub fn from_onnx_path(path: impl AsRef<std::path::Path>, spec: ModelSpec) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|error| Error::Io { path: path.display().to_string(), error })?;
        Self::load_checked(&bytes, spec, &path.display().to_string())
    }

    fn load_checked(bytes: &[u8], spec: ModelSpec, origin: &str) -> Result<Self> {
        let variant = Variant::load(bytes, spec, origin)?;
        // A fixed-size model can be compiled now, so a wrong spec fails here, not on frame one.
        if let InputSize::Fixed { width, height } = variant.spec.size {
            variant.plan((width, height))?;
        }
        Ok(Segmenter { variants: Arc::new(vec![variant]) })
    }

    /// How many model plans (one per model variant and input size) have been compiled so far,
    /// by every session of this segmenter: a steady stream compiles none
    /// ([`crate::Pipeline::prepare`] compiles them before the first frame).
    pub fn compiled_plans(&self) -> usize {
        self.variants.iter().map(|v| v.plans.lock().map_or(0, |p| p.len())).sum()
    }

    /// The specs of the models this segmenter chooses from.
    pub fn specs(&self) -> impl Iterator<Item = &ModelSpec> {
        self.variants.iter().map(|v| &v.spec)
    }

    /// The input aspect (width / height) of the variant that crops of people go to (the first;
    /// 1 when its size follows the frame).
    pub(crate) fn crop_aspect(&self) -> f64 {
        self.variants.first().and_then(Variant::aspect).unwrap_or(1.0)
    }

    /// A per-stream session with its own inference state and buffers.
    pub fn session(&self) -> SegmenterSession {
        SegmenterSession {
            segmenter: self.clone(),
            states: Vec::new(),
            input: Vec::new(),
            planar: Vec::new(),
            resampler: Resampler::default(),
            orientation: Orientation::UPRIGHT,
            #[cfg(feature = "gpu")]
            gpu: None,
        }
    }

    /// Segments one frame with a throw-away session (use [`Segmenter::session`] for video).
    pub fn segment(&self, frame: FrameRef<'_>) -> Result<Mask> {
        self.session().segment(frame)
    }

    /// The variant for a frame: one whose size follows the frame if there is one, else the
    /// widest model not more than 2% wider than the frame, else the narrowest.
    fn pick(&self, width: u32, height: u32) -> usize {
        let frame = width as f64 / height as f64;
        let aspects: Vec<Option<f64>> = self.variants.iter().map(Variant::aspect).collect();
        if let Some(i) = aspects.iter().position(Option::is_none) {
            return i;
        }
        let fixed = || aspects.iter().enumerate().filter_map(|(i, a)| a.map(|a| (i, a)));
        let fitting = fixed().filter(|&(_, a)| a <= frame * 1.02).max_by(|x, y| x.1.total_cmp(&y.1));
        fitting.or_else(|| fixed().min_by(|x, y| x.1.total_cmp(&y.1))).map_or(0, |(i, _)| i)
    }
}

/// Per-stream segmentation state: tract's state for each plan used, plus scratch buffers.
pub struct SegmenterSession {
    segmenter: Segmenter,
    states: Vec<(usize, (u32, u32), TypedSimpleState)>,
    input: Vec<f32>,
    planar: Vec<f32>,
    resampler: Resampler,
    /// How the frames are stored relative to upright ([`SegmenterSession::set_orientation`]).
    orientation: Orientation,
    /// The device the model runs on instead of tract, with its plans ([`SegmenterSession::set_gpu`]).
    #[cfg(feature = "gpu")]
    gpu: Option<GpuModels>,
}

/// A model planned on the GPU for one input size, or why it cannot run there.
#[cfg(feature = "gpu")]
type GpuPlan = std::result::Result<crate::gpu::GpuModel, String>;

/// A session's models on a GPU: one plan per variant and input size, or why there is none.
#[cfg(feature = "gpu")]
struct GpuModels {
    ctx: Arc<crate::gpu::GpuContext>,
    plans: Vec<(usize, (u32, u32), GpuPlan)>,
    /// The last output read back.
    out: Vec<f32>,
    /// The tensor [`SegmenterSession::preprocess_with`] left on the GPU for the next inference.
    pending: Option<wgpu::Buffer>,
}

#[cfg(feature = "gpu")]
impl GpuModels {
    /// The plan for `variant` at `size`, made on first use; `None` (and tract runs) when the
    /// model cannot run on the GPU.
    fn plan(&mut self, segmenter: &Segmenter, variant: usize, size: (u32, u32)) -> Option<usize> {
        let i = match self.plans.iter().position(|(v, s, _)| *v == variant && *s == size) {
            Some(i) => i,
            None => {
                let v = &segmenter.variants[variant];
                let made = v.gpu_graph().and_then(|graph| {
                    let shape = input_shape(v.spec.layout, size);
                    crate::gpu::GpuModel::new(Arc::clone(&self.ctx), &graph, shape).map_err(|e| e.to_string())
                });
                self.plans.push((variant, size, made));
                self.plans.len() - 1
            }
        };
        self.plans[i].2.is_ok().then_some(i)
    }
}

impl std::fmt::Debug for SegmenterSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SegmenterSession").field("segmenter", &self.segmenter).finish_non_exhaustive()
    }
}

/// A model input prepared by [`SegmenterSession::preprocess`]: which model variant it is for and
/// its size. [`SegmenterSession::infer`] takes it, so the two cannot disagree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prepared {
    variant: usize,
    size: (u32, u32),
    /// The frame's orientation: the mask goes back to it.
    orientation: Orientation,
    /// The tensor was left on the GPU for the session's GPU model (not in the session's input).
    on_gpu: bool,
}

impl Prepared {
    /// The model variant (an index into the segmenter's variants).
    pub fn variant(&self) -> usize {
        self.variant
    }

    /// The model input's width and height (of the upright picture).
    pub fn size(&self) -> (u32, u32) {
        self.size
    }

    /// The size of the mask [`SegmenterSession::infer`] gives: the model's, turned back to the
    /// frame's orientation (sides swapped for frames stored at 90° or 270°).
    pub fn mask_size(&self) -> (u32, u32) {
        let (w, h) = self.size;
        if self.orientation.swaps_sides() {
            (h, w)
        } else {
            (w, h)
        }
    }
}

impl SegmenterSession {
    /// The segmenter this session runs.
    pub fn segmenter(&self) -> &Segmenter {
        &self.segmenter
    }

    /// Says how the frames given to this session are stored (see `orient.rs`): the model sees
    /// them upright, and its masks come back in the frames' own orientation. Upright by default.
    pub fn set_orientation(&mut self, orientation: Orientation) {
        self.orientation = orientation;
    }

    /// The orientation set with [`SegmenterSession::set_orientation`].
    pub fn orientation(&self) -> Orientation {
        self.orientation
    }

    /// Runs the model on `gpu` (WGSL kernels, see `src/gpu/model.rs`) instead of tract, for
    /// every variant whose graph the kernels cover; `None` gives it back to tract.
    #[cfg(feature = "gpu")]
    pub fn set_gpu(&mut self, gpu: Option<Arc<crate::gpu::GpuContext>>) {
        let same = match (&self.gpu, &gpu) {
            (Some(g), Some(ctx)) => Arc::ptr_eq(&g.ctx, ctx),
            (None, None) => true,
            _ => false,
        };
        if !same {
            self.gpu = gpu.map(|ctx| GpuModels { ctx, plans: Vec::new(), out: Vec::new(), pending: None });
        }
    }

    /// The GPU the model runs on ([`SegmenterSession::set_gpu`]).
    #[cfg(feature = "gpu")]
    pub(crate) fn gpu(&self) -> Option<&Arc<crate::gpu::GpuContext>> {
        self.gpu.as_ref().map(|g| &g.ctx)
    }

    /// Where the model runs, for logs and `-v`: `"GPU: ADAPTER"`, `"CPU (tract)"`, or
    /// `"CPU (tract); not on the GPU: WHY"` when a GPU was given but a model cannot run there.
    pub fn model_description(&self) -> String {
        #[cfg(feature = "gpu")]
        if let Some(g) = &self.gpu {
            let why = self
                .segmenter
                .variants
                .iter()
                .map(|v| v.gpu_graph().err())
                .chain(g.plans.iter().map(|(_, _, p)| p.as_ref().err().cloned()))
                .flatten()
                .next();
            return match why {
                None => format!("GPU: {}", g.ctx.info()),
                Some(why) => format!("CPU (tract); not on the GPU: {why}"),
            };
        }
        "CPU (tract)".into()
    }

    /// Compiles the model plans a `width × height` frame (as stored, in this session's
    /// orientation) will need — the whole frame's variant and the crop variant the tracking crop
    /// and detail passes use — and makes their inference states, so the first frame does not
    /// stall on them (≈ 85 ms per plan on a laptop core).
    pub fn prepare(&mut self, width: u32, height: u32) -> Result<()> {
        let (w, h) = self.orientation.upright_size(width, height);
        let whole = self.segmenter.pick(w, h);
        let whole_size = self.segmenter.variants[whole].spec.size.for_frame(w, h);
        let mut wanted = vec![(whole, whole_size)];
        if let InputSize::Fixed { width, height } = self.segmenter.variants[0].spec.size {
            wanted.push((0, (width, height)));
        }
        for (variant, size) in wanted {
            #[cfg(feature = "gpu")]
            if let Some(g) = self.gpu.as_mut() {
                if g.plan(&self.segmenter, variant, size).is_some() {
                    continue;
                }
            }
            self.state_index(variant, size)?;
        }
        Ok(())
    }

    /// The index of the inference state for `variant` at `size`, made (and its plan compiled)
    /// on first use.
    fn state_index(&mut self, variant_index: usize, size: (u32, u32)) -> Result<usize> {
        if let Some(i) = self.states.iter().position(|(v, s, _)| *v == variant_index && *s == size) {
            return Ok(i);
        }
        let plan = self.segmenter.variants[variant_index].plan(size)?;
        let state = plan.spawn().map_err(|e| Error::model("creating inference state", e))?;
        self.states.push((variant_index, size, state));
        Ok(self.states.len() - 1)
    }

    /// Preprocesses `frame` into the model's input tensor (the preprocess stage), for
    /// [`SegmenterSession::infer`].
    pub fn preprocess(&mut self, frame: FrameRef<'_>) -> Result<Prepared> {
        let (w, h) = self.orientation.upright_size(frame.width(), frame.height());
        let variant_index = self.segmenter.pick(w, h);
        self.preprocess_for(frame, variant_index)
    }

    /// [`SegmenterSession::preprocess`] for a crop of people: the first (for the embedded models
    /// the square) variant whatever the crop's shape, as [`SegmenterSession::segment_crop_into`].
    pub(crate) fn preprocess_crop(&mut self, frame: FrameRef<'_>) -> Result<Prepared> {
        self.preprocess_for(frame, 0)
    }

    /// [`SegmenterSession::preprocess`] for a given variant.
    fn preprocess_for(&mut self, frame: FrameRef<'_>, variant_index: usize) -> Result<Prepared> {
        let spec = &self.segmenter.variants[variant_index].spec;
        let orientation = self.orientation;
        let (fw, fh) = orientation.upright_size(frame.width(), frame.height());
        let (mw, mh) = spec.size.for_frame(fw, fh);
        let (mw_u, mh_u) = (mw as usize, mh as usize);
        self.input.resize(mw_u * mh_u * 3, 0.0);
        if orientation.is_upright() {
            self.resampler.resample_frame(frame, spec.sampling, &mut self.input, (mw_u, mh_u));
        } else {
            // Sampled from the frame as stored, each stored axis indexed by the upright axis it
            // carries (mirrored taps where it runs backwards), then transposed if the sides swap.
            let axes = orientation.axes();
            let stored = if axes.transpose { (mh_u, mw_u) } else { (mw_u, mh_u) };
            self.planar.resize(self.input.len(), 0.0);
            self.resampler.resample_frame_flipped(
                frame,
                spec.sampling,
                &mut self.planar,
                stored,
                (axes.flip_x, axes.flip_y),
            );
            if axes.transpose {
                for (v, row) in self.input.chunks_exact_mut(mw_u * 3).enumerate() {
                    for (u, px) in row.chunks_exact_mut(3).enumerate() {
                        let s = (u * mh_u + v) * 3;
                        px.copy_from_slice(&self.planar[s..s + 3]);
                    }
                }
            } else {
                std::mem::swap(&mut self.input, &mut self.planar);
            }
        }
        let norm = spec.normalization;
        let scale: [f32; 3] = std::array::from_fn(|c| 1.0 / (255.0 * norm.std[c]));
        let offset: [f32; 3] = std::array::from_fn(|c| -norm.mean[c] / norm.std[c]);
        match spec.layout {
            Layout::Nhwc => {
                for px in self.input.chunks_exact_mut(3) {
                    for c in 0..3 {
                        px[c] = px[c] * scale[c] + offset[c];
                    }
                }
            }
            Layout::Nchw => {
                // Interleaved → planar through the second buffer.
                self.planar.clear();
                self.planar.resize(self.input.len(), 0.0);
                let plane = mw_u * mh_u;
                for (i, px) in self.input.chunks_exact(3).enumerate() {
                    for c in 0..3 {
                        self.planar[c * plane + i] = px[c] * scale[c] + offset[c];
                    }
                }
                std::mem::swap(&mut self.input, &mut self.planar);
            }
        }
        Ok(Prepared { variant: variant_index, size: (mw, mh), orientation, on_gpu: false })
    }

    /// Like [`SegmenterSession::preprocess`], with the tensor made by `fill` (the GPU backend),
    /// given the model's input size and spec (normalisation, layout, sampling) and a place to
    /// put it: `None` when this session's model runs on that GPU (the tensor stays there; `fill`
    /// returns the buffer holding it), else the session's input (read back; `fill` returns
    /// `None`).
    #[cfg(feature = "gpu")]
    pub(crate) fn preprocess_with(
        &mut self,
        frame: FrameRef<'_>,
        fill: impl FnOnce((u32, u32), &ModelSpec, Option<&mut Vec<f32>>) -> Result<Option<wgpu::Buffer>>,
    ) -> Result<Prepared> {
        let variant_index = self.segmenter.pick(frame.width(), frame.height());
        let spec = &self.segmenter.variants[variant_index].spec;
        let size = spec.size.for_frame(frame.width(), frame.height());
        let on_gpu = match self.gpu.as_mut() {
            Some(g) => g.plan(&self.segmenter, variant_index, size).is_some(),
            None => false,
        };
        let tensor = fill(size, spec, (!on_gpu).then_some(&mut self.input))?;
        if let Some(g) = self.gpu.as_mut().filter(|_| on_gpu) {
            g.pending = Some(tensor.ok_or_else(|| Error::model("preprocessing", "the GPU kept no tensor"))?);
        }
        Ok(Prepared { variant: variant_index, size, orientation: Orientation::UPRIGHT, on_gpu })
    }

    /// Runs the model on the input prepared by [`SegmenterSession::preprocess`] (the inference
    /// stage) and returns the mask at model resolution.
    pub fn infer(&mut self, prepared: Prepared) -> Result<Mask> {
        let mut mask = Mask::new(prepared.size.0, prepared.size.1);
        self.infer_into(prepared, &mut mask)?;
        Ok(mask)
    }

    /// Like [`SegmenterSession::infer`], writing into `mask` (resized to the model size if
    /// needed, reusing its allocation).
    pub fn infer_into(&mut self, prepared: Prepared, mask: &mut Mask) -> Result<()> {
        #[cfg(feature = "gpu")]
        if let Some(g) = self.gpu.as_mut() {
            if let Some(i) = g.plan(&self.segmenter, prepared.variant, prepared.size) {
                let pending = g.pending.take();
                if let (_, _, Ok(model)) = &g.plans[i] {
                    match pending.filter(|_| prepared.on_gpu) {
                        Some(tensor) => model.run_from(&tensor, &mut g.out)?,
                        None if prepared.on_gpu => {
                            return Err(Error::model("running the model", "its input on the GPU was used already"))
                        }
                        None => model.run(&self.input, &mut g.out)?,
                    }
                }
                let values = std::mem::take(&mut g.out);
                let result = self.store_mask(prepared, values.iter().copied(), mask);
                if let Some(g) = self.gpu.as_mut() {
                    g.out = values;
                }
                return result;
            }
        }
        let Prepared { variant: variant_index, size, on_gpu, .. } = prepared;
        if on_gpu {
            return Err(Error::model("running the model", "its input was left on a GPU the session no longer uses"));
        }
        let state_index = self.state_index(variant_index, size)?;
        let variant = &self.segmenter.variants[variant_index];
        let shape = input_shape(variant.spec.layout, size);
        let tensor = Tensor::from_shape(&shape, &self.input).map_err(|e| Error::model("building input tensor", e))?;
        let outputs = self.states[state_index]
            .2
            .run(tvec!(tensor.into_tvalue()))
            .map_err(|e| Error::model("running the model", e))?;
        let output = outputs.first().ok_or_else(|| Error::model("reading the output", "the model returned nothing"))?;
        let view = output.to_plain_array_view::<f32>().map_err(|e| Error::model("reading the output", e))?;
        let (w, h) = size;
        if view.len() != w as usize * h as usize {
            return Err(Error::InvalidSpec(format!(
                "model output has shape {:?}; expected one channel of {w}x{h}",
                view.shape()
            )));
        }
        self.store_mask(prepared, view.iter().copied(), mask)
    }

    /// The model's output `values` (one channel at the model size) as probabilities in `mask`,
    /// turned back to the frame's orientation.
    fn store_mask(
        &mut self,
        prepared: Prepared,
        values: impl ExactSizeIterator<Item = f32>,
        mask: &mut Mask,
    ) -> Result<()> {
        let Prepared { variant: variant_index, size, orientation, .. } = prepared;
        let (w, h) = size;
        if values.len() != w as usize * h as usize {
            return Err(Error::InvalidSpec(format!(
                "model output has {} values; expected one channel of {w}x{h}",
                values.len()
            )));
        }
        let logit = self.segmenter.variants[variant_index].spec.output == OutputKind::Logit;
        let probability = |v: f32| {
            let p = if logit { 1.0 / (1.0 + (-v).exp()) } else { v };
            if p.is_nan() {
                0.0
            } else {
                p.clamp(0.0, 1.0)
            }
        };
        if orientation.is_upright() {
            mask.reset(w, h);
            for (m, v) in mask.data_mut().iter_mut().zip(values) {
                *m = probability(v);
            }
        } else {
            // The upright mask, turned back to the frame's orientation (through `planar`).
            self.planar.clear();
            self.planar.extend(values.map(probability));
            let (sw, sh) = prepared.mask_size();
            mask.reset(sw, sh);
            store_upright_values(&self.planar, (w as usize, h as usize), orientation, mask.data_mut());
        }
        Ok(())
    }

    /// Preprocess + inference: the person mask of `frame` at model resolution.
    pub fn segment(&mut self, frame: FrameRef<'_>) -> Result<Mask> {
        let prepared = self.preprocess(frame)?;
        self.infer(prepared)
    }

    /// Like [`SegmenterSession::segment_into`] with the first (for the embedded models: the
    /// square) variant whatever the frame's shape: crops of people are seen best by it.
    pub(crate) fn segment_crop_into(&mut self, frame: FrameRef<'_>, mask: &mut Mask) -> Result<()> {
        let prepared = self.preprocess_crop(frame)?;
        self.infer_into(prepared, mask)
    }

    /// Like [`SegmenterSession::segment`], writing into `mask` (reusing its allocation).
    pub fn segment_into(&mut self, frame: FrameRef<'_>, mask: &mut Mask) -> Result<()> {
        let prepared = self.preprocess(frame)?;
        self.infer_into(prepared, mask)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn landscape_model_only_for_frames_at_least_as_wide() {
        let s = Segmenter::new().expect("embedded models load");
        let landscape = |w, h| s.variants[s.pick(w, h)].spec.size == InputSize::Fixed { width: 256, height: 144 };
        assert!(landscape(1280, 720) && landscape(1920, 1080) && landscape(256, 144) && landscape(2560, 1080));
        assert!(!landscape(640, 480) && !landscape(640, 427) && !landscape(480, 640) && !landscape(512, 512));
    }
}
