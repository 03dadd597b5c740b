//! # bokeh C API
//!
//! The library behind `include/bokeh.h`, for apps written in Swift, Kotlin (through JNI), C or
//! C++. An app creates one [`BokehProcessor`] per camera stream, hands it each frame as it
//! comes from the camera (RGBA, BGRA as iOS `CVPixelBuffer`s give, NV12/NV21/I420 as Android
//! cameras give, YUYV as webcams give) and gets the portrait-mode picture in a buffer it owns.
//!
//! ## Design
//! - **Handles**: a processor is an opaque pointer made by one of the `bokeh_processor_create*`
//!   calls and released by [`bokeh_processor_destroy`], which takes the handle's address and
//!   nulls it, so a stale copy cannot be destroyed twice by the usual `destroy(&p)` idiom.
//! - **No unwinding across the boundary**: every entry point runs its body inside
//!   `catch_unwind` ([`guard`]); a panic becomes [`BokehStatus::Internal`]. Nothing a caller
//!   passes can reach a panic on purpose: null pointers, sizes, strides and buffer lengths are
//!   checked and turned into status codes before any slice is formed.
//! - **Errors**: a [`BokehStatus`] per call plus a thread-local message
//!   ([`bokeh_last_error`]) naming what was wrong and where.
//! - **Threads**: the processor's state sits behind a mutex that is only ever *tried*: a second
//!   thread calling into a processor that is busy gets [`BokehStatus::Busy`] at once, never a
//!   data race and never a blocked camera thread. Pixel work runs on rayon's global pool, or on
//!   a pool of the processor's own when [`BokehSettings::num_threads`] is set.
//! - **ABI growth**: [`BokehSettings`] starts with its own size. The library reads only the
//!   fields the caller's header knew about and fills the rest with defaults, so apps built
//!   against an older header keep working when fields are appended.
//! - **Enumerations** that the caller sends (`bokeh_pixel_format`, `bokeh_mode` …) are plain
//!   `uint32_t` with named constants, so an out-of-range value is an error code rather than
//!   undefined behaviour; the status the library returns is a real C enum.
//!
//! Frames are read and written in place; nothing is copied unless the input must be converted
//! (Y′CbCr, or another packed order than the output) or the input and output buffers overlap
//! (processing in place is allowed and costs one copy).
#![allow(unsafe_code)] // This crate is the unsafe boundary: raw pointers from C become checked slices here.

use std::cell::RefCell;
use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bokeh::{
    Backend, BlurKind, Error, Frame, FrameMut, FrameRef, Mode, ModelSpec, Options, Orientation, Pipeline, PixelFormat,
    Refine, Rotation, Segmenter, Stream, YuvColor, YuvFrameRef, YuvLayout, YuvMatrix, YuvRange,
};

mod handle;
use handle::{Engine, Handle, Slot, Source};

/// Version of the C ABI described by `bokeh.h`; bumped on any incompatible change.
pub const BOKEH_ABI_VERSION: u32 = 1;

/// Result of every call. `BOKEH_STATUS_OK` (0) is success; for the others,
/// `bokeh_last_error()` has a message.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BokehStatus {
    /// Success.
    Ok = 0,
    /// A required pointer argument was NULL.
    NullPointer = 1,
    /// A setting or argument is outside its documented range (strength, mode, model spec …).
    InvalidArgument = 2,
    /// A frame's size, stride or buffer length is impossible or too short for its format.
    InvalidFrame = 3,
    /// The pixel format is unknown, or not accepted for this input/output/mode.
    UnsupportedFormat = 4,
    /// The output (or mask) frame does not have the input's width and height.
    SizeMismatch = 5,
    /// The model could not be loaded or run.
    Model = 6,
    /// A model file could not be read.
    Io = 7,
    /// A versioned struct has a size this library does not know (`struct_size`).
    Version = 8,
    /// The processor is in use by another thread; nothing was done.
    Busy = 9,
    /// A bug in bokeh (a caught panic). The processor remains usable.
    Internal = 10,
    /// The call needs state that does not exist yet (e.g. a mask before the first frame, or
    /// replace mode before a background).
    NotReady = 11,
    /// The GPU backend is not available: not built into this library, no adapter found, or
    /// the GPU failed.
    Gpu = 12,
}

/// Pixel formats (`bokeh_pixel_format`). 0 is deliberately invalid, so that a zeroed frame
/// struct is rejected.
pub type BokehPixelFormat = u32;
/// 3 bytes per pixel: R, G, B.
pub const BOKEH_FORMAT_RGB: BokehPixelFormat = 1;
/// 4 bytes per pixel: R, G, B, A (Android `Bitmap.Config.ARGB_8888` memory order).
pub const BOKEH_FORMAT_RGBA: BokehPixelFormat = 2;
/// 4 bytes per pixel: B, G, R, A (iOS `kCVPixelFormatType_32BGRA`).
pub const BOKEH_FORMAT_BGRA: BokehPixelFormat = 3;
/// 1 byte per pixel: grey (mask output).
pub const BOKEH_FORMAT_GRAY: BokehPixelFormat = 4;
/// 4:2:0, plane 0 = Y, plane 1 = interleaved U,V (iOS `420v`/`420f`). Input only. Plane 1 may be
/// one byte short (Android's `YUV_420_888` U view): its last V is then the one before it.
pub const BOKEH_FORMAT_NV12: BokehPixelFormat = 5;
/// 4:2:0, plane 0 = Y, plane 1 = interleaved V,U (Android camera). Input only. Plane 1 may be
/// one byte short (Android's `YUV_420_888` V view): its last U is then the one before it.
pub const BOKEH_FORMAT_NV21: BokehPixelFormat = 6;
/// 4:2:0, planes Y, U, V (Android `YUV_420_888` with pixel stride 1). Input only.
pub const BOKEH_FORMAT_I420: BokehPixelFormat = 7;
/// 4:2:2 packed Y0 U Y1 V in plane 0 (webcams). Input only.
pub const BOKEH_FORMAT_YUYV: BokehPixelFormat = 8;

/// Colour matrix and range of Y′CbCr input (`bokeh_color_space`); ignored for RGB formats.
pub type BokehColorSpace = u32;
/// BT.601, limited ("video") range: the default, and iOS `420v`.
pub const BOKEH_COLOR_BT601_LIMITED: BokehColorSpace = 0;
/// BT.601, full range: iOS `420f`, Android's NV21 preview frames, JPEG.
pub const BOKEH_COLOR_BT601_FULL: BokehColorSpace = 1;
/// BT.709, limited range: HD video.
pub const BOKEH_COLOR_BT709_LIMITED: BokehColorSpace = 2;
/// BT.709, full range.
pub const BOKEH_COLOR_BT709_FULL: BokehColorSpace = 3;

/// What a processor produces (`bokeh_mode`).
pub type BokehMode = u32;
/// Person sharp over the blurred background. Output: RGB, RGBA or BGRA.
pub const BOKEH_MODE_BLUR: BokehMode = 0;
/// Person over the background set with `bokeh_processor_set_background`. Output: RGB, RGBA or BGRA.
pub const BOKEH_MODE_REPLACE: BokehMode = 1;
/// Person alone, mask as alpha. Output: RGBA.
pub const BOKEH_MODE_CUTOUT: BokehMode = 2;
/// The soft mask (255 = person). Output: GRAY.
pub const BOKEH_MODE_MASK: BokehMode = 3;

