//! The device: adapter choice, the compiled shaders ([`Kernels`]) and the colour tables,
//! shared by every [`GpuPixels`](super::GpuPixels) on it.

use std::sync::{Arc, Mutex, OnceLock};

use crate::color::{decode_lut, encode_lut};
use crate::error::{Error, Result};

use super::shaders;

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
    pub(super) fn backends(self) -> wgpu::Backends {
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
pub(super) struct Kernels {
    pub(super) frame_to_model: wgpu::ComputePipeline,
    pub(super) mask_up: wgpu::ComputePipeline,
    pub(super) refine_row_sums: wgpu::ComputePipeline,
    pub(super) refine_stats: wgpu::ComputePipeline,
    pub(super) refine_rows: wgpu::ComputePipeline,
    pub(super) refine_cols: wgpu::ComputePipeline,
    pub(super) refine_solve: wgpu::ComputePipeline,
    pub(super) refine_smooth: wgpu::ComputePipeline,
    pub(super) refine_apply: wgpu::ComputePipeline,
    pub(super) downsample: wgpu::ComputePipeline,
    pub(super) disc: wgpu::ComputePipeline,
    pub(super) gauss_h: wgpu::ComputePipeline,
    pub(super) gauss_v: wgpu::ComputePipeline,
    pub(super) distance_cols: wgpu::ComputePipeline,
    pub(super) distance_rows: wgpu::ComputePipeline,
    pub(super) blend_blurred: wgpu::ComputePipeline,
    pub(super) blend_replaced: wgpu::ComputePipeline,
    pub(super) cutout: wgpu::ComputePipeline,
    pub(super) mask8: wgpu::ComputePipeline,
    /// The model's operators (`model.wgsl`), in [`super::model::Entry`] order.
    pub(super) model: [wgpu::ComputePipeline; 7],
}

/// A GPU device with the compiled shaders and the shared colour tables: create one per process
/// (it is `Send + Sync`) and hand it to every [`crate::Pipeline`] that should use it.
pub struct GpuContext {
    pub(super) device: wgpu::Device,
    pub(super) queue: wgpu::Queue,
    pub(super) info: GpuInfo,
    pub(super) kernels: Kernels,
    /// sRGB decoding table (256 × f32) followed by the encoding table (16384 bytes).
    pub(super) luts: wgpu::Buffer,
    /// Errors reported by wgpu since the last check.
    pub(super) errors: Arc<Mutex<Vec<String>>>,
}

impl std::fmt::Debug for GpuContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpuContext").field("info", &self.info).finish_non_exhaustive()
    }
}

pub(super) fn gpu_error(context: &str, message: impl std::fmt::Display) -> Error {
    Error::Gpu { context: context.into(), message: message.to_string() }
}

/// "Vulkan, GL" for the native APIs in `backends`.
pub(super) fn api_names(backends: wgpu::Backends) -> String {
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

pub(super) fn rank(t: wgpu::DeviceType) -> u8 {
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

    /// The wgpu device, for a renderer that draws bokeh's results ([`super::GpuOutput`]) or
    /// records its own work beside bokeh's (the version of [`wgpu`](super::wgpu) bokeh uses).
    pub fn device(&self) -> &wgpu::Device {
        &self.device
    }

    /// The device's queue (see [`GpuContext::device`]).
    pub fn queue(&self) -> &wgpu::Queue {
        &self.queue
    }

    /// Returns the errors wgpu reported since the last check, if any, as one error.
    pub(super) fn check(&self, context: &str) -> Result<()> {
        let mut errors = self.errors.lock().map_err(|_| gpu_error(context, "error log poisoned"))?;
        if errors.is_empty() {
            return Ok(());
        }
        let message = errors.join("; ");
        errors.clear();
        Err(gpu_error(context, message))
    }

    pub(super) fn wait(&self, context: &str) -> Result<()> {
        self.device.poll(wgpu::PollType::wait_indefinitely()).map_err(|e| gpu_error(context, e))?;
        self.check(context)
    }
}

impl Kernels {
    pub(super) fn new(device: &wgpu::Device) -> Self {
        let module = |label, stage: &'static str| {
            device.create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(label),
                source: wgpu::ShaderSource::Wgsl(shaders::with_common(stage).into()),
            })
        };
        let resample = module("resample.wgsl", shaders::RESAMPLE);
        let refine = module("refine.wgsl", shaders::REFINE);
        let blur = module("blur.wgsl", shaders::BLUR);
        let composite = module("composite.wgsl", shaders::COMPOSITE);
        // The model's shader reads no frame: compiled without the common helpers.
        let model = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("model.wgsl"),
            source: wgpu::ShaderSource::Wgsl(shaders::MODEL.into()),
        });
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
            model: ["conv", "pointwise", "conv_transpose", "unary", "binary", "average_pool", "pad"]
                .map(|e| make(&model, e)),
        }
    }

    /// The pipeline of a model step's entry point.
    pub(super) fn model(&self, entry: super::model::Entry) -> &wgpu::ComputePipeline {
        use super::model::Entry;
        let i = match entry {
            Entry::Conv => 0,
            Entry::Pointwise => 1,
            Entry::ConvTranspose => 2,
            Entry::Unary => 3,
            Entry::Binary => 4,
            Entry::Pool => 5,
            Entry::Pad => 6,
        };
        &self.model[i]
    }
}
