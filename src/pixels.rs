//! The pixel stages behind one seam: [`Pixels`] runs them on the CPU (rayon) or on a GPU (wgpu,
//! feature `gpu`) through the same calls.
//!
//! The [`crate::Pipeline`] decides *what* runs — which mask goes in, whether it is refined, which
//! blur, which composite — and calls the stages in order; the backend decides *where*:
//!
//! | call | CPU ([`CpuPixels`]) | GPU (`GpuStages` around [`crate::gpu::GpuPixels`]) |
//! |---|---|---|
//! | `upload` | nothing (each stage reads the frame) | the frame goes up once |
//! | `preprocess` | the session samples the frame | `resample.wgsl`, read back for tract |
//! | `upsample` / `set_mask` | the mask at frame size | the same, on the device |
//! | `refine` | [`Refiner`] | `refine.wgsl` |
//! | `blur` | [`BlurredBackground::compute`] | `blur.wgsl` |
//! | `composite` | `composite.rs`, into the output | `composite.wgsl`, then read back |
//! | `mask` | the mask | read back on request |
//!
//! Every call takes the frame, so the pipeline's code is the same for both; the GPU ignores it
//! after the upload. Both backends produce the same pictures: bit for bit on Mesa's software
//! adapters, within `tests/gpu.rs`'s declared tolerance elsewhere.
//!
//! A blur with [`BlurWeights::BackgroundOnly`] (the old background's estimate) makes the next
//! composite decontaminate edge colours in replace and cutout modes; each frame's `upsample` or
//! `set_mask` forgets it.
//!
//! On the GPU the stages are queued and run in one submission: the composite's time includes
//! waiting for all of them.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::blur::{BlurParams, BlurWeights, BlurredBackground};
use crate::composite;
use crate::error::Result;
use crate::frame::{FrameMut, FrameRef};
use crate::mask::Mask;
use crate::options::Mode;
use crate::refine::{Refine, Refiner};
use crate::resample::Resampler;
use crate::segment::{Prepared, SegmenterSession};
use crate::temporal::Temporal;

/// A replacement background scaled to a frame size, in linear RGB, with a version that changes
/// whenever it is fitted anew (the GPU uploads it only then).
#[derive(Debug)]
pub(crate) struct Fitted {
    pub(crate) size: (u32, u32),
    pub(crate) rgb: Vec<[f32; 3]>,
    #[cfg_attr(not(feature = "gpu"), allow(dead_code))] // the GPU's upload key
    pub(crate) version: u64,
}

impl Fitted {
    /// `rgb` fitted to `size`, with a version no other fitted background has had.
    pub(crate) fn new(size: (u32, u32), rgb: Vec<[f32; 3]>) -> Self {
        static VERSIONS: AtomicU64 = AtomicU64::new(1);
        Fitted { size, rgb, version: VERSIONS.fetch_add(1, Ordering::Relaxed) }
    }
}

/// Where the pixel stages run (see the module documentation). Boxed: the pipeline holds one,
/// made once, and the two differ in size.
#[derive(Debug)]
pub(crate) enum Pixels {
    Cpu(Box<CpuPixels>),
    #[cfg(feature = "gpu")]
    Gpu(Box<GpuStages>),
}

/// The CPU's pixel stages and their buffers.
#[derive(Debug, Default)]
pub(crate) struct CpuPixels {
    /// The full-resolution mask of the frame.
    mask: Mask,
    resampler: Resampler,
    refiner: Refiner,
    blurred: BlurredBackground,
    /// `blurred` holds the old background's estimate (for decontamination).
    old_background: bool,
}

/// The GPU's pixel stages, with what the pipeline may ask of the mask.
#[cfg(feature = "gpu")]
#[derive(Debug)]
pub(crate) struct GpuStages {
    px: crate::gpu::GpuPixels,
    /// The mask on the host: read back on request, unless `host_fresh` (it went up from here
    /// and was not refined after).
    host: Mask,
    host_fresh: bool,
    /// The model's mask of the frame, upsampled into `host` should the read-back fail (unless
    /// `host` already holds the mask that went up, unrefined: `host_is_fallback`).
    low: Mask,
    host_is_fallback: bool,
    resampler: Resampler,
    old_background: bool,
}