/// Background blur kernel (`bokeh_blur`).
pub type BokehBlur = u32;
/// A lens-like disc (bright points become discs). The default.
pub const BOKEH_BLUR_DISC: BokehBlur = 0;
/// A Gaussian (softer, no disc highlights).
pub const BOKEH_BLUR_GAUSSIAN: BokehBlur = 1;
/// A six-blade aperture: bright points become hexagons.
pub const BOKEH_BLUR_HEXAGON: BokehBlur = 2;

/// Where the pixel stages run (`bokeh_backend`).
pub type BokehBackend = u32;
/// The CPU cores (the default).
pub const BOKEH_BACKEND_CPU: BokehBackend = 0;
/// A GPU through wgpu (Vulkan on Android, Metal on iOS), software adapters included; an error
/// (`BOKEH_STATUS_GPU`) when the library was built without it or no adapter is found.
pub const BOKEH_BACKEND_GPU: BokehBackend = 1;
/// A hardware GPU when there is one, else the CPU.
pub const BOKEH_BACKEND_AUTO: BokehBackend = 2;

/// An image in caller memory.
///
/// Packed formats use plane 0 only. NV12/NV21 use planes 0 (Y) and 1 (chroma), I420 planes 0–2.
/// For each plane used: `planes[i]` points at its first byte, `strides[i]` is the number of
/// bytes from one row to the next (≥ one row), `sizes[i]` is the number of bytes readable or
/// writable from `planes[i]` (at least `strides[i] × (rows − 1) + one row`). Chroma planes of
/// 4:2:0 formats have `(width + 1) / 2` samples per row and `(height + 1) / 2` rows. Unused
/// planes are ignored.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct BokehFrame {
    /// Width in pixels (> 0).
    pub width: u32,
    /// Height in pixels (> 0).
    pub height: u32,
    /// One of the `BOKEH_FORMAT_*` constants.
    pub format: BokehPixelFormat,
    /// One of the `BOKEH_COLOR_*` constants (Y′CbCr formats only; 0 = BT.601 limited).
    pub color: BokehColorSpace,
    /// First byte of each plane. Input frames are only read.
    pub planes: [*mut u8; 3],
    /// Bytes from the start of one row to the start of the next, per plane.
    pub strides: [usize; 3],
    /// Bytes available from `planes[i]`, per plane.
    pub sizes: [usize; 3],
}

/// Processing settings. Initialise with `bokeh_settings_init`, then change fields.
///
/// `struct_size` must be `sizeof(bokeh_settings)` as the caller's header defines it (the init
/// function sets it); fields a newer library appends get their defaults for older callers.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BokehSettings {
    /// `sizeof(bokeh_settings)`, set by `bokeh_settings_init`.
    pub struct_size: u32,
    /// One of the `BOKEH_MODE_*` constants. Default: `BOKEH_MODE_BLUR`.
    pub mode: BokehMode,
    /// One of the `BOKEH_BLUR_*` constants. Default: `BOKEH_BLUR_DISC`.
    pub blur: BokehBlur,
    /// Blur radius as a fraction of the frame diagonal, 0 to 0.25. Default: 0.03.
    pub strength: f32,
    /// Worker threads for pixel work: 0 (default) shares one pool sized to the CPU among all
    /// processors; N > 0 gives this processor a pool of its own with N threads.
    pub num_threads: u32,
    /// Temporal smoothing of the mask for video (1) or none (0, the default, right for
    /// unrelated photos). Camera streams want 1: still edges stop flickering, moving edges
    /// follow at once, a person the model loses for a frame is held, and the model looks at a
    /// crop around the people of the last frames, so small or distant people keep their mask.
    /// `bokeh_processor_reset` forgets the past after a cut or camera switch.
    pub temporal: u32,
    /// Highlight bloom: clipped highlights count up to this many times white before the blur,
    /// so lights become bright discs (1 = off, up to 64). Default: 4. (This field and the ones
    /// after it were appended in the struct's second version: a caller whose `struct_size` ends
    /// before them gets their defaults.)
    pub bloom: f32,
    /// Edge-aware refinement of the mask with the frame as the guide (1, the default) or the
    /// model's mask as it comes (0).
    pub refine: u32,
    /// Refinement: the mask value that becomes ½ (0 to 1; lower grows the person). Default: 0.5.
    pub edge_threshold: f32,
    /// Refinement: width of the edge ramp (0.01 to 1; 1 keeps the edges' softness, smaller is
    /// crisper). Default: 1.
    pub edge_feather: f32,
    /// Colour decontamination of edge pixels in replace and cutout modes, so hair does not carry
    /// the old background's colour (1, the default) or none (0).
    pub decontaminate: u32,
    /// Focus falloff: 0 (the default) blurs the whole background alike; D in (0, 1] grows the
    /// blur from nothing at the person to full strength D × the diagonal away, so the ground at
    /// their feet stays sharper than the far wall. Disc and hexagon blurs only.
    pub focus_falloff: f32,
    /// How the frames are stored: the clockwise rotation in degrees (0, 90, 180, 270) that turns
    /// them upright, as the camera reports it (Android `ImageInfo.getRotationDegrees()`; on iOS
    /// from the device orientation when the connection does not rotate the buffers). The model
    /// sees the picture upright. Default: 0. (This field and the ones after it were appended in
    /// the struct's third version.)
    pub rotation: u32,
    /// After the rotation, the picture is mirrored left to right (1) or not (0, the default).
    /// Front cameras: set it when the upright output should look like a mirror.
    pub mirror: u32,
    /// Write the output turned upright (1: width and height swapped for 90° and 270°, mirrored
    /// if `mirror`) or as the input is stored (0, the default; display it with the rotation).
    /// Turning costs one copy of the output. The mask of `get_mask` stays as stored.
    pub upright_output: u32,
    /// With `temporal = 1`: the model looks at a crop around the people of the last frames
    /// (1, the default; small and distant people keep their mask) or always at the whole frame
    /// (0).
    pub tracking: u32,
    /// Where the pixel stages run: one of the `BOKEH_BACKEND_*` constants. Default:
    /// `BOKEH_BACKEND_CPU`. `BOKEH_BACKEND_GPU` needs a library built with the GPU backend
    /// (`BOKEH_STATUS_GPU` otherwise, or when no adapter is found); `BOKEH_BACKEND_AUTO` takes a
    /// hardware GPU when there is one and the CPU otherwise.
    pub backend: BokehBackend,
    /// Where the model runs, when the pixel stages are on a GPU: `BOKEH_BACKEND_AUTO` (the
    /// default) runs it on that GPU when it is a hardware one (tract on the CPU is faster than
    /// a software rasteriser); `BOKEH_BACKEND_GPU` on whatever adapter the pixel stages use (an
    /// `INVALID_ARGUMENT` when they are on the CPU); `BOKEH_BACKEND_CPU` (0) always in tract on
    /// the CPU. (Appended in the struct's fourth version.)
    pub model_backend: BokehBackend,
}

