//! # bokeh — on-device portrait mode
//!
//! Give any photo or video frame the look of a fast lens: a person-segmentation network finds
//! the people, and the background behind them is blurred into soft discs while they stay sharp.
//! Everything runs on the device: the model in tract on the CPU, the pixel stages on the CPU with
//! rayon or, with [`Backend::Gpu`] (feature `gpu`), as WGSL compute shaders on any GPU wgpu
//! reaches ([`gpu`]). The default model (MediaPipe selfie segmentation) is embedded in the
//! library.
//!
//! ```no_run
//! use bokeh::{Frame, Options, Pipeline, Segmenter};
//!
//! # fn main() -> bokeh::Result<()> {
//! let segmenter = Segmenter::new()?;                 // embedded model, loaded once
//! let mut pipeline = Pipeline::new(&segmenter, Options::default())?;
//! let (w, h) = (1280, 720);
//! let rgb = vec![0u8; (w * h * 3) as usize];          // your camera frame or decoded photo
//! let frame = bokeh::FrameRef::packed(&rgb, w, h, bokeh::PixelFormat::Rgb8)?;
//! let portrait: Frame = pipeline.process(frame)?;     // same size and format, background blurred
//! # let _ = portrait;
//! # Ok(())
//! # }
//! ```
//!
//! ## Stages
//! 1. **preprocess** ([`SegmenterSession::preprocess`]): stretch the frame to the model input.
//! 2. **inference** ([`SegmenterSession::infer`]): the ONNX model, run by tract, gives a soft
//!    mask at model resolution; for photos, optionally again on a crop around each person
//!    ([`Options::detail_passes`]) and with a matting model ([`Pipeline::set_matting`]).
//! 3. **upsample** ([`Mask::resize_into`]) and **refine** ([`Refine`]): the mask at frame
//!    resolution, its edges moved onto the frame's by a guided filter.
//! 4. **blur** ([`blur`]): the background, mask-weighted (no halo), in linear light, with the
//!    lens's aperture (disc or hexagon) and highlight bloom.
//! 5. **composite** ([`Mode`]): blend, replace, cut out (edge colours decontaminated), or emit
//!    the mask.
//!
//! ## Layout
//! [`Options`] (`options.rs`) sit below everything. [`Pipeline`] (`pipeline.rs`) decides what
//! runs — which mask, whether it is smoothed, which blur and composite — in one stage sequence;
//! the pixel stages run on a backend (`pixels.rs`: the CPU with rayon, or [`gpu`] with wgpu)
//! through the same calls. The model's side: `segment/` (tract, [`ModelSpec`]), `track.rs`
//! (video's crop), `detail.rs` (photos' crops), `temporal.rs`. The pixel stages: `refine.rs`,
//! [`blur`], `composite.rs`, and their WGSL twins in `shaders/`. `ARCHITECTURE.md` in the
//! repository has the map and the invariants.
//!
//! [`Pipeline`] owns one stream's state and scratch buffers and runs them in order; [`Stream`]
//! overlaps the model's work on the next frame with the pixel stages of the current one (one
//! frame of latency; camera frames in YUV go in with [`Stream::push_yuv`], and the model can be
//! run on every N-th frame or only when the picture moves). Neither allocates per frame in its
//! own code once warm. Untrusted files go through [`decode_image`] (feature `image`), which
//! checks sizes before allocating; Y4M video streams through `Y4mReader` and `Y4mWriter`
//! (feature `y4m`).

#[cfg(feature = "clap")]
pub mod args;
pub mod blur;
mod color;
mod composite;
#[cfg(feature = "image")]
mod decode;
mod detail;
mod error;
mod frame;
#[cfg(feature = "gpu")]
pub mod gpu;
mod mask;
mod options;
mod orient;
mod pipeline;
mod pixels;
mod pool;
mod refine;
mod resample;
mod segment;
mod simd;
mod stream;
mod temporal;
mod track;
#[cfg(feature = "y4m")]
mod y4m;
pub mod yuv;

pub use blur::{BlurKind, BlurParams, BlurWeights, BlurredBackground};
#[cfg(feature = "image")]
pub use decode::{decode_frame, decode_image, DecodeLimits};
pub use error::{Dims, Error, Result};
pub use frame::{Frame, FrameMut, FrameRef, PixelFormat};
pub use mask::Mask;
pub use options::{Backend, Mode, Options, StageTimings};
pub use orient::{orient_into, Orientation, Rotation};
pub use pipeline::Pipeline;
pub use pool::WorkerPool;
pub use refine::{Refine, Refiner};
pub use segment::{
    InputSize, Layout, ModelSpec, Normalization, OutputKind, Prepared, Sampling, Segmenter, SegmenterSession,
    SELFIE_LANDSCAPE_ONNX, SELFIE_SQUARE_ONNX,
};
pub use stream::{Schedule, Stream};
pub use temporal::Temporal;
pub use track::{TrackStats, Tracking};
#[cfg(feature = "y4m")]
pub use y4m::{Y4mReader, Y4mWriter};
pub use yuv::{YuvColor, YuvFrame, YuvFrameRef, YuvLayout, YuvMatrix, YuvRange};
