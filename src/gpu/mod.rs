//! The GPU backend: the pixel stages as WGSL compute shaders on wgpu (feature `gpu`).
//!
//! # What runs where
//! Inference stays in tract on the CPU. Everything else that touches pixels runs on the GPU,
//! one shader per stage, each the twin of a CPU module (`shaders/resample.wgsl` ↔
//! `src/resample.rs`, `shaders/refine.wgsl` ↔ `src/refine.rs`, `shaders/blur.wgsl` ↔
//! `src/blur/`, `shaders/composite.wgsl` ↔ `src/composite.rs`):
//!
//! 1. the frame goes up once ([`GpuPixels::upload`]);
//! 2. **preprocess**: the frame is resampled to the model's input and normalised on the GPU, and
//!    only that small tensor comes back for tract;
//! 3. the model's small mask goes up; **upsample**, **refine**, **blur** and **composite** run
//!    back to back in one submission; only the finished frame comes back
//!    ([`GpuPixels::download`]). (Photo detail passes and the matting model run the model again
//!    on crops, so their mask is made on the CPU and goes up instead; it is still refined here.)
//!
//! # Same pictures as the CPU
//! Filter taps, disc spans, Gaussian kernels and the sRGB tables are computed by the CPU code and
//! uploaded, and the shaders sum in the CPU's order where it matters, so the two backends differ
//! only by float rounding (the tests hold them to 2/255 at most and 0.25/255 on average).
//!
//! # Lowest common denominator
//! Everything lives in storage buffers of `u32`, `f32` and `vec4<f32>`: 8-bit pixels are packed
//! four to a word and unpacked in the shader. No textures means no dependence on storage-texture
//! formats (GL has no `bgra8unorm` storage), float filtering (GL cannot filter `r32float`),
//! `f16` or subgroups, so the same shaders run on Vulkan, Metal, DX12 and GL. A shader stage
//! binds at most six storage buffers.
//!
//! # Allocation
//! Buffers and bind groups are created once per [`GpuPixels`] and grown only when a larger
//! frame arrives; a frame of a size seen before allocates nothing on the GPU. Device errors are
//! collected by a handler (wgpu's default would panic) and returned as [`Error::Gpu`].

use std::sync::{Arc, Mutex, OnceLock};

use crate::blur::{gaussian_kernel, BlurKind, BlurParams, BlurWeights};
use crate::color::{decode_lut, encode_lut};
use crate::error::{Error, Result};
use crate::frame::{FrameMut, FrameRef, PixelFormat};
use crate::mask::Mask;
use crate::options::Mode;
use crate::refine::Refine;
use crate::resample::Weights;
use crate::segment::{Layout, Normalization, Sampling};
use crate::temporal::Temporal;

/// WGSL sources, one per pixel stage (validated by `tests/shaders.rs` even without a GPU).
pub mod shaders {
    /// Resampling: frame → model input, mask upsampling.
    pub const RESAMPLE: &str = include_str!("../../shaders/resample.wgsl");
    /// Edge-aware mask refinement (fast guided filter).
    pub const REFINE: &str = include_str!("../../shaders/refine.wgsl");
    /// Background blur: downsample, disc, Gaussian.
    pub const BLUR: &str = include_str!("../../shaders/blur.wgsl");
    /// Compositing in every mode.
    pub const COMPOSITE: &str = include_str!("../../shaders/composite.wgsl");
}

/// Which graphics API to look for adapters on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum GpuApi {
    /// Whatever the `WGPU_BACKEND` environment variable names (e.g. `vulkan`, `gl`), else all.
    #[default]
    Any,
    /// Vulkan (Linux, Windows, Android).
    Vulkan,
    /// Metal (macOS, iOS).
    Metal,
    /// Direct3D 12 (Windows).
    Dx12,
    /// OpenGL / OpenGL ES (through EGL where available).
    Gl,
}

impl GpuApi {
    fn backends(self) -> wgpu::Backends {
        match self {
            GpuApi::Any => wgpu::Backends::from_env().unwrap_or(wgpu::Backends::all()),
            GpuApi::Vulkan => wgpu::Backends::VULKAN,
            GpuApi::Metal => wgpu::Backends::METAL,
            GpuApi::Dx12 => wgpu::Backends::DX12,
            GpuApi::Gl => wgpu::Backends::GL,
        }
    }
}

/// What the chosen adapter is, for `-v` output and logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GpuInfo {
    /// The adapter's name, e.g. "NVIDIA H100 80GB HBM3" or "llvmpipe (LLVM 15.0.6, 256 bits)".
    pub name: String,
    /// The API wgpu drives it through: "Vulkan", "Metal", "Dx12" or "Gl".
    pub api: String,
    /// Driver name and version, as the driver reports them (may be empty).
    pub driver: String,
    /// True for software rasterisers (lavapipe, llvmpipe, WARP): correct but slower than rayon.
    pub software: bool,
}

impl std::fmt::Display for GpuInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}", self.name, self.api)?;
        if !self.driver.is_empty() {
            write!(f, ", driver {}", self.driver)?;
        }
        if self.software {
            write!(f, ", software")?;
        }
        write!(f, ")")
    }
}

/// The compute pipelines, one per shader entry point.
struct Kernels {
    frame_to_model: wgpu::ComputePipeline,
    mask_up: wgpu::ComputePipeline,
    refine_row_sums: wgpu::ComputePipeline,
    refine_stats: wgpu::ComputePipeline,
    refine_rows: wgpu::ComputePipeline,
    refine_cols: wgpu::ComputePipeline,
    refine_solve: wgpu::ComputePipeline,
    refine_smooth: wgpu::ComputePipeline,
    refine_apply: wgpu::ComputePipeline,
    downsample: wgpu::ComputePipeline,
    disc: wgpu::ComputePipeline,
    gauss_h: wgpu::ComputePipeline,
    gauss_v: wgpu::ComputePipeline,
    distance_cols: wgpu::ComputePipeline,
    distance_rows: wgpu::ComputePipeline,
    blend_blurred: wgpu::ComputePipeline,
    blend_replaced: wgpu::ComputePipeline,
    cutout: wgpu::ComputePipeline,
    mask8: wgpu::ComputePipeline,
}

/// A GPU device with the compiled shaders and the shared colour tables: create one per process
/// (it is `Send + Sync`) and hand it to every [`crate::Pipeline`] that should use it.
pub struct GpuContext {
    device: wgpu::Device,
    queue: wgpu::Queue,
    info: GpuInfo,
    kernels: Kernels,
    /// sRGB decoding table (256 × f32) followed by the encoding table (16384 bytes).
    luts: wgpu::Buffer,
    /// Errors reported by wgpu since the last check.
    errors: Arc<Mutex<Vec<String>>>,
}