/// The sizes of the published layouts of [`BokehSettings`]: the first ended with `temporal`,
/// the second with `focus_falloff`, the third with `backend`, the fourth is the current one.
/// Any other `struct_size` smaller than the current one is a caller's mistake.
const SETTINGS_SIZES: [usize; 4] = [
    std::mem::offset_of!(BokehSettings, bloom),
    std::mem::offset_of!(BokehSettings, rotation),
    std::mem::offset_of!(BokehSettings, model_backend),
    std::mem::size_of::<BokehSettings>(),
];

impl Default for BokehSettings {
    fn default() -> Self {
        BokehSettings {
            struct_size: std::mem::size_of::<BokehSettings>() as u32,
            mode: BOKEH_MODE_BLUR,
            blur: BOKEH_BLUR_DISC,
            strength: Options::DEFAULT_STRENGTH,
            num_threads: 0,
            temporal: 0,
            bloom: Options::DEFAULT_BLOOM,
            refine: 1,
            edge_threshold: 0.5,
            edge_feather: 1.0,
            decontaminate: 1,
            focus_falloff: 0.0,
            rotation: 0,
            mirror: 0,
            upright_output: 0,
            tracking: 1,
            backend: BOKEH_BACKEND_CPU,
            model_backend: BOKEH_BACKEND_AUTO,
        }
    }
}

/// Wall-clock milliseconds of each stage of the last processed frame.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BokehTimings {
    /// Converting or copying the input (Y′CbCr to RGB, or a copy for in-place processing).
    pub convert_ms: f32,
    /// Resizing the frame for the model.
    pub preprocess_ms: f32,
    /// Running the model.
    pub inference_ms: f32,
    /// Upsampling the mask to the frame.
    pub upsample_ms: f32,
    /// Blurring the background.
    pub blur_ms: f32,
    /// Writing the output pixels.
    pub composite_ms: f32,
    /// The whole `bokeh_processor_process` call.
    pub total_ms: f32,
}

/// A portrait-mode processor for one stream of frames (opaque to C): each call processes one
/// frame and returns it.
pub struct BokehProcessor(Handle<Pipeline>);

/// A pipelined portrait-mode stream (opaque to C): the model works on the frame just pushed
/// while the previous one is finished, so each push returns the frame before it.
pub struct BokehStream(Handle<Stream>);

// ---------------------------------------------------------------------------------------------
// Errors and the panic guard

/// An error on its way to C: a status and a message.
struct Failure {
    status: BokehStatus,
    message: String,
}

impl Failure {
    fn new(status: BokehStatus, message: impl Into<String>) -> Self {
        Failure { status, message: message.into() }
    }

    fn null(what: &str) -> Self {
        Failure::new(BokehStatus::NullPointer, format!("{what} is NULL"))
    }

    /// A library error, with what we were doing.
    fn from_error(context: &str, err: Error) -> Self {
        let status = match &err {
            Error::InvalidFrame(_) => BokehStatus::InvalidFrame,
            Error::SizeMismatch { .. } => BokehStatus::SizeMismatch,
            Error::UnsupportedFormat { .. } => BokehStatus::UnsupportedFormat,
            Error::InvalidSpec(_) | Error::InvalidOption(_) => BokehStatus::InvalidArgument,
            Error::Model { .. } => BokehStatus::Model,
            Error::Io { .. } => BokehStatus::Io,
            // A frame over the pixel limit, or pixels that cannot be decoded: the frame's fault.
            Error::TooLarge { .. } | Error::Decode(_) => BokehStatus::InvalidFrame,
            Error::Gpu { .. } => BokehStatus::Gpu,
            // The C API does not encode images: reaching this is a bug.
            Error::Encode(_) => BokehStatus::Internal,
            // A variant added to the library and not mapped here yet.
            _ => BokehStatus::Internal,
        };
        Failure::new(status, format!("{context}: {err}"))
    }
}

type FfiResult<T = ()> = Result<T, Failure>;

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

fn set_last_error(message: &str) {
    // Interior NULs cannot appear in a C string; they never occur in our messages, but a path
    // could carry one, so they are replaced rather than truncating the message.
    let text = CString::new(message.replace('\0', "\u{FFFD}")).unwrap_or_default();
    // `try_with`: during thread teardown the slot may be gone; the status code still stands.
    let _ = LAST_ERROR.try_with(|slot| *slot.borrow_mut() = text);
}

