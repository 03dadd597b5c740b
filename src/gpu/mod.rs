//! The GPU backend: the pixel stages and the model as WGSL compute shaders on wgpu (feature
//! `gpu`).
//!
//! # What runs where
//! Everything that touches pixels runs on the GPU, one shader per stage, each the twin of a CPU
//! module (`shaders/resample.wgsl` ↔ `src/resample.rs`, `shaders/refine.wgsl` ↔
//! `src/refine.rs`, `shaders/blur.wgsl` ↔ `src/blur/`, `shaders/composite.wgsl` ↔
//! `src/composite.rs`), and on a hardware adapter the model too (`shaders/model.wgsl` ↔ tract,
//! [`GpuModel`], see `model.rs`; [`crate::Options::model_backend`]):
//!
//! 1. the frame goes up once ([`GpuPixels::upload`]), through a ring of mapped staging buffers
//!    (one host copy, straight into mapped memory);
//! 2. **preprocess**: the frame is resampled to the model's input and normalised on the GPU;
//!    with the model on the GPU the tensor stays there ([`GpuPixels::preprocess_on_device`]),
//!    with the model in tract only that small tensor comes back;
//! 3. **inference** on the GPU reads back only the model's small mask (the temporal filter and
//!    the tracker work on it on the host), which goes up again for the next stages;
//! 4. **upsample**, **refine**, **blur** and **composite** run back to back in one submission;
//!    only the finished frame comes back ([`GpuPixels::download`]). (Photo detail passes and the
//!    matting model run the model again on crops, so their mask is made on the CPU and goes up
//!    instead; it is still refined here.)
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
//! # Files
//! One file per stage, named like its CPU twin and its shader: `resample.rs` (preprocess,
//! upsample, the mask in and out), `refine.rs`, `blur.rs`, `composite.rs`; `context.rs` (adapter,
//! compiled shaders, colour tables), `buffers.rs` (grow-only buffers, bind groups, uniform
//! packing), `model.rs` (the model's graph, plan and run); this file holds [`GpuPixels`], the
//! frame's upload and the output's download.
//!
//! # Allocation
//! Buffers and bind groups are created once per [`GpuPixels`] and grown only when a larger
//! frame arrives; a frame of a size seen before allocates nothing on the GPU. Device errors are
//! collected by a handler (wgpu's default would panic) and returned as [`Error::Gpu`].

use std::sync::Arc;

use crate::blur::{gaussian_kernel, BlurKind, BlurParams, BlurWeights};
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
    /// The segmentation model's operators (convolutions, activations, pooling, padding).
    pub const MODEL: &str = include_str!("../../shaders/model.wgsl");
    /// Helpers every stage uses (WGSL has no includes: [`with_common`] puts them in front).
    pub const COMMON: &str = include_str!("../../shaders/common.wgsl");

    /// A stage's shader as it is compiled: [`COMMON`] followed by the stage's source.
    pub fn with_common(stage: &str) -> String {
        format!("{COMMON}\n{stage}")
    }
}

mod blur;
mod buffers;
mod composite;
mod context;
mod model;
mod params;
mod refine;
mod resample;

use buffers::*;
use context::gpu_error;
pub use context::{GpuApi, GpuContext, GpuInfo};
pub use model::{GpuModel, Graph as ModelGraph};
use params::{BlurShaderParams, CompositeParams, RefineParams, ResampleParams};
/// The wgpu bokeh is built with: a renderer sharing bokeh's device uses these types.
pub use wgpu;

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
    /// The frame's way up: mapped staging buffers, written in place and copied on the device.
    staging: StagingRing,
}