impl std::fmt::Debug for GpuContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpuContext").field("info", &self.info).finish_non_exhaustive()
    }
}

fn gpu_error(context: &str, message: impl std::fmt::Display) -> Error {
    Error::Gpu { context: context.into(), message: message.to_string() }
}

/// "Vulkan, GL" for the native APIs in `backends`.
fn api_names(backends: wgpu::Backends) -> String {
    let names = [
        (wgpu::Backends::VULKAN, "Vulkan"),
        (wgpu::Backends::METAL, "Metal"),
        (wgpu::Backends::DX12, "DX12"),
        (wgpu::Backends::GL, "GL"),
    ];
    let list: Vec<&str> = names.iter().filter(|(b, _)| backends.contains(*b)).map(|(_, n)| *n).collect();
    if list.is_empty() {
        "no API".into()
    } else {
        list.join(", ")
    }
}

fn rank(t: wgpu::DeviceType) -> u8 {
    match t {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Other => 3,
        wgpu::DeviceType::Cpu => 4,
    }
}

impl GpuContext {
    /// Opens the best adapter on `api`: a discrete GPU before an integrated one, a hardware one
    /// before a software rasteriser. Software adapters are accepted only when
    /// `allow_software` is true. The error names the APIs tried and the adapters seen.
    pub fn new(api: GpuApi, allow_software: bool) -> Result<Arc<Self>> {
        pollster::block_on(Self::open(api, allow_software))
    }

    async fn open(api: GpuApi, allow_software: bool) -> Result<Arc<Self>> {
        let backends = api.backends();
        let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
        desc.backends = backends;
        desc.flags = wgpu::InstanceFlags::from_env_or_default();
        let instance = wgpu::Instance::new(desc);
        let mut adapters = instance.enumerate_adapters(backends).await;
        adapters.sort_by_key(|a| rank(a.get_info().device_type));
        let seen: Vec<String> = adapters
            .iter()
            .map(|a| {
                let i = a.get_info();
                format!("{} ({:?}, {:?})", i.name, i.backend, i.device_type)
            })
            .collect();
        let chosen = adapters
            .into_iter()
            .find(|a| allow_software || a.get_info().device_type != wgpu::DeviceType::Cpu)
            .ok_or_else(|| {
                let tried = api_names(backends);
                let seen = if seen.is_empty() {
                    "none (is a Vulkan, Metal, DX12 or GL driver installed? Mesa's mesa-vulkan-drivers gives a \
                     software one)"
                        .to_string()
                } else {
                    seen.join(", ")
                };
                let why = if allow_software { "" } else { " (software adapters skipped)" };
                gpu_error("finding an adapter", format!("no usable GPU adapter on {tried}{why}; adapters seen: {seen}"))
            })?;
        let a = chosen.get_info();
        let info = GpuInfo {
            name: a.name.clone(),
            api: format!("{:?}", a.backend),
            driver: [a.driver.as_str(), a.driver_info.as_str()]
                .iter()
                .filter(|s| !s.is_empty())
                .copied()
                .collect::<Vec<_>>()
                .join(" "),
            software: a.device_type == wgpu::DeviceType::Cpu,
        };
        let limits = chosen.limits();
        if limits.max_storage_buffers_per_shader_stage < 6 {
            return Err(gpu_error(
                "opening the device",
                format!(
                    "{info} offers {} storage buffers per shader stage; bokeh needs 6",
                    limits.max_storage_buffers_per_shader_stage
                ),
            ));
        }
        let (device, queue) = chosen
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("bokeh"),
                required_features: wgpu::Features::empty(),
                required_limits: limits,
                experimental_features: wgpu::ExperimentalFeatures::disabled(),
                memory_hints: wgpu::MemoryHints::Performance,
                trace: wgpu::Trace::Off,
            })
            .await
            .map_err(|e| gpu_error("opening the device", format!("{info}: {e}")))?;
        let errors = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&errors);
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            if let Ok(mut v) = sink.lock() {
                v.push(e.to_string());
            }
        }));
        let kernels = Kernels::new(&device);
        let mut table: Vec<u8> = decode_lut().iter().flat_map(|v| v.to_le_bytes()).collect();
        table.extend_from_slice(encode_lut());
        let luts = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("bokeh luts"),
            size: table.len() as u64,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        queue.write_buffer(&luts, 0, &table);
        let ctx = GpuContext { device, queue, info, kernels, luts, errors };
        ctx.check("compiling the shaders")?;
        Ok(Arc::new(ctx))
    }

    /// One context per process and kind (hardware only, or software rasterisers allowed),
    /// opened on first use on [`GpuApi::Any`]; later calls share it (a failure is remembered
    /// too). [`crate::Pipeline::new`] uses this for [`crate::Backend::Gpu`] (software allowed)
    /// and [`crate::Backend::Auto`] (hardware only).
    pub fn shared(allow_software: bool) -> Result<Arc<Self>> {
        static ANY: OnceLock<std::result::Result<Arc<GpuContext>, (String, String)>> = OnceLock::new();
        static HARDWARE: OnceLock<std::result::Result<Arc<GpuContext>, (String, String)>> = OnceLock::new();
        let cell = if allow_software { &ANY } else { &HARDWARE };
        let opened = cell.get_or_init(|| {
            Self::new(GpuApi::Any, allow_software).map_err(|e| match e {
                Error::Gpu { context, message } => (context, message),
                other => ("opening the GPU".into(), other.to_string()),
            })
        });
        match opened {
            Ok(ctx) => Ok(Arc::clone(ctx)),
            Err((context, message)) => Err(Error::Gpu { context: context.clone(), message: message.clone() }),
        }
    }

    /// The adapter in use.
    pub fn info(&self) -> &GpuInfo {
        &self.info
    }

    /// Returns the errors wgpu reported since the last check, if any, as one error.
    fn check(&self, context: &str) -> Result<()> {
        let mut errors = self.errors.lock().map_err(|_| gpu_error(context, "error log poisoned"))?;
        if errors.is_empty() {
            return Ok(());
        }
        let message = errors.join("; ");
        errors.clear();
        Err(gpu_error(context, message))
    }

    fn wait(&self, context: &str) -> Result<()> {
        self.device.poll(wgpu::PollType::wait_indefinitely()).map_err(|e| gpu_error(context, e))?;
        self.check(context)
    }
}