/// Runs `body`, turning errors and panics into a status and the thread's last-error message.
fn guard(body: impl FnOnce() -> FfiResult) -> BokehStatus {
    set_last_error("");
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => BokehStatus::Ok,
        Ok(Err(failure)) => {
            set_last_error(&failure.message);
            failure.status
        }
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            set_last_error(&format!("internal error in bokeh (please report): {what}"));
            BokehStatus::Internal
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Conversions from C descriptions

/// The `struct_size` of a caller's settings struct, checked: the size of a published layout, or
/// larger (a newer header's), never more than 4 KiB.
///
/// # Safety
/// `ptr` must be non-null and point to at least 4 readable bytes.
unsafe fn settings_size(ptr: *const BokehSettings, what: &str) -> FfiResult<usize> {
    // SAFETY: the caller promises a readable struct; its first field is the u32 size.
    let size = unsafe { std::ptr::read_unaligned(ptr.cast::<u32>()) } as usize;
    let ours = std::mem::size_of::<BokehSettings>();
    if size < ours && !SETTINGS_SIZES.contains(&size) {
        return Err(Failure::new(
            BokehStatus::Version,
            format!(
                "{what}: struct_size is {size}, not the size of a bokeh_settings layout ({SETTINGS_SIZES:?}; call \
                 bokeh_settings_init first)"
            ),
        ));
    }
    if size > 4096 || !size.is_multiple_of(4) {
        return Err(Failure::new(BokehStatus::Version, format!("{what}: struct_size {size} is not a settings size")));
    }
    Ok(size)
}

/// Reads a caller's settings struct of any published size. A larger struct, from a newer
/// header, is read when the fields this library does not know are all zero (a new field's zero
/// means "as before"); otherwise the caller asks for something this library cannot do.
///
/// # Safety
/// `ptr` must be NULL or point to at least `struct_size` readable bytes (and at least 4).
unsafe fn read_settings(ptr: *const BokehSettings, what: &str) -> FfiResult<BokehSettings> {
    if ptr.is_null() {
        return Ok(BokehSettings::default());
    }
    // SAFETY: forwarded contract.
    let size = unsafe { settings_size(ptr, what)? };
    let ours = std::mem::size_of::<BokehSettings>();
    if size > ours {
        // SAFETY: the caller promises `size` readable bytes.
        let extra = unsafe { std::slice::from_raw_parts(ptr.cast::<u8>().add(ours), size - ours) };
        if extra.iter().any(|&b| b != 0) {
            return Err(Failure::new(
                BokehStatus::Version,
                format!(
                    "{what}: struct_size is {size}, from a newer bokeh.h, and sets fields this library ({ours} \
                     bytes, version {}) does not have",
                    env!("CARGO_PKG_VERSION")
                ),
            ));
        }
    }
    let size = size.min(ours);
    let mut settings = BokehSettings::default();
    // SAFETY: `size` bytes are readable at `ptr` and fit in `settings`; every bit pattern is a
    // valid value for the plain integer/float fields.
    unsafe {
        std::ptr::copy_nonoverlapping(ptr.cast::<u8>(), (&mut settings as *mut BokehSettings).cast::<u8>(), size)
    };
    settings.struct_size = ours as u32;
    Ok(settings)
}

/// Library options for `settings` with `background`. Replace mode without a background yet
/// gives blur options (the frame call refuses to run until a background is set).
fn options_for(settings: &BokehSettings, background: Option<Arc<Frame>>) -> FfiResult<Options> {
    let mode = match settings.mode {
        BOKEH_MODE_BLUR => Mode::Blur,
        BOKEH_MODE_REPLACE if background.is_some() => Mode::Replace,
        BOKEH_MODE_REPLACE => Mode::Blur,
        BOKEH_MODE_CUTOUT => Mode::Cutout,
        BOKEH_MODE_MASK => Mode::Mask,
        other => {
            return Err(Failure::new(BokehStatus::InvalidArgument, format!("settings.mode: unknown mode {other}")))
        }
    };
    let blur = match settings.blur {
        BOKEH_BLUR_DISC => BlurKind::Disc,
        BOKEH_BLUR_GAUSSIAN => BlurKind::Gaussian,
        BOKEH_BLUR_HEXAGON => BlurKind::Hexagon,
        other => {
            return Err(Failure::new(
                BokehStatus::InvalidArgument,
                format!("settings.blur: unknown blur kernel {other}"),
            ))
        }
    };
    if settings.num_threads > 256 {
        return Err(Failure::new(
            BokehStatus::InvalidArgument,
            format!("settings.num_threads: {} is more than 256", settings.num_threads),
        ));
    }
    let switch = |name: &str, value: u32| match value {
        0 | 1 => Ok(value == 1),
        other => Err(Failure::new(BokehStatus::InvalidArgument, format!("settings.{name}: {other} is not 0 or 1"))),
    };
    // The C encoding of "off" is 0: anything else not positive is an error, not "off".
    let falloff = settings.focus_falloff;
    if falloff.is_nan() || falloff < 0.0 {
        return Err(Failure::new(
            BokehStatus::InvalidArgument,
            format!("settings.focus_falloff: {falloff} is negative or not a number (0 turns it off)"),
        ));
    }
    let temporal = switch("temporal", settings.temporal)?.then(bokeh::Temporal::default);
    let rotation =
        Rotation::from_degrees(settings.rotation).map_err(|e| Failure::from_error("settings.rotation", e))?;
    let orientation = Orientation::new(rotation, switch("mirror", settings.mirror)?);
    let tracking = switch("tracking", settings.tracking)?.then(bokeh::Tracking::default);
    let backend_of = |field: &str, code: BokehBackend| match code {
        BOKEH_BACKEND_CPU => Ok(Backend::Cpu),
        BOKEH_BACKEND_GPU => Ok(Backend::Gpu),
        BOKEH_BACKEND_AUTO => Ok(Backend::Auto),
        other => Err(Failure::new(BokehStatus::InvalidArgument, format!("settings.{field}: unknown backend {other}"))),
    };
    let backend = backend_of("backend", settings.backend)?;
    let model_backend = backend_of("model_backend", settings.model_backend)?;
    for (field, b) in [("backend", backend), ("model_backend", model_backend)] {
        if !b.is_built() {
            return Err(Failure::new(
                BokehStatus::Gpu,
                format!(
                    "settings.{field}: this build of the library has no GPU backend (build bokeh-ffi with the `gpu` \
                     feature)"
                ),
            ));
        }
    }
    let refine = switch("refine", settings.refine)?
        .then(|| Refine::default().with_ramp(settings.edge_threshold, settings.edge_feather));
    let mut options = Options::default()
        .with_mode(mode)
        .with_blur(blur)
        .with_strength(settings.strength)
        .with_temporal(temporal)
        .with_bloom(settings.bloom)
        .with_refine(refine)
        .with_decontaminate(switch("decontaminate", settings.decontaminate)?)
        .with_focus_falloff((falloff > 0.0).then_some(falloff))
        .with_orientation(orientation)
        .with_upright_output(switch("upright_output", settings.upright_output)?)
        .with_tracking(tracking)
        .with_backend(backend)
        .with_model_backend(model_backend);
    options.background = background;
    // The ranges are the library's to check (one source of truth); above are only the C
    // encodings (enum codes, 0/1 switches, 0 = off, the thread count).
    options.validate().map_err(|e| Failure::from_error("settings", e))?;
    Ok(options)
}

/// What a `bokeh_frame` holds, once its format is known.
enum Layout {
    Packed(PixelFormat),
    Yuv(YuvLayout),
}

fn layout_of(frame: &BokehFrame, what: &str) -> FfiResult<Layout> {
    Ok(match frame.format {
        BOKEH_FORMAT_RGB => Layout::Packed(PixelFormat::Rgb8),
        BOKEH_FORMAT_RGBA => Layout::Packed(PixelFormat::Rgba8),
        BOKEH_FORMAT_BGRA => Layout::Packed(PixelFormat::Bgra8),
        BOKEH_FORMAT_GRAY => Layout::Packed(PixelFormat::Gray8),
        BOKEH_FORMAT_NV12 => Layout::Yuv(YuvLayout::Nv12),
        BOKEH_FORMAT_NV21 => Layout::Yuv(YuvLayout::Nv21),
        BOKEH_FORMAT_I420 => Layout::Yuv(YuvLayout::I420),
        BOKEH_FORMAT_YUYV => Layout::Yuv(YuvLayout::Yuyv),
        other => {
            return Err(Failure::new(BokehStatus::UnsupportedFormat, format!("{what}: unknown pixel format {other}")))
        }
    })
}

fn color_of(frame: &BokehFrame, what: &str) -> FfiResult<YuvColor> {
    Ok(match frame.color {
        BOKEH_COLOR_BT601_LIMITED => YuvColor::new(YuvMatrix::Bt601, YuvRange::Limited),
        BOKEH_COLOR_BT601_FULL => YuvColor::new(YuvMatrix::Bt601, YuvRange::Full),
        BOKEH_COLOR_BT709_LIMITED => YuvColor::new(YuvMatrix::Bt709, YuvRange::Limited),
        BOKEH_COLOR_BT709_FULL => YuvColor::new(YuvMatrix::Bt709, YuvRange::Full),
        other => {
            return Err(Failure::new(BokehStatus::InvalidArgument, format!("{what}: unknown color space {other}")))
        }
    })
}

/// Checks plane `i` of `frame` can become a slice.
fn check_plane(frame: &BokehFrame, i: usize, what: &str) -> FfiResult<()> {
    if frame.planes[i].is_null() {
        return Err(Failure::null(&format!("{what}.planes[{i}]")));
    }
    if frame.sizes[i] > isize::MAX as usize {
        return Err(Failure::new(BokehStatus::InvalidFrame, format!("{what}.sizes[{i}] is larger than memory")));
    }
    Ok(())
}

fn frame_error(what: &str) -> impl Fn(Error) -> Failure + '_ {
    move |e| Failure::from_error(what, e)
}

