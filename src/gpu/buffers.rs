//! Grow-only buffers, their bind groups, and the small helpers that pack uniforms and tables.

use crate::error::Result;
use crate::frame::PixelFormat;
use crate::options::Mode;
use crate::resample::Weights;
use crate::segment::Sampling;

use super::context::{gpu_error, Kernels};

/// A grow-only GPU buffer.
pub(super) struct Slot {
    pub(super) label: &'static str,
    pub(super) usage: wgpu::BufferUsages,
    pub(super) buffer: Option<wgpu::Buffer>,
}

impl Slot {
    pub(super) fn new(label: &'static str, usage: wgpu::BufferUsages) -> Self {
        Slot { label, usage, buffer: None }
    }

    /// Makes the buffer hold at least `size` bytes; true when it had to be (re)created.
    pub(super) fn ensure(&mut self, device: &wgpu::Device, size: u64) -> bool {
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

    pub(super) fn get(&self) -> Result<&wgpu::Buffer> {
        self.buffer.as_ref().ok_or_else(|| gpu_error(self.label, "used before it was filled"))
    }
}

pub(super) const STORAGE: wgpu::BufferUsages = wgpu::BufferUsages::STORAGE;
pub(super) const DST: wgpu::BufferUsages = wgpu::BufferUsages::COPY_DST;
pub(super) const SRC: wgpu::BufferUsages = wgpu::BufferUsages::COPY_SRC;
pub(super) const UNIFORM: wgpu::BufferUsages = wgpu::BufferUsages::UNIFORM;
pub(super) const READBACK: wgpu::BufferUsages = wgpu::BufferUsages::MAP_READ.union(wgpu::BufferUsages::COPY_DST);

/// The buffers of one [`GpuPixels`].
pub(super) struct Buffers {
    pub(super) frame: Slot,
    pub(super) model_params: Slot,
    pub(super) model_taps: Slot,
    pub(super) model_in: Slot,
    pub(super) model_readback: Slot,
    pub(super) low_mask: Slot,
    pub(super) mask_params: Slot,
    pub(super) mask_taps: Slot,
    pub(super) mask: Slot,
    pub(super) mask_readback: Slot,
    pub(super) refine_params: Slot,
    pub(super) refine_coef_params: Slot,
    pub(super) refine_partial: Slot,
    pub(super) refine_stats: Slot,
    pub(super) refine_tmp: Slot,
    pub(super) refine_coef: Slot,
    pub(super) refine_coef_tmp: Slot,
    pub(super) refine_prev: Slot,
    pub(super) blur_params: Slot,
    pub(super) low: Slot,
    pub(super) shape: Slot,
    pub(super) tmp: Slot,
    pub(super) blurred: Slot,
    pub(super) falloff_dist: Slot,
    pub(super) cell_level: Slot,
    pub(super) falloff_table: Slot,
    pub(super) comp_params: Slot,
    pub(super) replaced: Slot,
    pub(super) out: Slot,
    pub(super) out_readback: Slot,
}

impl Buffers {
    pub(super) fn new() -> Self {
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
pub(super) type Kernel = fn(&Kernels) -> &wgpu::ComputePipeline;

/// Bind groups, created on first use and dropped whenever a buffer is recreated.
#[derive(Default)]
pub(super) struct Groups {
    pub(super) frame_to_model: Option<wgpu::BindGroup>,
    pub(super) mask_up: Option<wgpu::BindGroup>,
    pub(super) refine: Option<RefineGroups>,
    pub(super) downsample: Option<wgpu::BindGroup>,
    pub(super) disc: Option<wgpu::BindGroup>,
    pub(super) gauss_h: Option<wgpu::BindGroup>,
    pub(super) gauss_v: Option<wgpu::BindGroup>,
    pub(super) distance_cols: Option<wgpu::BindGroup>,
    pub(super) distance_rows: Option<wgpu::BindGroup>,
    pub(super) blend_blurred: Option<wgpu::BindGroup>,
    pub(super) blend_replaced: Option<wgpu::BindGroup>,
    pub(super) cutout: Option<wgpu::BindGroup>,
    pub(super) mask8: Option<wgpu::BindGroup>,
}

/// The refinement's bind groups: the box passes run once over the statistics and once over the
/// coefficients, each with its own buffers.
#[derive(Clone)]
pub(super) struct RefineGroups {
    pub(super) row_sums: wgpu::BindGroup,
    pub(super) stats: wgpu::BindGroup,
    pub(super) rows_stats: wgpu::BindGroup,
    pub(super) cols_stats: wgpu::BindGroup,
    pub(super) solve: wgpu::BindGroup,
    pub(super) rows_coef: wgpu::BindGroup,
    pub(super) cols_coef: wgpu::BindGroup,
    pub(super) smooth: wgpu::BindGroup,
    pub(super) apply: wgpu::BindGroup,
}

impl Groups {
    /// The composite stage's bind group for `mode`.
    pub(super) fn composite(&mut self, mode: Mode) -> &mut Option<wgpu::BindGroup> {
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
pub(super) struct FrameShape {
    pub(super) width: u32,
    pub(super) height: u32,
    pub(super) format: PixelFormat,
}

/// A resize: (source width, height), (destination width, height).
pub(super) type Resize = ((u32, u32), (u32, u32));
/// What a preprocess tap table was built for: sampling, frame size, model input size.
pub(super) type ModelKey = (Sampling, (u32, u32), (u32, u32));

/// Little-endian bytes of a list of 32-bit words (uniforms and tables).
pub(super) fn words(values: &[u32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

pub(super) fn taps_table(wx: &Weights, wy: &Weights) -> Vec<u8> {
    let starts = wx.starts.iter().chain(&wy.starts).map(|&s| s as u32);
    let weights = wx.weights.iter().chain(&wy.weights).map(|w| w.to_bits());
    words(&starts.chain(weights).collect::<Vec<_>>())
}

/// Workgroups for `n` invocations of a 64-wide kernel, folded into two dimensions so that no
/// dimension passes the 65535 limit (4K frames need 130k groups).
pub(super) fn linear_groups(n: u64) -> (u32, u32) {
    let groups = n.div_ceil(64).max(1);
    let x = groups.min(65_535);
    (x as u32, groups.div_ceil(x) as u32)
}

pub(super) fn groups_2d(w: u32, h: u32) -> (u32, u32) {
    (w.div_ceil(8), h.div_ceil(8))
}

/// Per-pixel channel roles for the composite shader: for each byte of an input pixel, 0–2 =
/// red, green, blue, 3 = alpha. For grey, the one byte takes the last colour written by the
/// CPU loop (blue), which equals the others since the three channels come from the same byte.
pub(super) fn channel_map(format: PixelFormat) -> [u32; 4] {
    match format {
        PixelFormat::Rgb8 => [0, 1, 2, 3],
        PixelFormat::Rgba8 => [0, 1, 2, 3],
        PixelFormat::Bgra8 => [2, 1, 0, 3],
        PixelFormat::Gray8 => [2, 3, 3, 3],
    }
}

pub(super) const NO_ALPHA: u32 = u32::MAX;