impl Kernels {
    fn new(device: &wgpu::Device) -> Self {
        let module = |label, source: &'static str| {
            device.create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(label),
                source: wgpu::ShaderSource::Wgsl(source.into()),
            })
        };
        let resample = module("resample.wgsl", shaders::RESAMPLE);
        let refine = module("refine.wgsl", shaders::REFINE);
        let blur = module("blur.wgsl", shaders::BLUR);
        let composite = module("composite.wgsl", shaders::COMPOSITE);
        let make = |module: &wgpu::ShaderModule, entry: &str| {
            device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(entry),
                layout: None,
                module,
                entry_point: Some(entry),
                compilation_options: Default::default(),
                cache: None,
            })
        };
        Kernels {
            frame_to_model: make(&resample, "frame_to_model"),
            mask_up: make(&resample, "mask_up"),
            refine_row_sums: make(&refine, "row_sums"),
            refine_stats: make(&refine, "block_stats"),
            refine_rows: make(&refine, "box_rows"),
            refine_cols: make(&refine, "box_cols"),
            refine_solve: make(&refine, "solve"),
            refine_smooth: make(&refine, "smooth_coefficients"),
            refine_apply: make(&refine, "apply"),
            downsample: make(&blur, "downsample"),
            disc: make(&blur, "disc"),
            gauss_h: make(&blur, "gauss_h"),
            gauss_v: make(&blur, "gauss_v"),
            distance_cols: make(&blur, "distance_cols"),
            distance_rows: make(&blur, "distance_rows"),
            blend_blurred: make(&composite, "blend_blurred"),
            blend_replaced: make(&composite, "blend_replaced"),
            cutout: make(&composite, "cutout"),
            mask8: make(&composite, "mask8"),
        }
    }
}

/// A grow-only GPU buffer.
struct Slot {
    label: &'static str,
    usage: wgpu::BufferUsages,
    buffer: Option<wgpu::Buffer>,
}

impl Slot {
    fn new(label: &'static str, usage: wgpu::BufferUsages) -> Self {
        Slot { label, usage, buffer: None }
    }

    /// Makes the buffer hold at least `size` bytes; true when it had to be (re)created.
    fn ensure(&mut self, device: &wgpu::Device, size: u64) -> bool {
        let size = size.max(16).next_multiple_of(wgpu::COPY_BUFFER_ALIGNMENT);
        if self.buffer.as_ref().is_some_and(|b| b.size() >= size) {
            return false;
        }
        self.buffer = Some(device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(self.label),
            size,
            usage: self.usage,
            mapped_at_creation: false,
        }));
        true
    }

    fn get(&self) -> Result<&wgpu::Buffer> {
        self.buffer.as_ref().ok_or_else(|| gpu_error(self.label, "used before it was filled"))
    }
}

const STORAGE: wgpu::BufferUsages = wgpu::BufferUsages::STORAGE;
const DST: wgpu::BufferUsages = wgpu::BufferUsages::COPY_DST;
const SRC: wgpu::BufferUsages = wgpu::BufferUsages::COPY_SRC;
const UNIFORM: wgpu::BufferUsages = wgpu::BufferUsages::UNIFORM;
const READBACK: wgpu::BufferUsages = wgpu::BufferUsages::MAP_READ.union(wgpu::BufferUsages::COPY_DST);

/// The buffers of one [`GpuPixels`].
struct Buffers {
    frame: Slot,
    model_params: Slot,
    model_taps: Slot,
    model_in: Slot,
    model_readback: Slot,
    low_mask: Slot,
    mask_params: Slot,
    mask_taps: Slot,
    mask: Slot,
    mask_readback: Slot,
    refine_params: Slot,
    refine_coef_params: Slot,
    refine_partial: Slot,
    refine_stats: Slot,
    refine_tmp: Slot,
    refine_coef: Slot,
    refine_coef_tmp: Slot,
    refine_prev: Slot,
    blur_params: Slot,
    low: Slot,
    shape: Slot,
    tmp: Slot,
    blurred: Slot,
    falloff_dist: Slot,
    cell_level: Slot,
    falloff_table: Slot,
    comp_params: Slot,
    replaced: Slot,
    out: Slot,
    out_readback: Slot,
}

impl Buffers {
    fn new() -> Self {
        Buffers {
            frame: Slot::new("frame", STORAGE | DST),
            model_params: Slot::new("model params", UNIFORM | DST),
            model_taps: Slot::new("model taps", STORAGE | DST),
            model_in: Slot::new("model input", STORAGE | SRC),
            model_readback: Slot::new("model input readback", READBACK),
            low_mask: Slot::new("model mask", STORAGE | DST),
            mask_params: Slot::new("mask params", UNIFORM | DST),
            mask_taps: Slot::new("mask taps", STORAGE | DST),
            mask: Slot::new("mask", STORAGE | DST | SRC),
            mask_readback: Slot::new("mask readback", READBACK),
            refine_params: Slot::new("refine params", UNIFORM | DST),
            refine_coef_params: Slot::new("refine coefficient params", UNIFORM | DST),
            refine_partial: Slot::new("refine row sums", STORAGE),
            refine_stats: Slot::new("refine statistics", STORAGE),
            refine_tmp: Slot::new("refine statistics tmp", STORAGE),
            refine_coef: Slot::new("refine coefficients", STORAGE),
            refine_coef_tmp: Slot::new("refine coefficients tmp", STORAGE),
            refine_prev: Slot::new("refine last coefficients", STORAGE),
            blur_params: Slot::new("blur params", UNIFORM | DST),
            low: Slot::new("blur low", STORAGE),
            shape: Slot::new("blur shape", STORAGE | DST),
            tmp: Slot::new("blur tmp", STORAGE),
            blurred: Slot::new("blurred", STORAGE),
            falloff_dist: Slot::new("falloff distances", STORAGE),
            cell_level: Slot::new("falloff aperture levels", STORAGE),
            falloff_table: Slot::new("falloff level table", STORAGE | DST),
            comp_params: Slot::new("composite params", UNIFORM | DST),
            replaced: Slot::new("replacement background", STORAGE | DST),
            out: Slot::new("output", STORAGE | SRC),
            out_readback: Slot::new("output readback", READBACK),
        }
    }
}

/// Picks one compute pipeline out of [`Kernels`].
type Kernel = fn(&Kernels) -> &wgpu::ComputePipeline;

/// Bind groups, created on first use and dropped whenever a buffer is recreated.
#[derive(Default)]
struct Groups {
    frame_to_model: Option<wgpu::BindGroup>,
    mask_up: Option<wgpu::BindGroup>,
    refine: Option<RefineGroups>,
    downsample: Option<wgpu::BindGroup>,
    disc: Option<wgpu::BindGroup>,
    gauss_h: Option<wgpu::BindGroup>,
    gauss_v: Option<wgpu::BindGroup>,
    distance_cols: Option<wgpu::BindGroup>,
    distance_rows: Option<wgpu::BindGroup>,
    blend_blurred: Option<wgpu::BindGroup>,
    blend_replaced: Option<wgpu::BindGroup>,
    cutout: Option<wgpu::BindGroup>,
    mask8: Option<wgpu::BindGroup>,
}