impl Pixels {
    /// The CPU backend.
    pub(crate) fn cpu() -> Self {
        Pixels::Cpu(Box::default())
    }

    /// The GPU backend on `ctx`.
    #[cfg(feature = "gpu")]
    pub(crate) fn gpu(ctx: std::sync::Arc<crate::gpu::GpuContext>) -> Self {
        Pixels::Gpu(Box::new(GpuStages {
            px: crate::gpu::GpuPixels::new(ctx),
            host: Mask::default(),
            // Nothing to read back before the first frame.
            host_fresh: true,
            low: Mask::default(),
            host_is_fallback: false,
            resampler: Resampler::default(),
            old_background: false,
        }))
    }

    /// The GPU the stages run on.
    #[cfg(feature = "gpu")]
    pub(crate) fn gpu_context(&self) -> Option<std::sync::Arc<crate::gpu::GpuContext>> {
        match self {
            Pixels::Cpu(_) => None,
            Pixels::Gpu(g) => Some(std::sync::Arc::clone(g.px.context())),
        }
    }

    /// True on a GPU.
    pub(crate) fn is_gpu(&self) -> bool {
        !matches!(self, Pixels::Cpu(_))
    }

    /// Makes `input` the frame of the stages that follow.
    #[cfg_attr(not(feature = "gpu"), allow(unused_variables))] // the CPU reads it in each stage
    pub(crate) fn upload(&mut self, input: FrameRef<'_>) -> Result<()> {
        match self {
            Pixels::Cpu(_) => Ok(()),
            #[cfg(feature = "gpu")]
            Pixels::Gpu(g) => g.px.upload(input),
        }
    }

    /// Uploads `input` and samples it for `session`'s model (see
    /// [`SegmenterSession::preprocess`]). Frames stored turned or mirrored are sampled on the
    /// CPU (`orient.rs`; the shader samples upright frames only).
    pub(crate) fn preprocess(&mut self, session: &mut SegmenterSession, input: FrameRef<'_>) -> Result<Prepared> {
        match self {
            Pixels::Cpu(_) => session.preprocess(input),
            #[cfg(feature = "gpu")]
            Pixels::Gpu(g) => {
                g.px.upload(input)?;
                if !session.orientation().is_upright() {
                    return session.preprocess(input);
                }
                let px = &mut g.px;
                session.preprocess_with(input, |size, spec, out| match out {
                    Some(out) => {
                        px.preprocess(size, spec.sampling, spec.normalization, spec.layout, out).map(|()| None)
                    }
                    None => px.preprocess_on_device(size, spec.sampling, spec.normalization, spec.layout).map(Some),
                })
            }
        }
    }

    /// The upsample stage: the model's mask `low` (any size) at the frame's size.
    pub(crate) fn upsample(&mut self, input: FrameRef<'_>, low: &Mask) -> Result<()> {
        match self {
            Pixels::Cpu(c) => {
                c.old_background = false;
                c.mask.reset(input.width(), input.height());
                low.resize_with(&mut c.mask, &mut c.resampler);
                Ok(())
            }
            #[cfg(feature = "gpu")]
            Pixels::Gpu(g) => {
                g.old_background = false;
                g.host_fresh = false;
                g.host_is_fallback = false;
                g.low.clone_from(low);
                g.host.reset(input.width(), input.height());
                g.px.upsample(low)
            }
        }
    }

    /// A full-resolution mask made on the CPU (detail passes, matting, a caller's) in place of
    /// the upsample stage. The CPU backend takes its buffer (swapped with its own).
    pub(crate) fn set_mask(&mut self, mask: &mut Mask) -> Result<()> {
        match self {
            Pixels::Cpu(c) => {
                c.old_background = false;
                std::mem::swap(&mut c.mask, mask);
                Ok(())
            }
            #[cfg(feature = "gpu")]
            Pixels::Gpu(g) => {
                g.old_background = false;
                g.px.set_mask(mask)?;
                g.host.clone_from(mask);
                g.host_fresh = true;
                g.host_is_fallback = true;
                Ok(())
            }
        }
    }