/// A result left on the GPU ([`crate::Pipeline::process_on_gpu`], [`GpuPixels::output`]): the
/// frame's rows packed without padding from byte 0 of `buffer` (a storage buffer that can be
/// copied from: `COPY_SRC`), `width × bytes_per_pixel` bytes a row, in `format`. A renderer
/// binds it as storage or copies it into its texture (whose rows need 256-byte alignment).
#[derive(Debug, Clone)]
pub struct GpuOutput {
    /// The buffer holding the result (the pipeline's own; overwritten by the next frame).
    pub buffer: wgpu::Buffer,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// The pixel format of the result (the input's in blur and replace modes, RGBA for cut-outs,
    /// one byte of mask for [`Mode::Mask`]).
    pub format: PixelFormat,
    /// Bytes per pixel in the buffer.
    pub bytes_per_pixel: usize,
}

/// Upload buffers kept mapped for writing, used in turn (issue 19: `Queue::write_buffer` staged
/// every frame through a fresh allocation). Each is written while mapped, unmapped, copied into
/// the frame buffer by the next submission, and mapped again after it; `upload` waits only when
/// all of them are still in flight.
#[derive(Default)]
struct StagingRing {
    /// Buffers with a flag their map callback sets when they can be written again.
    slots: Vec<(wgpu::Buffer, Arc<std::sync::atomic::AtomicBool>)>,
    next: usize,
    /// Slots copied from in the work not yet submitted, to map again after the submission.
    remap: Vec<usize>,
}

impl StagingRing {
    /// Buffers in the ring: the frame being written, one being copied, one spare.
    const SLOTS: usize = 3;
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
            staging: StagingRing::default(),
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