/// The refinement's bind groups: the box passes run once over the statistics and once over the
/// coefficients, each with its own buffers.
#[derive(Clone)]
struct RefineGroups {
    row_sums: wgpu::BindGroup,
    stats: wgpu::BindGroup,
    rows_stats: wgpu::BindGroup,
    cols_stats: wgpu::BindGroup,
    solve: wgpu::BindGroup,
    rows_coef: wgpu::BindGroup,
    cols_coef: wgpu::BindGroup,
    smooth: wgpu::BindGroup,
    apply: wgpu::BindGroup,
}

impl Groups {
    /// The composite stage's bind group for `mode`.
    fn composite(&mut self, mode: Mode) -> &mut Option<wgpu::BindGroup> {
        match mode {
            Mode::Blur => &mut self.blend_blurred,
            Mode::Replace => &mut self.blend_replaced,
            Mode::Cutout => &mut self.cutout,
            Mode::Mask => &mut self.mask8,
        }
    }
}

/// The frame on the GPU: its size and format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FrameShape {
    width: u32,
    height: u32,
    format: PixelFormat,
}

/// A resize: (source width, height), (destination width, height).
type Resize = ((u32, u32), (u32, u32));
/// What a preprocess tap table was built for: sampling, frame size, model input size.
type ModelKey = (Sampling, (u32, u32), (u32, u32));

/// Little-endian bytes of a list of 32-bit words (uniforms and tables).
fn words(values: &[u32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn taps_table(wx: &Weights, wy: &Weights) -> Vec<u8> {
    let starts = wx.starts.iter().chain(&wy.starts).map(|&s| s as u32);
    let weights = wx.weights.iter().chain(&wy.weights).map(|w| w.to_bits());
    words(&starts.chain(weights).collect::<Vec<_>>())
}

/// Workgroups for `n` invocations of a 64-wide kernel, folded into two dimensions so that no
/// dimension passes the 65535 limit (4K frames need 130k groups).
fn linear_groups(n: u64) -> (u32, u32) {
    let groups = n.div_ceil(64).max(1);
    let x = groups.min(65_535);
    (x as u32, groups.div_ceil(x) as u32)
}

fn groups_2d(w: u32, h: u32) -> (u32, u32) {
    (w.div_ceil(8), h.div_ceil(8))
}

/// Per-pixel channel roles for the composite shader: for each byte of an input pixel, 0–2 =
/// red, green, blue, 3 = alpha. For grey, the one byte takes the last colour written by the
/// CPU loop (blue), which equals the others since the three channels come from the same byte.
fn channel_map(format: PixelFormat) -> [u32; 4] {
    match format {
        PixelFormat::Rgb8 => [0, 1, 2, 3],
        PixelFormat::Rgba8 => [0, 1, 2, 3],
        PixelFormat::Bgra8 => [2, 1, 0, 3],
        PixelFormat::Gray8 => [2, 3, 3, 3],
    }
}

const NO_ALPHA: u32 = u32::MAX;

/// One stream's GPU state: buffers, bind groups and cached tables. Use it through
/// [`crate::Pipeline`] with [`crate::Backend::Gpu`], or directly to drive or time single stages
/// (each method records work; [`GpuPixels::finish`] or [`GpuPixels::download`] submits it).
pub struct GpuPixels {
    ctx: Arc<GpuContext>,
    bufs: Buffers,
    groups: Groups,
    encoder: Option<wgpu::CommandEncoder>,
    frame: Option<FrameShape>,
    /// Sampling and sizes the preprocess tap table was built for, (src, dst), and its taps per
    /// axis.
    model_key: Option<(ModelKey, (u32, u32))>,
    mask_key: Option<Resize>,
    /// Size of the full-resolution mask on the GPU (set by upsample and `set_mask`).
    mask_size: Option<(u32, u32)>,
    /// Reduced size of the refinement coefficients in `refine_prev`, when they are the last
    /// frame's (temporal smoothing).
    refine_prev: Option<(u32, u32)>,
    /// Blur kernel of the cached `shape` table: kind, reduced radius and falloff (bits).
    shape_key: Option<(BlurKind, u32, u32)>,
    /// Reduced size and factor of the last blur.
    blur_low: Option<(u32, u32, u32)>,
    /// Last uploaded replacement background: which one and for which size.
    replaced_key: Option<(u64, u32, u32)>,
    scratch: Vec<u8>,
    kernel: Vec<f32>,
    apertures: crate::blur::Apertures,
}

impl std::fmt::Debug for GpuPixels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpuPixels").field("ctx", &self.ctx).field("frame", &self.frame).finish_non_exhaustive()
    }
}

impl GpuPixels {
    /// Fresh state on `ctx`; buffers are created by the first frame.
    pub fn new(ctx: Arc<GpuContext>) -> Self {
        GpuPixels {
            ctx,
            bufs: Buffers::new(),
            groups: Groups::default(),
            encoder: None,
            frame: None,
            model_key: None,
            mask_key: None,
            mask_size: None,
            refine_prev: None,
            shape_key: None,
            blur_low: None,
            replaced_key: None,
            scratch: Vec::new(),
            kernel: Vec::new(),
            apertures: Default::default(),
        }
    }

    /// The device this state lives on.
    pub fn context(&self) -> &Arc<GpuContext> {
        &self.ctx
    }

    fn ensure(&mut self, pick: impl Fn(&mut Buffers) -> &mut Slot, size: u64) {
        if pick(&mut self.bufs).ensure(&self.ctx.device, size) {
            self.groups = Groups::default();
        }
    }

    fn encoder(&mut self) -> &mut wgpu::CommandEncoder {
        let device = &self.ctx.device;
        self.encoder.get_or_insert_with(|| device.create_command_encoder(&Default::default()))
    }

    fn dispatch(&mut self, which: Kernel, group: &wgpu::BindGroup, (x, y): (u32, u32)) {
        let ctx = Arc::clone(&self.ctx);
        let mut pass = self.encoder().begin_compute_pass(&Default::default());
        pass.set_pipeline(which(&ctx.kernels));
        pass.set_bind_group(0, group, &[]);
        pass.dispatch_workgroups(x, y, 1);
    }