    /// The refinement stage, with the frame as the guide; `temporal` smooths its coefficients
    /// against the last frame's (video).
    pub(crate) fn refine(&mut self, input: FrameRef<'_>, settings: &Refine, temporal: Option<&Temporal>) -> Result<()> {
        match self {
            Pixels::Cpu(c) => c.refiner.apply(input, &mut c.mask, settings, temporal),
            #[cfg(feature = "gpu")]
            Pixels::Gpu(g) => {
                g.host_fresh = false;
                g.px.refine(settings, temporal)
            }
        }
    }

    /// Forgets the refinement's last coefficients (a cut, or smoothing turned off).
    pub(crate) fn reset_refine(&mut self) {
        match self {
            Pixels::Cpu(c) => c.refiner.reset(),
            #[cfg(feature = "gpu")]
            Pixels::Gpu(g) => g.px.reset_refine(),
        }
    }

    /// The blur stage, weighted by the mask.
    pub(crate) fn blur(&mut self, input: FrameRef<'_>, params: &BlurParams) -> Result<()> {
        let old_background = params.weights == BlurWeights::BackgroundOnly;
        match self {
            Pixels::Cpu(c) => {
                c.blurred.compute(input, &c.mask, params)?;
                c.old_background = old_background;
                Ok(())
            }
            #[cfg(feature = "gpu")]
            Pixels::Gpu(g) => {
                g.px.blur(params)?;
                g.old_background = old_background;
                Ok(())
            }
        }
    }

    /// The composite stage for `mode` into `output` (replace mode blends over `replacement`).
    pub(crate) fn composite(
        &mut self,
        input: FrameRef<'_>,
        mode: Mode,
        replacement: Option<&Fitted>,
        output: Option<&mut FrameMut<'_>>,
    ) -> Result<()> {
        match self {
            Pixels::Cpu(c) => {
                let output = output.ok_or_else(|| crate::Error::InvalidOption("no output frame".into()))?;
                let old = c.old_background.then_some(&c.blurred);
                match mode {
                    Mode::Blur => composite::blend_blurred(input, &c.mask, &c.blurred, output),
                    Mode::Replace => {
                        let fitted = replacement.map(|f| f.rgb.as_slice()).unwrap_or_default();
                        composite::blend_replaced(input, &c.mask, fitted, old, output)
                    }
                    Mode::Cutout => composite::cutout(input, &c.mask, old, output),
                    Mode::Mask => composite::write_mask(&c.mask, output),
                }
                Ok(())
            }
            #[cfg(feature = "gpu")]
            Pixels::Gpu(g) => {
                if let (Mode::Replace, Some(f)) = (mode, replacement) {
                    g.px.set_replacement(f.version, &f.rgb)?;
                }
                let decontaminate = g.old_background && matches!(mode, Mode::Replace | Mode::Cutout);
                g.px.composite_with(mode, decontaminate)?;
                match output {
                    Some(output) => g.px.download(mode, output),
                    None => Ok(()),
                }
            }
        }
    }

    /// The GPU's composite result, submitted and left there ([`crate::Pipeline::process_on_gpu`]).
    #[cfg(feature = "gpu")]
    pub(crate) fn gpu_output(&mut self, mode: Mode) -> Result<crate::gpu::GpuOutput> {
        match self {
            Pixels::Cpu(_) => Err(crate::Error::Gpu {
                context: "keeping the result on the GPU".into(),
                message: "the pixel stages run on the CPU".into(),
            }),
            Pixels::Gpu(g) => g.px.output(mode),
        }
    }

    /// The full-resolution mask of the last frame (the GPU reads it back on the first call
    /// after a frame; should that fail, the mask that went up stands in, unrefined: the model's
    /// upsampled, or the one `set_mask` gave).
    pub(crate) fn mask(&mut self) -> &Mask {
        match self {
            Pixels::Cpu(c) => &c.mask,
            #[cfg(feature = "gpu")]
            Pixels::Gpu(g) => {
                if !g.host_fresh {
                    g.host_fresh = true;
                    if g.px.read_mask(&mut g.host).is_err() && !g.host_is_fallback {
                        g.low.resize_with(&mut g.host, &mut g.resampler);
                    }
                }
                &g.host
            }
        }
    }
}