/// An input frame, borrowed.
#[derive(Clone, Copy)]
enum Input<'a> {
    Packed(FrameRef<'a>),
    Yuv(YuvFrameRef<'a>),
}

/// Views the planes of an input frame.
///
/// # Safety
/// Each used plane pointer must be valid for reads of `sizes[i]` bytes for `'a`, and not be
/// written through any other path while the view lives.
unsafe fn input_view<'a>(frame: &BokehFrame, what: &str) -> FfiResult<Input<'a>> {
    let layout = layout_of(frame, what)?;
    let planes = match layout {
        Layout::Packed(_) => 1,
        Layout::Yuv(l) => l.planes(),
    };
    let empty: &'a [u8] = &[];
    let mut slices = [empty; 3];
    for (i, slice) in slices.iter_mut().enumerate().take(planes) {
        check_plane(frame, i, what)?;
        // SAFETY: non-null, size ≤ isize::MAX, readable per the caller's contract.
        *slice = unsafe { std::slice::from_raw_parts(frame.planes[i], frame.sizes[i]) };
    }
    Ok(match layout {
        Layout::Packed(format) => Input::Packed(
            FrameRef::new(slices[0], frame.width, frame.height, frame.strides[0], format).map_err(frame_error(what))?,
        ),
        Layout::Yuv(l) => Input::Yuv(
            YuvFrameRef::new(l, frame.width, frame.height, slices, frame.strides)
                .map_err(frame_error(what))?
                .with_color(color_of(frame, what)?),
        ),
    })
}

/// The packed format of an output frame (Y′CbCr formats are input only).
fn output_format(frame: &BokehFrame, what: &str) -> FfiResult<PixelFormat> {
    match layout_of(frame, what)? {
        Layout::Packed(format) => Ok(format),
        Layout::Yuv(l) => Err(Failure::new(
            BokehStatus::UnsupportedFormat,
            format!("{what}: {l:?} is an input format; write RGB, RGBA, BGRA or GRAY"),
        )),
    }
}

/// Views an output frame (packed formats only).
///
/// # Safety
/// `planes[0]` must be valid for reads and writes of `sizes[0]` bytes for `'a`, with no other
/// live reference to that memory.
unsafe fn output_view<'a>(frame: &BokehFrame, what: &str) -> FfiResult<FrameMut<'a>> {
    let format = output_format(frame, what)?;
    check_plane(frame, 0, what)?;
    // SAFETY: non-null, size ≤ isize::MAX, writable and unaliased per the caller's contract.
    let data = unsafe { std::slice::from_raw_parts_mut(frame.planes[0], frame.sizes[0]) };
    FrameMut::new(data, frame.width, frame.height, frame.strides[0], format).map_err(frame_error(what))
}

/// The byte ranges a frame's used planes cover (as declared by `sizes`).
fn ranges(frame: &BokehFrame) -> Vec<std::ops::Range<usize>> {
    let planes = match layout_of(frame, "") {
        Ok(Layout::Yuv(l)) => l.planes(),
        _ => 1,
    };
    (0..planes)
        .map(|i| {
            let start = frame.planes[i] as usize;
            start..start.saturating_add(frame.sizes[i])
        })
        .collect()
}

fn overlaps(a: &BokehFrame, b: &BokehFrame) -> bool {
    let (ra, rb) = (ranges(a), ranges(b));
    ra.iter().any(|x| rb.iter().any(|y| x.start < y.end && y.start < x.end))
}

fn ms(d: Duration) -> f32 {
    d.as_secs_f32() * 1000.0
}

// ---------------------------------------------------------------------------------------------
// Frames through an engine

/// Checks `input` and `output` for `slot`'s mode, views them, and runs one frame through the
/// engine: `Ok((written, timings))`, `written` false when the engine had no frame to write yet.
///
/// # Safety
/// As for `bokeh_processor_process`: the input planes readable, the output plane writable, for
/// their declared sizes.
unsafe fn run_frame<E: Engine>(
    slot: &mut Slot<E>,
    input: &BokehFrame,
    output: &BokehFrame,
    same_frame: bool,
) -> FfiResult<(bool, Option<BokehTimings>)> {
    let start = Instant::now();
    if slot.settings.mode == BOKEH_MODE_REPLACE && !slot.has_background {
        return Err(Failure::new(
            BokehStatus::NotReady,
            "BOKEH_MODE_REPLACE needs a background: call set_background before the first frame",
        ));
    }
    let out_format = output_format(output, "output")?;
    let options = slot.engine.options();
    let mode = options.mode;
    let keeps_format = matches!(mode, Mode::Blur | Mode::Replace);
    let required = match mode {
        Mode::Cutout => Some((PixelFormat::Rgba8, "BOKEH_MODE_CUTOUT writes RGBA")),
        Mode::Mask => Some((PixelFormat::Gray8, "BOKEH_MODE_MASK writes GRAY")),
        _ if out_format == PixelFormat::Gray8 => {
            Some((PixelFormat::Rgba8, "blur and replace modes write RGB, RGBA or BGRA, not GRAY"))
        }
        _ => None,
    };
    if let Some((format, why)) = required.filter(|(format, _)| *format != out_format) {
        return Err(Failure::new(
            BokehStatus::UnsupportedFormat,
            format!("output is {out_format:?}, expected {format:?}: {why}"),
        ));
    }
    // A processor's output is this frame's; a stream's is the previous frame's (checked by it).
    let (ow, oh) = options.output_size(input.width, input.height);
    if same_frame && (ow, oh) != (output.width, output.height) {
        let turned = if (ow, oh) != (input.width, input.height) { " (turned upright)" } else { "" };
        return Err(Failure::new(
            BokehStatus::SizeMismatch,
            format!(
                "output is {}x{}, expected {ow}x{oh}{turned} for the {}x{} input",
                output.width, output.height, input.width, input.height
            ),
        ));
    }
    // SAFETY: the input planes are readable per the caller's contract. When input and output
    // overlap, the view is copied to the scratch frame and not used after the output is viewed
    // mutably.
    let view = unsafe { input_view(input, "input")? };
    let t0 = Instant::now();
    let in_place = overlaps(input, output);
    let copied =
        match view {
            Input::Packed(f) if f.format() == PixelFormat::Gray8 => return Err(Failure::new(
                BokehStatus::UnsupportedFormat,
                "input is GRAY: the model needs a colour picture (RGB, RGBA, BGRA or a Y′CbCr format); GRAY is for \
                 masks written out",
            )),
            Input::Packed(f) if keeps_format && f.format() != out_format => {
                return Err(Failure::new(
                    BokehStatus::UnsupportedFormat,
                    format!(
                    "input is {:?} and output {out_format:?}: in blur and replace modes the output has the input's \
                     format",
                    f.format()
                ),
                ))
            }
            Input::Packed(f) if in_place => {
                Frame::reuse(&mut slot.scratch, f.width(), f.height(), f.format())
                    .map_err(frame_error("scratch frame"))?
                    .copy_from(f);
                true
            }
            Input::Yuv(y) if in_place => {
                let format = if keeps_format { out_format } else { PixelFormat::Rgb8 };
                let frame = Frame::reuse(&mut slot.scratch, y.width(), y.height(), format)
                    .map_err(frame_error("scratch frame"))?;
                y.to_rgb_into(&mut frame.as_mut()).map_err(frame_error("input"))?;
                true
            }
            Input::Packed(_) | Input::Yuv(_) => false,
        };
    let mut convert = t0.elapsed();
    // SAFETY: writable per the contract; if it overlaps the input, the input was copied.
    let mut out = unsafe { output_view(output, "output")? };
    let yuv_format = if keeps_format { out_format } else { PixelFormat::Rgb8 };
    let result = if copied {
        let scratch = slot.scratch.take().ok_or_else(|| Failure::new(BokehStatus::Internal, "no scratch"))?;
        let result = slot.run(|s| s.engine.submit(Source::Packed(scratch.as_ref()), &mut None, &mut out, &mut convert));
        slot.scratch = Some(scratch);
        result
    } else {
        let source = match view {
            Input::Packed(frame) => Source::Packed(frame),
            Input::Yuv(y) => Source::Yuv(y, yuv_format),
        };
        slot.run(|s| s.engine.submit(source, &mut s.scratch, &mut out, &mut convert))
    };
    let written = result.map_err(|e| Failure::from_error("processing", e))?;
    if !written {
        return Ok((false, None));
    }
    slot.has_frame = true;
    Ok((true, Some(timings_of(slot.engine.timings(), convert, start.elapsed()))))
}

/// The C timings of a frame: the engine's stages, the conversion and the whole call.
fn timings_of(t: bokeh::StageTimings, convert: Duration, total: Duration) -> BokehTimings {
    BokehTimings {
        convert_ms: ms(convert),
        preprocess_ms: ms(t.preprocess),
        inference_ms: ms(t.inference),
        upsample_ms: ms(t.upsample),
        blur_ms: ms(t.blur),
        composite_ms: ms(t.composite),
        total_ms: ms(total),
    }
}

/// The handle behind a C pointer.
fn handle<'a, T>(ptr: *const T, what: &str) -> FfiResult<&'a T> {
    // SAFETY: non-null handles come from the create calls and stay valid until destroy, per
    // the API contract.
    unsafe { ptr.as_ref::<'a>() }.ok_or_else(|| Failure::null(what))
}

fn processor<'a>(ptr: *const BokehProcessor) -> FfiResult<&'a Handle<Pipeline>> {
    handle(ptr, "processor").map(|p| &p.0)
}

fn stream<'a>(ptr: *const BokehStream) -> FfiResult<&'a Handle<Stream>> {
    handle(ptr, "stream").map(|s| &s.0)
}

/// Writes a new handle to `out` (cleared first, so every failure leaves NULL behind).
fn create_handle<H>(
    make: impl FnOnce(BokehSettings) -> FfiResult<H>,
    settings: *const BokehSettings,
    out: *mut *mut H,
) -> FfiResult<()> {
    if out.is_null() {
        return Err(Failure::null("out (the address for the new handle)"));
    }
    // SAFETY: `out` is non-null and writable per the contract.
    unsafe { out.write(std::ptr::null_mut()) };
    // SAFETY: NULL or a readable settings struct, per the contract.
    let settings = unsafe { read_settings(settings, "settings")? };
    let handle = Box::new(make(settings)?);
    // SAFETY: as above.
    unsafe { out.write(Box::into_raw(handle)) };
    Ok(())
}

fn create(
    segmenter: impl FnOnce() -> FfiResult<Segmenter>,
    settings: *const BokehSettings,
    out: *mut *mut BokehProcessor,
) -> FfiResult<()> {
    create_handle(
        |settings| {
            let segmenter = segmenter()?;
            Handle::new(settings, |options| Pipeline::new(&segmenter, options)).map(BokehProcessor)
        },
        settings,
        out,
    )
}

/// Frees a handle made by [`create_handle`] and nulls the caller's pointer.
///
/// # Safety
/// `slot` must be NULL or point to NULL or to a live handle.
unsafe fn destroy_handle<H>(slot: *mut *mut H) {
    // SAFETY: readable and writable per the contract when non-null.
    if let Some(slot) = unsafe { slot.as_mut() } {
        let handle = std::mem::replace(slot, std::ptr::null_mut());
        if !handle.is_null() {
            // SAFETY: made by `Box::into_raw` in `create_handle` and not freed yet.
            drop(unsafe { Box::from_raw(handle) });
        }
    }
}

/// Copies settings into a caller's struct of `struct_size` bytes (a newer, larger struct gets
/// the fields this library knows and zeros after them).
///
/// # Safety
/// `out` must be non-null and writable for its `struct_size` bytes.
unsafe fn write_settings(current: BokehSettings, out: *mut BokehSettings) -> FfiResult<()> {
    // SAFETY: readable per the contract.
    let size = unsafe { settings_size(out, "settings")? };
    let known = size.min(std::mem::size_of::<BokehSettings>());
    let mut current = current;
    current.struct_size = size as u32;
    // SAFETY: `size` bytes are writable at `out` per the contract; `known` ≤ both sizes.
    unsafe {
        std::ptr::copy_nonoverlapping((&current as *const BokehSettings).cast::<u8>(), out.cast::<u8>(), known);
        std::ptr::write_bytes(out.cast::<u8>().add(known), 0, size - known);
    }
    Ok(())
}

/// Copies a background description into a frame of the library's own.
///
/// # Safety
/// `background` must be NULL or a frame whose planes are readable as it describes.
unsafe fn background_copy(background: *const BokehFrame) -> FfiResult<Option<Arc<Frame>>> {
    // SAFETY: readable per the contract when non-null.
    let Some(frame) = (unsafe { background.as_ref() }) else { return Ok(None) };
    // SAFETY: as documented.
    let copy = match unsafe { input_view(frame, "background")? } {
        Input::Packed(f) => Frame::from_ref(f),
        // Converted in the shared pool (rayon's global one is never started).
        Input::Yuv(y) => {
            handle::shared_pool()?.install(|| y.to_frame(PixelFormat::Rgb8)).map_err(frame_error("background"))?
        }
    };
    Ok(Some(Arc::new(copy)))
}

/// The size and format a prepare call names.
fn prepare_args(width: u32, height: u32, format: BokehPixelFormat) -> FfiResult<PixelFormat> {
    let probe = BokehFrame {
        width,
        height,
        format,
        color: 0,
        planes: [std::ptr::null_mut(); 3],
        strides: [0; 3],
        sizes: [0; 3],
    };
    let format = match layout_of(&probe, "prepare")? {
        Layout::Packed(PixelFormat::Gray8) => {
            return Err(Failure::new(BokehStatus::UnsupportedFormat, "prepare: GRAY is not an input format"))
        }
        Layout::Packed(f) => f,
        // Camera formats are converted to RGB(A) before the model; RGBA stands in.
        Layout::Yuv(_) => PixelFormat::Rgba8,
    };
    if width == 0 || height == 0 {
        return Err(Failure::new(BokehStatus::InvalidArgument, format!("prepare: empty size {width}x{height}")));
    }
    Ok(format)
}

/// A model that failed to load or run: the model spec is the usual cause (a wrong layout or
/// size makes tract fail inside the graph), so the message says which spec was used.
fn with_spec_hint(failure: Failure, spec: *const c_char) -> Failure {
    if !matches!(failure.status, BokehStatus::Model | BokehStatus::InvalidArgument) {
        return failure;
    }
    // SAFETY: NULL or NUL-terminated, checked by `spec_from` before the model was loaded.
    let used = if spec.is_null() { "mediapipe".into() } else { unsafe { CStr::from_ptr(spec) }.to_string_lossy() };
    Failure::new(
        failure.status,
        format!(
            "{} (model_spec was \"{used}\": does it describe this model's input layout, size and normalisation? \
             see bokeh.h, bokeh_processor_create_from_file)",
            failure.message
        ),
    )
}

/// Parses a model spec string; NULL means the `mediapipe` preset.
///
/// # Safety
/// `spec` must be NULL or a NUL-terminated string.
unsafe fn spec_from(spec: *const c_char) -> FfiResult<ModelSpec> {
    if spec.is_null() {
        return Ok(ModelSpec::mediapipe_selfie());
    }
    // SAFETY: NUL-terminated per the contract.
    let text = unsafe { CStr::from_ptr(spec) }
        .to_str()
        .map_err(|_| Failure::new(BokehStatus::InvalidArgument, "model_spec is not UTF-8"))?;
    text.parse().map_err(|e| Failure::from_error("model_spec", e))
}

// ---------------------------------------------------------------------------------------------
// Exported functions

/// The library version, e.g. "0.1.0" (a static string; never free it).
#[no_mangle]
pub extern "C" fn bokeh_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// The ABI version of the library (compare with `BOKEH_ABI_VERSION` from the header).
#[no_mangle]
pub extern "C" fn bokeh_abi_version() -> u32 {
    BOKEH_ABI_VERSION
}

/// The message of the last failed call on this thread, or "" if the last call succeeded.
/// Valid until the next bokeh call on this thread; never NULL, never free it.
#[no_mangle]
pub extern "C" fn bokeh_last_error() -> *const c_char {
    LAST_ERROR
        .try_with(|slot| slot.borrow().as_ptr())
        .unwrap_or_else(|_| c"(error message unavailable during thread exit)".as_ptr())
}

/// A static name for a status code ("BOKEH_STATUS_INVALID_FRAME", …; "unknown" for others).
#[no_mangle]
pub extern "C" fn bokeh_status_name(status: i32) -> *const c_char {
    let name: &CStr = match status {
        0 => c"BOKEH_STATUS_OK",
        1 => c"BOKEH_STATUS_NULL_POINTER",
        2 => c"BOKEH_STATUS_INVALID_ARGUMENT",
        3 => c"BOKEH_STATUS_INVALID_FRAME",
        4 => c"BOKEH_STATUS_UNSUPPORTED_FORMAT",
        5 => c"BOKEH_STATUS_SIZE_MISMATCH",
        6 => c"BOKEH_STATUS_MODEL",
        7 => c"BOKEH_STATUS_IO",
        8 => c"BOKEH_STATUS_VERSION",
        9 => c"BOKEH_STATUS_BUSY",
        10 => c"BOKEH_STATUS_INTERNAL",
        11 => c"BOKEH_STATUS_NOT_READY",
        12 => c"BOKEH_STATUS_GPU",
        _ => c"unknown",
    };
    name.as_ptr()
}

/// Fills `settings` with the defaults (portrait blur, disc, strength 0.03, shared threads) and
/// sets `struct_size`.
///
/// # Safety
/// `settings` must be NULL or point to a writable `bokeh_settings`.
#[no_mangle]
pub unsafe extern "C" fn bokeh_settings_init(settings: *mut BokehSettings) -> BokehStatus {
    guard(|| {
        // SAFETY: writable per the contract when non-null.
        let slot = unsafe { settings.as_mut() }.ok_or_else(|| Failure::null("settings"))?;
        *slot = BokehSettings::default();
        Ok(())
    })
}

/// Creates a processor with the embedded MediaPipe selfie-segmentation model. `settings` may be
/// NULL for the defaults. On success `*out` is the new handle; on failure it is NULL.
///
/// # Safety
/// `settings` must be NULL or a readable `bokeh_settings`; `out` must be writable.
#[no_mangle]
pub unsafe extern "C" fn bokeh_processor_create(
    settings: *const BokehSettings,
    out: *mut *mut BokehProcessor,
) -> BokehStatus {
    guard(|| create(|| Segmenter::new().map_err(|e| Failure::from_error("embedded model", e)), settings, out))
}

/// Creates a processor with an ONNX model read from `path`. `model_spec` describes the model's
/// input and output; NULL means "mediapipe". It is a preset — "mediapipe" (NHWC 256×256,
/// inputs in 0..1, probability out), "mediapipe-landscape" (256×144), "modnet" — optionally
/// followed by `,key=value` items that change it: `input=NAME`, `layout=nhwc|nchw`, `size=WxH`
/// or `short=N` with `multiple=M` (size following the frame), `norm=unit|symmetric|imagenet`,
/// `output=probability|logit`. The models embedded in the library are
/// "mediapipe,layout=nchw". A spec that does not fit the model fails with
/// `BOKEH_STATUS_MODEL` and a message naming the spec.
///
/// # Safety
/// `path` must be a NUL-terminated string; `model_spec` NULL or one; `settings` NULL or a
/// readable `bokeh_settings`; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn bokeh_processor_create_from_file(
    path: *const c_char,
    model_spec: *const c_char,
    settings: *const BokehSettings,
    out: *mut *mut BokehProcessor,
) -> BokehStatus {
    guard(|| {
        let load = || {
            if path.is_null() {
                return Err(Failure::null("path"));
            }
            // SAFETY: NUL-terminated per the contract.
            let path = unsafe { CStr::from_ptr(path) }
                .to_str()
                .map_err(|_| Failure::new(BokehStatus::InvalidArgument, "path is not UTF-8"))?;
            if path.is_empty() {
                return Err(Failure::new(BokehStatus::InvalidArgument, "path is empty (a model file's path)"));
            }
            // SAFETY: as documented.
            let spec = unsafe { spec_from(model_spec)? };
            Segmenter::from_onnx_path(path, spec)
                .map_err(|e| with_spec_hint(Failure::from_error(&format!("model {path}"), e), model_spec))
        };
        create(load, settings, out)
    })
}

/// Creates a processor with an ONNX model held in memory (`len` bytes at `data`; the library
/// keeps its own copy). `model_spec` as for `bokeh_processor_create_from_file`.
///
/// # Safety
/// `data` must be readable for `len` bytes; the other pointers as for
/// `bokeh_processor_create_from_file`.
#[no_mangle]
pub unsafe extern "C" fn bokeh_processor_create_from_memory(
    data: *const u8,
    len: usize,
    model_spec: *const c_char,
    settings: *const BokehSettings,
    out: *mut *mut BokehProcessor,
) -> BokehStatus {
    guard(|| {
        let load = || {
            if data.is_null() {
                return Err(Failure::null("data"));
            }
            if len == 0 || len > isize::MAX as usize {
                return Err(Failure::new(BokehStatus::InvalidArgument, format!("model length {len} is impossible")));
            }
            // SAFETY: readable for `len` bytes per the contract.
            let bytes = unsafe { std::slice::from_raw_parts(data, len) };
            // SAFETY: as documented.
            let spec = unsafe { spec_from(model_spec)? };
            Segmenter::from_onnx_bytes(bytes, spec)
                .map_err(|e| with_spec_hint(Failure::from_error("model from memory", e), model_spec))
        };
        create(load, settings, out)
    })
}

/// Destroys the processor `*processor` and sets `*processor` to NULL. NULL or a NULL handle is
/// a no-op. No other thread may be using the processor.
///
/// # Safety
/// `processor` must be NULL or point to NULL or to a handle from `bokeh_processor_create*`
/// that was not destroyed.
#[no_mangle]
pub unsafe extern "C" fn bokeh_processor_destroy(processor: *mut *mut BokehProcessor) {
    // SAFETY: forwarded contract.
    let _ = guard(|| {
        unsafe { destroy_handle(processor) };
        Ok(())
    });
}

/// Replaces the processor's settings. They are checked now (an error leaves the old ones) and
/// take effect at the next frame, so this may be called from any thread at any time — while
/// another thread is inside `bokeh_processor_process` too — and never returns `BUSY`. A
/// setting that can only fail when applied (threads, the GPU backend) fails that next frame,
/// and the settings in force stay.
///
/// # Safety
/// `processor` must be a live handle or NULL; `settings` NULL or a readable `bokeh_settings`.
#[no_mangle]
pub unsafe extern "C" fn bokeh_processor_set_settings(
    processor: *mut BokehProcessor,
    settings: *const BokehSettings,
) -> BokehStatus {
    // SAFETY: forwarded contract.
    guard(|| unsafe { self::processor(processor)?.set_settings_from(settings) })
}

/// Forgets the temporal smoothing's past (after a scene cut or a camera switch): the next
/// frame's mask is taken as the model gives it. Never `BUSY` (applied at the next frame).
///
/// # Safety
/// `processor` must be a live handle or NULL.
#[no_mangle]
pub unsafe extern "C" fn bokeh_processor_reset(processor: *mut BokehProcessor) -> BokehStatus {
    guard(|| self::processor(processor).map(Handle::request_reset))
}

/// Copies the processor's settings (the last ones set) into `*settings`, whose `struct_size`
/// the caller sets (e.g. with `bokeh_settings_init`); only that many bytes are written. Never
/// `BUSY`.
///
/// # Safety
/// `processor` must be a live handle or NULL; `settings` NULL or a writable `bokeh_settings`
/// of `struct_size` bytes.
#[no_mangle]
pub unsafe extern "C" fn bokeh_processor_get_settings(
    processor: *mut BokehProcessor,
    settings: *mut BokehSettings,
) -> BokehStatus {
    // SAFETY: forwarded contract.
    guard(|| unsafe { self::processor(processor)?.get_settings_into(settings) })
}

/// Sets the background for `BOKEH_MODE_REPLACE` (any size and input format; the library copies
/// it and scales it to cover each frame), from the next frame on. NULL removes it. Never `BUSY`.
///
/// # Safety
/// `processor` must be a live handle or NULL; `background` NULL or a frame whose planes are
/// readable as it describes.
#[no_mangle]
pub unsafe extern "C" fn bokeh_processor_set_background(
    processor: *mut BokehProcessor,
    background: *const BokehFrame,
) -> BokehStatus {
    // SAFETY: forwarded contract.
    guard(|| unsafe { self::processor(processor)?.set_background_from(background) })
}

/// Readies the processor for frames of `width` × `height` in `format` before the first one
/// arrives: the model plans are compiled and one black frame is run through every stage and
/// forgotten, so the first real frame costs what a steady one does (without it, the first frame
/// of each size stalls ≈ 85 ms per model plan). Call it at camera start and after a change of
/// size or rotation. Takes as long as that first frame would have (call it off the UI thread).
///
/// # Safety
/// `processor` must be a live handle or NULL.
#[no_mangle]
pub unsafe extern "C" fn bokeh_processor_prepare(
    processor: *mut BokehProcessor,
    width: u32,
    height: u32,
    format: BokehPixelFormat,
) -> BokehStatus {
    guard(|| self::processor(processor)?.prepare(width, height, format))
}

/// Processes one frame: `input` in any format, `output` the size the settings give (the input's,
/// or turned upright with `upright_output`) in the format the mode writes (blur/replace: RGB,
/// RGBA or BGRA; cutout: RGBA; mask: GRAY). For packed RGB input in blur/replace modes the
/// output must have the input's format. `output` may be the same memory as `input` (in-place
/// processing, one extra copy). On error the output's content is unspecified but no byte
/// outside its declared planes is touched.
///
/// # Safety
/// `processor` must be a live handle or NULL; `input` and `output` NULL or frames whose planes
/// are readable (input) and writable (output) for their declared sizes.
#[no_mangle]
pub unsafe extern "C" fn bokeh_processor_process(
    processor: *mut BokehProcessor,
    input: *const BokehFrame,
    output: *const BokehFrame,
) -> BokehStatus {
    guard(|| {
        let handle = self::processor(processor)?;
        // SAFETY: readable per the contract when non-null.
        let input = unsafe { input.as_ref() }.ok_or_else(|| Failure::null("input"))?;
        // SAFETY: as above.
        let output = unsafe { output.as_ref() }.ok_or_else(|| Failure::null("output"))?;
        // SAFETY: forwarded contract.
        handle.frame_call(|slot| unsafe { run_frame(slot, input, output, true) }).map(|_| ())
    })
}

/// Writes the soft person mask of the last processed frame (255 = person) into `mask`, a GRAY
/// frame of that frame's size as stored (not turned by `upright_output`). `BUSY` while another
/// thread is inside a frame call.
///
/// # Safety
/// `processor` must be a live handle or NULL; `mask` NULL or a frame whose plane 0 is writable
/// for its declared size.
#[no_mangle]
pub unsafe extern "C" fn bokeh_processor_get_mask(
    processor: *mut BokehProcessor,
    mask: *const BokehFrame,
) -> BokehStatus {
    // SAFETY: forwarded contract.
    guard(|| unsafe { self::processor(processor)?.mask_into(mask) })
}

/// Stage times of the last processed frame, in milliseconds. `BOKEH_STATUS_NOT_READY` before
/// the first frame. Never `BUSY` (a snapshot taken after each frame).
///
/// # Safety
/// `processor` must be a live handle or NULL; `timings` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn bokeh_processor_get_timings(
    processor: *mut BokehProcessor,
    timings: *mut BokehTimings,
) -> BokehStatus {
    // SAFETY: forwarded contract.
    guard(|| unsafe { self::processor(processor)?.timings_into(timings, "no frame has been processed yet") })
}

mod stream_api;
pub use stream_api::*;

#[cfg(test)]
mod tests;