    /// A bind group for `which` over `entries` (binding, buffer), plus the colour tables at
    /// binding 3 when `luts`.
    fn bind(&self, which: Kernel, entries: &[(u32, &Slot)], luts: bool) -> Result<wgpu::BindGroup> {
        let layout = which(&self.ctx.kernels).get_bind_group_layout(0);
        let mut entries = entries
            .iter()
            .map(|&(binding, slot)| Ok(wgpu::BindGroupEntry { binding, resource: slot.get()?.as_entire_binding() }))
            .collect::<Result<Vec<_>>>()?;
        if luts {
            entries.push(wgpu::BindGroupEntry { binding: 3, resource: self.ctx.luts.as_entire_binding() });
        }
        Ok(self.ctx.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &layout,
            entries: &entries,
        }))
    }

    fn shape(&self) -> Result<FrameShape> {
        self.frame.ok_or_else(|| gpu_error("running a stage", "no frame uploaded"))
    }

    /// Copies `frame` to the GPU (rows packed, four bytes to a word).
    pub fn upload(&mut self, frame: FrameRef<'_>) -> Result<()> {
        let row_len = frame.width() as usize * frame.format().bytes_per_pixel();
        let len = row_len * frame.height() as usize;
        self.ensure(|b| &mut b.frame, len as u64);
        let buffer = self.bufs.frame.get()?;
        match frame.packed_bytes() {
            Some(bytes) if bytes.len() % 4 == 0 => self.ctx.queue.write_buffer(buffer, 0, bytes),
            _ => {
                self.scratch.clear();
                for y in 0..frame.height() {
                    self.scratch.extend_from_slice(frame.row(y));
                }
                self.scratch.resize(len.next_multiple_of(4), 0);
                self.ctx.queue.write_buffer(buffer, 0, &self.scratch);
            }
        }
        self.frame = Some(FrameShape { width: frame.width(), height: frame.height(), format: frame.format() });
        Ok(())
    }

    /// The preprocess stage on the uploaded frame: resamples it to `size` (the model's input)
    /// with `sampling`'s taps, normalises it and reads the tensor back into `out` in `layout`
    /// order. Waits for the GPU.
    pub fn preprocess(
        &mut self,
        size: (u32, u32),
        sampling: Sampling,
        normalization: Normalization,
        layout: Layout,
        out: &mut Vec<f32>,
    ) -> Result<()> {
        let f = self.shape()?;
        let (mw, mh) = size;
        let n = mw as u64 * mh as u64 * 3;
        let sizes = (sampling, (f.width, f.height), size);
        let taps = match self.model_key {
            Some((key, taps)) if key == sizes => taps,
            _ => {
                let wx = Weights::for_sampling(sampling, f.width as usize, mw as usize);
                let wy = Weights::for_sampling(sampling, f.height as usize, mh as usize);
                let table = taps_table(&wx, &wy);
                self.ensure(|b| &mut b.model_taps, table.len() as u64);
                self.ctx.queue.write_buffer(self.bufs.model_taps.get()?, 0, &table);
                self.ensure(|b| &mut b.model_in, n * 4);
                self.ensure(|b| &mut b.model_readback, n * 4);
                let taps = (wx.taps as u32, wy.taps as u32);
                self.model_key = Some((sizes, taps));
                taps
            }
        };
        // The parameters (80 bytes) are written every frame: the normalisation and layout can
        // change with the model variant while the sizes stay the same.
        let [r, g, b] = f.format.rgb_offsets().map(|o| o as u32);
        let nchw = u32::from(layout == Layout::Nchw);
        let bpp = f.format.bytes_per_pixel() as u32;
        let mut params = words(&[f.width, f.height, mw, mh, taps.0, taps.1, bpp, nchw, r, g, b, 0]);
        let scale: [f32; 3] = std::array::from_fn(|c| 1.0 / (255.0 * normalization.std[c]));
        let offset: [f32; 3] = std::array::from_fn(|c| -normalization.mean[c] / normalization.std[c]);
        for v in scale.iter().chain([&0.0]).chain(&offset).chain([&0.0]) {
            params.extend_from_slice(&v.to_le_bytes());
        }
        self.ensure(|b| &mut b.model_params, params.len() as u64);
        self.ctx.queue.write_buffer(self.bufs.model_params.get()?, 0, &params);
        if self.groups.frame_to_model.is_none() {
            let b = &self.bufs;
            let entries = [(0, &b.model_params), (1, &b.model_taps), (2, &b.frame), (3, &b.model_in)];
            self.groups.frame_to_model = Some(self.bind(|k| &k.frame_to_model, &entries, false)?);
        }
        let group = self.groups.frame_to_model.clone().ok_or_else(|| gpu_error("preprocess", "no bind group"))?;
        self.dispatch(|k| &k.frame_to_model, &group, groups_2d(mw, mh));
        let (src, dst) = (self.bufs.model_in.get()?.clone(), self.bufs.model_readback.get()?.clone());
        self.encoder().copy_buffer_to_buffer(&src, 0, &dst, 0, n * 4);
        self.submit();
        out.resize(n as usize, 0.0);
        self.read(&dst, n * 4, "reading the model input back", |bytes| {
            for (o, b) in out.iter_mut().zip(bytes.chunks_exact(4)) {
                *o = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            }
        })
    }

    /// The upsample stage: `low` (the model's mask, any size) to the uploaded frame's size.
    pub fn upsample(&mut self, low: &Mask) -> Result<()> {
        let f = self.shape()?;
        let src = (low.width(), low.height());
        let n = low.data().len() as u64;
        self.ensure(|b| &mut b.low_mask, n * 4);
        self.scratch.clear();
        self.scratch.extend(low.data().iter().flat_map(|v| v.to_le_bytes()));
        self.ctx.queue.write_buffer(self.bufs.low_mask.get()?, 0, &self.scratch);
        if self.mask_key != Some((src, (f.width, f.height))) {
            let wx = Weights::triangle(src.0 as usize, f.width as usize);
            let wy = Weights::triangle(src.1 as usize, f.height as usize);
            let table = taps_table(&wx, &wy);
            self.ensure(|b| &mut b.mask_taps, table.len() as u64);
            self.ctx.queue.write_buffer(self.bufs.mask_taps.get()?, 0, &table);
            let mut params =
                words(&[src.0, src.1, f.width, f.height, wx.taps as u32, wy.taps as u32, 0, 0, 0, 0, 0, 0]);
            params.resize(80, 0);
            self.ensure(|b| &mut b.mask_params, params.len() as u64);
            self.ctx.queue.write_buffer(self.bufs.mask_params.get()?, 0, &params);
            self.ensure(|b| &mut b.mask, f.width as u64 * f.height as u64 * 4);
            self.mask_key = Some((src, (f.width, f.height)));
        }
        if self.groups.mask_up.is_none() {
            let b = &self.bufs;
            let entries = [(0, &b.mask_params), (1, &b.mask_taps), (4, &b.low_mask), (5, &b.mask)];
            self.groups.mask_up = Some(self.bind(|k| &k.mask_up, &entries, false)?);
        }
        let group = self.groups.mask_up.clone().ok_or_else(|| gpu_error("upsample", "no bind group"))?;
        self.dispatch(|k| &k.mask_up, &group, groups_2d(f.width, f.height));
        self.mask_size = Some((f.width, f.height));
        Ok(())
    }

    /// Uploads a full-resolution mask made elsewhere (by the CPU's detail passes or matting) in
    /// place of the upsample stage; it must have the uploaded frame's size.
    pub fn set_mask(&mut self, mask: &Mask) -> Result<()> {
        let f = self.shape()?;
        if (mask.width(), mask.height()) != (f.width, f.height) {
            return Err(Error::SizeMismatch {
                what: "mask",
                expected: crate::error::Dims(f.width, f.height),
                actual: crate::error::Dims(mask.width(), mask.height()),
            });
        }
        self.ensure(|b| &mut b.mask, f.width as u64 * f.height as u64 * 4);
        self.scratch.clear();
        self.scratch.extend(mask.data().iter().flat_map(|v| v.to_le_bytes()));
        self.ctx.queue.write_buffer(self.bufs.mask.get()?, 0, &self.scratch);
        self.mask_size = Some((f.width, f.height));
        Ok(())
    }

    /// The refinement stage (the CPU's [`crate::Refiner`]): refines the mask on the GPU (after
    /// [`GpuPixels::upsample`] or [`GpuPixels::set_mask`]) in place, with the uploaded frame as
    /// the guide. With `temporal`, the window coefficients are smoothed against the last frame's
    /// as the CPU does for video; [`GpuPixels::reset_refine`] forgets them.
    pub fn refine(&mut self, refine: &Refine, temporal: Option<&Temporal>) -> Result<()> {
        refine.validate()?;
        let f = self.shape()?;
        if self.mask_size != Some((f.width, f.height)) {
            return Err(gpu_error("refine", "no mask of the uploaded frame's size (upsample or set one first)"));
        }
        let guided = refine.reduction(f.width, f.height);
        let ramp = refine.has_ramp();
        if guided.is_none() && !ramp {
            return Ok(());
        }
        let (factor, radius) = guided.map_or((1, 1), |(f, r)| (f as u32, r as u32));
        let (lw, lh) = (f.width.div_ceil(factor), f.height.div_ceil(factor));
        let mode = match temporal {
            Some(_) if self.refine_prev == Some((lw, lh)) => 2,
            Some(_) => 1,
            None => 0,
        };
        if guided.is_some() {
            self.refine_prev = temporal.map(|_| (lw, lh));
        }
        let (min_weight, inv_full) = temporal.map_or((1.0, 1.0), |t| (t.min_weight, 1.0 / t.full_change));
        let [r, g, b] = f.format.rgb_offsets().map(|o| o as u32);
        let flags = u32::from(guided.is_some()) | u32::from(ramp) << 1;
        let params = |groups: u32| {
            words(&[
                f.width,
                f.height,
                f.format.bytes_per_pixel() as u32,
                r,
                g,
                b,
                factor,
                lw,
                lh,
                radius,
                groups,
                mode,
                refine.eps.to_bits(),
                refine.threshold.to_bits(),
                (1.0 / refine.feather).to_bits(),
                flags,
                min_weight.to_bits(),
                inv_full.to_bits(),
                0,
                0,
            ])
        };
        let (stats_params, coef_params) = (params(4), params(1));
        self.ensure(|b| &mut b.refine_params, stats_params.len() as u64);
        self.ensure(|b| &mut b.refine_coef_params, coef_params.len() as u64);
        self.ctx.queue.write_buffer(self.bufs.refine_params.get()?, 0, &stats_params);
        self.ctx.queue.write_buffer(self.bufs.refine_coef_params.get()?, 0, &coef_params);
        let cells = lw as u64 * lh as u64;
        self.ensure(|b| &mut b.refine_partial, lw as u64 * f.height as u64 * 16);
        self.ensure(|b| &mut b.refine_stats, cells * 64);
        self.ensure(|b| &mut b.refine_tmp, cells * 64);
        self.ensure(|b| &mut b.refine_coef, cells * 16);
        self.ensure(|b| &mut b.refine_coef_tmp, cells * 16);
        self.ensure(|b| &mut b.refine_prev, cells * 32);
        let groups = match self.groups.refine.clone() {
            Some(groups) => groups,
            None => {
                let b = &self.bufs;
                let (params, coef_params) = ((0, &b.refine_params), (0, &b.refine_coef_params));
                let (stats, tmp, coef, coef_tmp) = (&b.refine_stats, &b.refine_tmp, &b.refine_coef, &b.refine_coef_tmp);
                let partial = (8, &b.refine_partial);
                let groups = RefineGroups {
                    row_sums: self.bind(
                        |k| &k.refine_row_sums,
                        &[params, (1, &b.frame), (2, &b.mask), partial],
                        false,
                    )?,
                    stats: self.bind(|k| &k.refine_stats, &[params, partial, (5, stats)], false)?,
                    rows_stats: self.bind(|k| &k.refine_rows, &[params, (3, stats), (4, tmp)], false)?,
                    cols_stats: self.bind(|k| &k.refine_cols, &[params, (3, tmp), (4, stats)], false)?,
                    solve: self.bind(|k| &k.refine_solve, &[params, (5, stats), (6, coef)], false)?,
                    rows_coef: self.bind(|k| &k.refine_rows, &[coef_params, (3, coef), (4, coef_tmp)], false)?,
                    cols_coef: self.bind(|k| &k.refine_cols, &[coef_params, (3, coef_tmp), (4, coef)], false)?,
                    smooth: self.bind(
                        |k| &k.refine_smooth,
                        &[params, (5, stats), (6, coef), (7, &b.refine_prev)],
                        false,
                    )?,
                    apply: self.bind(|k| &k.refine_apply, &[params, (1, &b.frame), (2, &b.mask), (6, coef)], false)?,
                };
                self.groups.refine = Some(groups.clone());
                groups
            }
        };
        if guided.is_some() {
            let cells = groups_2d(lw, lh);
            self.dispatch(|k| &k.refine_row_sums, &groups.row_sums, groups_2d(lw, f.height));
            self.dispatch(|k| &k.refine_stats, &groups.stats, cells);
            self.dispatch(|k| &k.refine_rows, &groups.rows_stats, cells);
            self.dispatch(|k| &k.refine_cols, &groups.cols_stats, cells);
            self.dispatch(|k| &k.refine_solve, &groups.solve, cells);
            self.dispatch(|k| &k.refine_rows, &groups.rows_coef, cells);
            self.dispatch(|k| &k.refine_cols, &groups.cols_coef, cells);
            if mode > 0 {
                self.dispatch(|k| &k.refine_smooth, &groups.smooth, cells);
            }
        }
        self.dispatch(|k| &k.refine_apply, &groups.apply, groups_2d(f.width, f.height));
        Ok(())
    }

    /// Forgets the last frame's refinement coefficients (after a cut, or when smoothing is
    /// turned off).
    pub fn reset_refine(&mut self) {
        self.refine_prev = None;
    }

    /// Copies the full-resolution mask (after upsample, and refine if it ran) into `out`,
    /// waiting for the GPU: for callers who want the mask as well as the picture.
    pub fn read_mask(&mut self, out: &mut Mask) -> Result<()> {
        let (w, h) = self.mask_size.ok_or_else(|| gpu_error("reading the mask back", "no mask on the GPU"))?;
        if (out.width(), out.height()) != (w, h) {
            *out = Mask::new(w, h);
        }
        let len = w as u64 * h as u64 * 4;
        self.ensure(|b| &mut b.mask_readback, len);
        let (src, dst) = (self.bufs.mask.get()?.clone(), self.bufs.mask_readback.get()?.clone());
        self.encoder().copy_buffer_to_buffer(&src, 0, &dst, 0, len);
        self.submit();
        self.read(&dst, len, "reading the mask back", |bytes| {
            for (o, b) in out.data_mut().iter_mut().zip(bytes.chunks_exact(4)) {
                *o = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            }
        })
    }

    /// The blur stage: the uploaded frame's background (weighted by the upsampled mask as
    /// [`BlurParams::weights`] says) as `params` say, at the reduced resolution the CPU uses
    /// ([`crate::BlurredBackground::compute`] is its twin).
    pub fn blur(&mut self, params: &BlurParams) -> Result<()> {
        let f = self.shape()?;
        let plan = params.plan()?;
        let (kind, bloom, factor, low_radius, falloff) =
            (params.kind, plan.bloom, plan.factor, plan.low_radius, plan.low_falloff);
        let (lw, lh) = (f.width.div_ceil(factor as u32), f.height.div_ceil(factor as u32));
        // The aperture or Gaussian tables go up only when they change (not every frame).
        let key = (kind, low_radius.to_bits(), falloff.unwrap_or(0.0).to_bits());
        if self.shape_key != Some(key) {
            self.scratch.clear();
            match kind {
                BlurKind::Disc | BlurKind::Hexagon => {
                    // Per level (first span, number of spans), then the spans (the CPU's tables).
                    let a = &mut self.apertures;
                    a.fill(kind, low_radius, falloff);
                    let header = a.levels.len() * 2;
                    let levels = a.levels.iter().flat_map(|&(start, n)| [(header + start) as u32, n as u32]);
                    let all = levels.chain(a.spans.iter().map(|&s| s as u32));
                    self.scratch.extend(all.flat_map(u32::to_le_bytes));
                }
                BlurKind::Gaussian => {
                    gaussian_kernel(low_radius / 2.0, &mut self.kernel);
                    self.scratch.extend(self.kernel.iter().flat_map(|k| k.to_le_bytes()));
                }
            }
            self.ensure(|b| &mut b.shape, self.scratch.len() as u64);
            self.ctx.queue.write_buffer(self.bufs.shape.get()?, 0, &self.scratch);
            if falloff.is_some() {
                let table = words(&self.apertures.table);
                self.ensure(|b| &mut b.falloff_table, table.len() as u64);
                self.ctx.queue.write_buffer(self.bufs.falloff_table.get()?, 0, &table);
            }
            self.shape_key = Some(key);
        }
        let count = match kind {
            BlurKind::Disc | BlurKind::Hexagon => self.apertures.levels.len(),
            BlurKind::Gaussian => self.kernel.len(),
        };
        // The plan refused falloff with a Gaussian.
        let with_falloff = falloff.is_some();
        let table_len = if with_falloff { self.apertures.table.len() as u32 } else { 0 };
        let [r, g, b] = f.format.rgb_offsets().map(|o| o as u32);
        let params = words(&[
            f.width,
            f.height,
            f.format.bytes_per_pixel() as u32,
            r,
            g,
            b,
            factor as u32,
            lw,
            lh,
            count as u32,
            bloom.to_bits(),
            u32::from(params.weights == BlurWeights::BackgroundOnly),
            with_falloff as u32,
            table_len,
            0,
            0,
        ]);
        self.ensure(|b| &mut b.blur_params, params.len() as u64);
        self.ctx.queue.write_buffer(self.bufs.blur_params.get()?, 0, &params);
        let texels = lw as u64 * lh as u64 * 16;
        self.ensure(|b| &mut b.low, texels);
        self.ensure(|b| &mut b.tmp, texels);
        self.ensure(|b| &mut b.blurred, texels);
        self.ensure(|b| &mut b.falloff_dist, texels / 4);
        self.ensure(|b| &mut b.cell_level, texels / 4);
        self.ensure(|b| &mut b.falloff_table, 16);
        if self.groups.downsample.is_none() {
            let b = &self.bufs;
            let entries = [(0, &b.blur_params), (1, &b.frame), (2, &b.mask), (4, &b.low)];
            self.groups.downsample = Some(self.bind(|k| &k.downsample, &entries, true)?);
            let entries = [(0, &b.blur_params), (4, &b.low), (5, &b.shape), (7, &b.blurred), (9, &b.cell_level)];
            self.groups.disc = Some(self.bind(|k| &k.disc, &entries, false)?);
            let entries = [(0, &b.blur_params), (4, &b.low), (8, &b.falloff_dist)];
            self.groups.distance_cols = Some(self.bind(|k| &k.distance_cols, &entries, false)?);
            let entries = [(0, &b.blur_params), (8, &b.falloff_dist), (9, &b.cell_level), (10, &b.falloff_table)];
            self.groups.distance_rows = Some(self.bind(|k| &k.distance_rows, &entries, false)?);
            let entries = [(0, &b.blur_params), (4, &b.low), (5, &b.shape), (6, &b.tmp)];
            self.groups.gauss_h = Some(self.bind(|k| &k.gauss_h, &entries, false)?);
            let entries = [(0, &b.blur_params), (5, &b.shape), (6, &b.tmp), (7, &b.blurred)];
            self.groups.gauss_v = Some(self.bind(|k| &k.gauss_v, &entries, false)?);
        }
        let missing = || gpu_error("blur", "no bind group");
        let g = &self.groups;
        let down = g.downsample.clone().ok_or_else(missing)?;
        let (disc, gh, gv) = (g.disc.clone().ok_or_else(missing)?, g.gauss_h.clone(), g.gauss_v.clone());
        let (dc, dr) = (g.distance_cols.clone(), g.distance_rows.clone());
        let grid = groups_2d(lw, lh);
        self.dispatch(|k| &k.downsample, &down, grid);
        match kind {
            BlurKind::Disc | BlurKind::Hexagon => {
                if with_falloff {
                    self.dispatch(|k| &k.distance_cols, &dc.ok_or_else(missing)?, (lw.div_ceil(64), 1));
                    self.dispatch(|k| &k.distance_rows, &dr.ok_or_else(missing)?, grid);
                }
                self.dispatch(|k| &k.disc, &disc, grid)
            }
            BlurKind::Gaussian => {
                self.dispatch(|k| &k.gauss_h, &gh.ok_or_else(missing)?, grid);
                self.dispatch(|k| &k.gauss_v, &gv.ok_or_else(missing)?, grid);
            }
        }
        self.blur_low = Some((lw, lh, factor as u32));
        Ok(())
    }

    /// Uploads a replacement background already fitted to the frame (linear RGB, one per pixel)
    /// unless the same one (by `id`) is there already.
    pub(crate) fn set_replacement(&mut self, id: u64, fitted: &[[f32; 3]]) -> Result<()> {
        let f = self.shape()?;
        if self.replaced_key == Some((id, f.width, f.height)) {
            return Ok(());
        }
        self.ensure(|b| &mut b.replaced, fitted.len() as u64 * 16);
        self.scratch.clear();
        self.scratch.extend(fitted.iter().flat_map(|p| [p[0], p[1], p[2], 0.0]).flat_map(|v| v.to_le_bytes()));
        self.ctx.queue.write_buffer(self.bufs.replaced.get()?, 0, &self.scratch);
        self.replaced_key = Some((id, f.width, f.height));
        Ok(())
    }

    /// The composite stage for `mode` (after [`GpuPixels::upsample`], and [`GpuPixels::blur`]
    /// for [`Mode::Blur`]): the output stays on the GPU until [`GpuPixels::download`].
    pub fn composite(&mut self, mode: Mode) -> Result<()> {
        self.composite_with(mode, false)
    }

    /// [`GpuPixels::composite`], with colour decontamination of edge pixels in replace and cutout
    /// modes against the last [`GpuPixels::blur`] (the old background's estimate).
    pub fn composite_with(&mut self, mode: Mode, decontaminate: bool) -> Result<()> {
        let f = self.shape()?;
        let bpp = f.format.bytes_per_pixel() as u32;
        let [r, g, b] = f.format.rgb_offsets().map(|o| o as u32);
        let ch = channel_map(f.format);
        let (lw, lh, factor) = self.blur_low.unwrap_or((1, 1, 1));
        let alpha = f.format.alpha_offset().map_or(NO_ALPHA, |a| a as u32);
        let decon = decontaminate as u32;
        let params =
            words(&[f.width, f.height, bpp, ch[0], ch[1], ch[2], ch[3], r, g, b, alpha, lw, lh, factor, decon, 0]);
        self.ensure(|b| &mut b.comp_params, params.len() as u64);
        self.ctx.queue.write_buffer(self.bufs.comp_params.get()?, 0, &params);
        let pixels = f.width as u64 * f.height as u64;
        let out_bytes = pixels * Self::out_bpp(mode, f.format) as u64;
        self.ensure(|b| &mut b.out, out_bytes);
        self.ensure(|b| &mut b.out_readback, out_bytes);
        // The two blends share one function, so both bind both backgrounds; the one a mode does
        // not use must still exist.
        self.ensure(|b| &mut b.blurred, 16);
        self.ensure(|b| &mut b.replaced, 16);
        let (which, items): (Kernel, u64) = match mode {
            Mode::Blur => (|k| &k.blend_blurred, out_bytes.div_ceil(4)),
            Mode::Replace => (|k| &k.blend_replaced, out_bytes.div_ceil(4)),
            Mode::Cutout => (|k| &k.cutout, pixels),
            Mode::Mask => (|k| &k.mask8, pixels.div_ceil(4)),
        };
        let group = match self.groups.composite(mode).clone() {
            Some(group) => group,
            None => {
                let b = &self.bufs;
                let (frame, mask, out) = ((1, &b.frame), (2, &b.mask), (6, &b.out));
                let params = (0, &b.comp_params);
                let group = match mode {
                    Mode::Blur | Mode::Replace => {
                        let backgrounds = [(4, &b.blurred), (5, &b.replaced)];
                        self.bind(which, &[params, frame, mask, backgrounds[0], backgrounds[1], out], true)?
                    }
                    Mode::Cutout => self.bind(which, &[params, frame, mask, (4, &b.blurred), out], true)?,
                    Mode::Mask => self.bind(which, &[params, mask, out], false)?,
                };
                *self.groups.composite(mode) = Some(group.clone());
                group
            }
        };
        self.dispatch(which, &group, linear_groups(items));
        Ok(())
    }

    fn out_bpp(mode: Mode, format: PixelFormat) -> usize {
        match mode {
            Mode::Blur | Mode::Replace => format.bytes_per_pixel(),
            Mode::Cutout => 4,
            Mode::Mask => 1,
        }
    }

    fn submit(&mut self) {
        if let Some(encoder) = self.encoder.take() {
            self.ctx.queue.submit([encoder.finish()]);
        }
    }

    /// Submits the recorded work and waits for it (for timing single stages).
    pub fn finish(&mut self) -> Result<()> {
        self.submit();
        self.ctx.wait("running the shaders")
    }

    /// Maps `buffer`, hands its first `len` bytes to `f`, unmaps.
    fn read(&self, buffer: &wgpu::Buffer, len: u64, context: &str, f: impl FnOnce(&[u8])) -> Result<()> {
        let slice = buffer.slice(..len);
        let (tx, rx) = std::sync::mpsc::channel();
        slice.map_async(wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
        self.ctx.wait(context)?;
        rx.recv().map_err(|e| gpu_error(context, e))?.map_err(|e| gpu_error(context, e))?;
        {
            let view = slice.get_mapped_range().map_err(|e| gpu_error(context, e))?;
            f(&view);
        }
        buffer.unmap();
        Ok(())
    }

    /// Copies the composite's result into `out` (the size of the uploaded frame, in the mode's
    /// output format), waiting for the GPU.
    pub fn download(&mut self, mode: Mode, out: &mut FrameMut<'_>) -> Result<()> {
        let f = self.shape()?;
        let bpp = Self::out_bpp(mode, f.format);
        if out.width() != f.width || out.height() != f.height || out.format().bytes_per_pixel() != bpp {
            return Err(gpu_error("reading the output back", "output frame does not match the uploaded frame"));
        }
        let row_len = f.width as usize * bpp;
        let len = (row_len * f.height as usize) as u64;
        let (src, dst) = (self.bufs.out.get()?.clone(), self.bufs.out_readback.get()?.clone());
        self.encoder().copy_buffer_to_buffer(&src, 0, &dst, 0, len.next_multiple_of(4));
        self.submit();
        self.read(&dst, len.next_multiple_of(4), "reading the output back", |bytes| {
            use rayon::prelude::*;
            out.rows_mut().enumerate().for_each(|(y, row)| {
                row.copy_from_slice(&bytes[y * row_len..(y + 1) * row_len]);
            });
        })
    }
}