    /// Writes a shader's uniform parameters into the buffer `pick` chooses (grown to fit).
    fn write_params<P: bytemuck::Pod>(&mut self, pick: impl Fn(&mut Buffers) -> &mut Slot, params: &P) -> Result<()> {
        let bytes = bytemuck::bytes_of(params);
        self.ensure(&pick, bytes.len() as u64);
        self.ctx.queue.write_buffer(pick(&mut self.bufs).get()?, 0, bytes);
        Ok(())
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

    /// Copies `frame` to the GPU (rows packed, four bytes to a word), through a staging buffer
    /// of the ring: one copy on the host (straight into mapped memory), one on the device.
    pub fn upload(&mut self, frame: FrameRef<'_>) -> Result<()> {
        use std::sync::atomic::Ordering;
        let row_len = frame.width() as usize * frame.format().bytes_per_pixel();
        let len = row_len * frame.height() as usize;
        let padded = (len as u64).next_multiple_of(4).max(4);
        self.ensure(|b| &mut b.frame, padded);
        let ring = &mut self.staging;
        if ring.slots.first().is_none_or(|(b, _)| b.size() < padded) {
            ring.slots = (0..StagingRing::SLOTS)
                .map(|_| {
                    let buffer = self.ctx.device.create_buffer(&wgpu::BufferDescriptor {
                        label: Some("bokeh frame staging"),
                        size: padded,
                        usage: wgpu::BufferUsages::MAP_WRITE | wgpu::BufferUsages::COPY_SRC,
                        mapped_at_creation: true,
                    });
                    (buffer, Arc::new(std::sync::atomic::AtomicBool::new(true)))
                })
                .collect();
            ring.next = 0;
            ring.remap.clear();
        }
        // The next slot that is mapped; with none, wait for the device to give one back (after a
        // full wait every map callback has run: still none is an error, not a hang).
        let mut waited = false;
        let slot = loop {
            let ready = (0..ring.slots.len())
                .map(|k| (ring.next + k) % ring.slots.len())
                .find(|&k| ring.slots[k].1.load(Ordering::Acquire) && !ring.remap.contains(&k));
            if let Some(k) = ready {
                break k;
            }
            if waited {
                return Err(gpu_error("uploading the frame", "no staging buffer could be mapped again"));
            }
            waited = true;
            if ring.remap.len() == ring.slots.len() {
                // Every slot waits for a submission that has not happened: submit now.
                if let Some(encoder) = self.encoder.take() {
                    self.ctx.queue.submit([encoder.finish()]);
                }
                Self::remap(ring);
            }
            self.ctx.wait("uploading the frame")?;
        };
        let (staging, ready) = ring.slots[slot].clone();
        {
            let mut view =
                staging.slice(..padded).get_mapped_range_mut().map_err(|e| gpu_error("uploading the frame", e))?;
            match frame.packed_bytes() {
                Some(bytes) => view.slice(..len).copy_from_slice(bytes),
                None => {
                    for y in 0..frame.height() {
                        let at = y as usize * row_len;
                        view.slice(at..at + row_len).copy_from_slice(frame.row(y));
                    }
                }
            }
        }
        staging.unmap();
        ready.store(false, Ordering::Release);
        ring.remap.push(slot);
        ring.next = (slot + 1) % ring.slots.len();
        let dst = self.bufs.frame.get()?.clone();
        self.encoder().copy_buffer_to_buffer(&staging, 0, &dst, 0, padded);
        self.frame = Some(FrameShape { width: frame.width(), height: frame.height(), format: frame.format() });
        Ok(())
    }

    /// Takes a frame that already lives on this device (a camera or decoder texture copied into
    /// a buffer, a renderer's output): `width × height` pixels of `format`, rows packed from byte
    /// `offset` of `source` (which needs `COPY_SRC`), copied on the device in the next
    /// submission — nothing crosses the bus. The stages then run as after [`GpuPixels::upload`].
    /// (A [`crate::Pipeline`] also reads the frame on the host — the model's input, the tracking
    /// crop, the temporal filter's luma — so this is the stage-level way in.)
    pub fn upload_from(
        &mut self,
        source: &wgpu::Buffer,
        offset: u64,
        width: u32,
        height: u32,
        format: PixelFormat,
    ) -> Result<()> {
        let len = width as u64 * height as u64 * format.bytes_per_pixel() as u64;
        let padded = len.next_multiple_of(4).max(4);
        if width == 0 || height == 0 || !offset.is_multiple_of(4) || offset + padded > source.size() {
            return Err(gpu_error(
                "taking a frame from a GPU buffer",
                format!(
                    "{width}x{height} {format:?} from byte {offset} needs {padded} bytes (offset a multiple of 4) of \
                     a {}-byte buffer",
                    source.size()
                ),
            ));
        }
        self.ensure(|b| &mut b.frame, padded);
        let dst = self.bufs.frame.get()?.clone();
        self.encoder().copy_buffer_to_buffer(source, offset, &dst, 0, padded);
        self.frame = Some(FrameShape { width, height, format });
        Ok(())
    }

    /// Maps the ring's slots used by the work just submitted again, for later frames.
    fn remap(ring: &mut StagingRing) {
        for k in ring.remap.drain(..) {
            let (buffer, ready) = &ring.slots[k];
            let ready = Arc::clone(ready);
            buffer.slice(..).map_async(wgpu::MapMode::Write, move |r| {
                if r.is_ok() {
                    ready.store(true, std::sync::atomic::Ordering::Release);
                }
            });
        }
    }

    fn submit(&mut self) {
        if let Some(encoder) = self.encoder.take() {
            self.ctx.queue.submit([encoder.finish()]);
        }
        Self::remap(&mut self.staging);
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

    /// Submits the recorded work and describes the composite's result where it stays, on the
    /// GPU, for a renderer ([`GpuOutput`]); nothing is read back or waited for.
    pub fn output(&mut self, mode: Mode) -> Result<GpuOutput> {
        let f = self.shape()?;
        let bytes_per_pixel = Self::out_bpp(mode, f.format);
        let buffer = self.bufs.out.get()?.clone();
        self.submit();
        let format = match mode {
            Mode::Blur | Mode::Replace => f.format,
            Mode::Cutout => PixelFormat::Rgba8,
            Mode::Mask => PixelFormat::Gray8,
        };
        Ok(GpuOutput { buffer, width: f.width, height: f.height, format, bytes_per_pixel })
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
