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
use std::sync::{Arc, Mutex, TryLockError};
use std::time::{Duration, Instant};

use bokeh::{
    BlurKind, Error, Frame, FrameMut, FrameRef, Mode, ModelSpec, Options, Pipeline, PixelFormat, Refine, Segmenter,
    YuvColor, YuvFrameRef, YuvLayout, YuvMatrix, YuvRange,
};

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
    /// The call needs state that does not exist yet (e.g. a mask before the first frame).
    NotReady = 11,
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
/// 4:2:0, plane 0 = Y, plane 1 = interleaved U,V (iOS `420v`/`420f`). Input only.
pub const BOKEH_FORMAT_NV12: BokehPixelFormat = 5;
/// 4:2:0, plane 0 = Y, plane 1 = interleaved V,U (Android camera). Input only.
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
}

/// The smallest `struct_size` accepted: the first published layout of [`BokehSettings`], which
/// ended with `temporal`.
const SETTINGS_V1_SIZE: usize = std::mem::offset_of!(BokehSettings, bloom);

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

/// A portrait-mode processor for one stream of frames (opaque to C).
pub struct BokehProcessor {
    inner: Mutex<Processor>,
}

struct Processor {
    pipeline: Pipeline,
    settings: BokehSettings,
    pool: Option<rayon::ThreadPool>,
    /// Converted or copied input, reused from frame to frame.
    scratch: Option<Frame>,
    timings: BokehTimings,
    has_frame: bool,
}

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
            // The C API neither encodes images nor opens a GPU (yet): reaching these is a bug.
            Error::Encode(_) | Error::Gpu { .. } => BokehStatus::Internal,
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

/// Reads a caller's settings struct of any known size.
///
/// # Safety
/// `ptr` must be NULL or point to at least `struct_size` readable bytes (and at least 4).
unsafe fn read_settings(ptr: *const BokehSettings, what: &str) -> FfiResult<BokehSettings> {
    if ptr.is_null() {
        return Ok(BokehSettings::default());
    }
    // SAFETY: the caller promises a readable struct; its first field is the u32 size.
    let size = unsafe { std::ptr::read_unaligned(ptr.cast::<u32>()) } as usize;
    if !(SETTINGS_V1_SIZE..=std::mem::size_of::<BokehSettings>()).contains(&size) {
        return Err(Failure::new(
            BokehStatus::Version,
            format!(
                "{what}: struct_size is {size}, this library accepts {SETTINGS_V1_SIZE}..={} \
                 (call bokeh_settings_init first)",
                std::mem::size_of::<BokehSettings>()
            ),
        ));
    }
    let mut settings = BokehSettings::default();
    // SAFETY: `size` bytes are readable at `ptr` and fit in `settings`; every bit pattern is a
    // valid value for the plain integer/float fields.
    unsafe {
        std::ptr::copy_nonoverlapping(ptr.cast::<u8>(), (&mut settings as *mut BokehSettings).cast::<u8>(), size)
    };
    settings.struct_size = std::mem::size_of::<BokehSettings>() as u32;
    Ok(settings)
}

/// Library options for `settings`, keeping the background of `previous`.
fn options_for(settings: &BokehSettings, previous: Option<&Options>) -> FfiResult<Options> {
    let mode = match settings.mode {
        BOKEH_MODE_BLUR => Mode::Blur,
        BOKEH_MODE_REPLACE => Mode::Replace,
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
        .with_focus_falloff((falloff > 0.0).then_some(falloff));
    options.background = previous.and_then(|o| o.background.clone());
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
// Processor

impl Processor {
    fn new(segmenter: &Segmenter, settings: BokehSettings) -> FfiResult<Self> {
        let options = options_for(&settings, None)?;
        let pipeline =
            Pipeline::new(segmenter, options).map_err(|e| Failure::from_error("creating the pipeline", e))?;
        let mut processor = Processor {
            pipeline,
            settings,
            pool: None,
            scratch: None,
            timings: BokehTimings::default(),
            has_frame: false,
        };
        processor.apply_threads()?;
        Ok(processor)
    }

    fn apply_threads(&mut self) -> FfiResult<()> {
        let wanted = self.settings.num_threads as usize;
        if self.pool.as_ref().map(|p| p.current_num_threads()) == Some(wanted) || (wanted == 0 && self.pool.is_none()) {
            return Ok(());
        }
        self.pool = if wanted == 0 {
            None
        } else {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(wanted)
                .thread_name(|i| format!("bokeh-{i}"))
                .build()
                .map_err(|e| Failure::new(BokehStatus::Internal, format!("cannot start {wanted} threads: {e}")))?;
            Some(pool)
        };
        Ok(())
    }

    fn set_settings(&mut self, settings: BokehSettings) -> FfiResult<()> {
        let options = options_for(&settings, Some(self.pipeline.options()))?;
        self.pipeline.set_options(options).map_err(|e| Failure::from_error("settings", e))?;
        self.settings = settings;
        self.apply_threads()
    }

    fn run<T>(&mut self, f: impl FnOnce(&mut Self) -> T + Send) -> T
    where
        T: Send,
    {
        match self.pool.take() {
            Some(pool) => {
                let result = pool.install(|| f(self));
                self.pool = Some(pool);
                result
            }
            None => f(self),
        }
    }

    /// The scratch frame, sized and formatted for this input.
    fn scratch(&mut self, width: u32, height: u32, format: PixelFormat) -> FfiResult<&mut Frame> {
        let fits =
            self.scratch.as_ref().is_some_and(|f| (f.width(), f.height(), f.format()) == (width, height, format));
        if !fits {
            self.scratch = None;
            self.scratch = Some(Frame::new(width, height, format).map_err(frame_error("scratch frame"))?);
        }
        self.scratch.as_mut().ok_or_else(|| Failure::new(BokehStatus::Internal, "scratch frame missing"))
    }

    /// # Safety
    /// As for `bokeh_processor_process`.
    unsafe fn process(&mut self, input: &BokehFrame, output: &BokehFrame) -> FfiResult<()> {
        let start = Instant::now();
        let out_format = output_format(output, "output")?;
        let mode = self.pipeline.options().mode;
        let keeps_format = matches!(mode, Mode::Blur | Mode::Replace);
        let required = match mode {
            Mode::Cutout => Some((PixelFormat::Rgba8, "BOKEH_MODE_CUTOUT writes RGBA")),
            Mode::Mask => Some((PixelFormat::Gray8, "BOKEH_MODE_MASK writes GRAY")),
            _ => None,
        };
        if let Some((format, why)) = required.filter(|(format, _)| *format != out_format) {
            return Err(Failure::new(
                BokehStatus::UnsupportedFormat,
                format!("output is {out_format:?}, expected {format:?}: {why}"),
            ));
        }
        if (input.width, input.height) != (output.width, output.height) {
            return Err(Failure::new(
                BokehStatus::SizeMismatch,
                format!("output is {}x{}, the input is {}x{}", output.width, output.height, input.width, input.height),
            ));
        }
        // SAFETY: the input planes are readable per the caller's contract. When input and
        // output overlap, the view is copied to `scratch` and not used after the output is
        // viewed mutably.
        let view = unsafe { input_view(input, "input")? };
        let t0 = Instant::now();
        let in_place = overlaps(input, output);
        let copied = match view {
            Input::Packed(f) if keeps_format && f.format() != out_format => {
                return Err(Failure::new(
                    BokehStatus::UnsupportedFormat,
                    format!(
                        "input is {:?} and output {out_format:?}: in blur and replace modes the output has the \
                         input's format",
                        f.format()
                    ),
                ))
            }
            Input::Packed(f) if in_place => {
                self.scratch(f.width(), f.height(), f.format())?.copy_from(f);
                true
            }
            Input::Packed(_) => false,
            Input::Yuv(y) => {
                // Convert straight into the output's order where the pipeline keeps the format.
                let format = if keeps_format { out_format } else { PixelFormat::Rgb8 };
                y.to_rgb_into(&mut self.scratch(y.width(), y.height(), format)?.as_mut())
                    .map_err(frame_error("input"))?;
                true
            }
        };
        let convert = t0.elapsed();
        // SAFETY: writable per the contract; if it overlaps the input, the input was copied.
        let mut out = unsafe { output_view(output, "output")? };
        let result = match (copied, view) {
            (false, Input::Packed(frame)) => self.run(|p| p.pipeline.process_into(frame, &mut out)),
            _ => {
                let scratch = self.scratch.take().ok_or_else(|| Failure::new(BokehStatus::Internal, "no scratch"))?;
                let result = self.run(|p| p.pipeline.process_into(scratch.as_ref(), &mut out));
                self.scratch = Some(scratch);
                result
            }
        };
        result.map_err(|e| Failure::from_error("processing", e))?;
        let t = self.pipeline.timings();
        self.timings = BokehTimings {
            convert_ms: ms(convert),
            preprocess_ms: ms(t.preprocess),
            inference_ms: ms(t.inference),
            upsample_ms: ms(t.upsample),
            blur_ms: ms(t.blur),
            composite_ms: ms(t.composite),
            total_ms: ms(start.elapsed()),
        };
        self.has_frame = true;
        Ok(())
    }
}

/// Borrows a processor's state without blocking.
fn lock<'a>(processor: *const BokehProcessor) -> FfiResult<std::sync::MutexGuard<'a, Processor>> {
    // SAFETY: non-null handles come from `bokeh_processor_create*` and stay valid until
    // `bokeh_processor_destroy`, per the API contract.
    let handle = unsafe { processor.as_ref::<'a>() }.ok_or_else(|| Failure::null("processor"))?;
    match handle.inner.try_lock() {
        Ok(guard) => Ok(guard),
        // A panic inside an earlier call was reported then; the state holds only buffers that
        // are rebuilt as needed, so the processor stays usable.
        Err(TryLockError::Poisoned(poisoned)) => Ok(poisoned.into_inner()),
        Err(TryLockError::WouldBlock) => Err(Failure::new(
            BokehStatus::Busy,
            "processor is in use by another thread (one call at a time per processor)",
        )),
    }
}

fn create(
    segmenter: impl FnOnce() -> FfiResult<Segmenter>,
    settings: *const BokehSettings,
    out: *mut *mut BokehProcessor,
) -> FfiResult<()> {
    if out.is_null() {
        return Err(Failure::null("out (the address for the new processor)"));
    }
    // SAFETY: `out` is non-null and writable per the contract; cleared first so that every
    // failure leaves NULL behind.
    unsafe { out.write(std::ptr::null_mut()) };
    // SAFETY: NULL or a readable settings struct, per the contract.
    let settings = unsafe { read_settings(settings, "settings")? };
    let processor = Processor::new(&segmenter()?, settings)?;
    let handle = Box::new(BokehProcessor { inner: Mutex::new(processor) });
    // SAFETY: as above.
    unsafe { out.write(Box::into_raw(handle)) };
    Ok(())
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
/// input and output ("mediapipe", "mediapipe-landscape", "modnet", or "key=value,…" as the CLI's
/// `--model-spec`); NULL means "mediapipe".
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
            // SAFETY: as documented.
            let spec = unsafe { spec_from(model_spec)? };
            Segmenter::from_onnx_path(path, spec).map_err(|e| Failure::from_error(path, e))
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
            Segmenter::from_onnx_bytes(bytes, spec).map_err(|e| Failure::from_error("model from memory", e))
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
    let _ = guard(|| {
        // SAFETY: readable and writable per the contract when non-null.
        if let Some(slot) = unsafe { processor.as_mut() } {
            let handle = std::mem::replace(slot, std::ptr::null_mut());
            if !handle.is_null() {
                // SAFETY: made by `Box::into_raw` in `create` and not freed yet.
                drop(unsafe { Box::from_raw(handle) });
            }
        }
        Ok(())
    });
}

/// Replaces the processor's settings (between frames). On error the old settings stay.
///
/// # Safety
/// `processor` must be a live handle or NULL; `settings` NULL or a readable `bokeh_settings`.
#[no_mangle]
pub unsafe extern "C" fn bokeh_processor_set_settings(
    processor: *mut BokehProcessor,
    settings: *const BokehSettings,
) -> BokehStatus {
    guard(|| {
        if settings.is_null() {
            return Err(Failure::null("settings"));
        }
        let mut p = lock(processor)?;
        // SAFETY: readable per the contract.
        let settings = unsafe { read_settings(settings, "settings")? };
        p.set_settings(settings)
    })
}

/// Forgets the temporal smoothing's past (after a scene cut or a camera switch): the next
/// frame's mask is taken as the model gives it.
///
/// # Safety
/// `processor` must be a live handle or NULL.
#[no_mangle]
pub unsafe extern "C" fn bokeh_processor_reset(processor: *mut BokehProcessor) -> BokehStatus {
    guard(|| {
        lock(processor)?.pipeline.reset_temporal();
        Ok(())
    })
}

/// Copies the processor's settings into `*settings`, whose `struct_size` the caller sets
/// (e.g. with `bokeh_settings_init`); only that many bytes are written.
///
/// # Safety
/// `processor` must be a live handle or NULL; `settings` NULL or a writable `bokeh_settings`
/// of `struct_size` bytes.
#[no_mangle]
pub unsafe extern "C" fn bokeh_processor_get_settings(
    processor: *mut BokehProcessor,
    settings: *mut BokehSettings,
) -> BokehStatus {
    guard(|| {
        if settings.is_null() {
            return Err(Failure::null("settings"));
        }
        let p = lock(processor)?;
        // SAFETY: validates the caller's size; readable per the contract.
        unsafe { read_settings(settings, "settings")? };
        // SAFETY: the size was just checked to be one this library knows.
        let size = unsafe { std::ptr::read_unaligned(settings.cast::<u32>()) } as usize;
        let mut current = p.settings;
        current.struct_size = size as u32;
        // SAFETY: `size` bytes are writable at `settings` per the contract.
        unsafe {
            std::ptr::copy_nonoverlapping((&current as *const BokehSettings).cast::<u8>(), settings.cast(), size)
        };
        Ok(())
    })
}

/// Sets the background for `BOKEH_MODE_REPLACE` (any size and input format; the library copies
/// it and scales it to cover each frame). NULL removes it.
///
/// # Safety
/// `processor` must be a live handle or NULL; `background` NULL or a frame whose planes are
/// readable as it describes.
#[no_mangle]
pub unsafe extern "C" fn bokeh_processor_set_background(
    processor: *mut BokehProcessor,
    background: *const BokehFrame,
) -> BokehStatus {
    guard(|| {
        let mut p = lock(processor)?;
        let mut options = p.pipeline.options().clone();
        // SAFETY: readable per the contract when non-null.
        options.background = match unsafe { background.as_ref() } {
            None => None,
            Some(frame) => {
                // SAFETY: as documented.
                let copy = match unsafe { input_view(frame, "background")? } {
                    Input::Packed(f) => Frame::from_ref(f),
                    Input::Yuv(y) => y.to_frame(PixelFormat::Rgb8).map_err(frame_error("background"))?,
                };
                Some(Arc::new(copy))
            }
        };
        if options.mode == Mode::Replace && options.background.is_none() {
            return Err(Failure::new(
                BokehStatus::InvalidArgument,
                "background: cannot remove the background while in BOKEH_MODE_REPLACE",
            ));
        }
        p.pipeline.set_options(options).map_err(|e| Failure::from_error("background", e))
    })
}

/// Processes one frame: `input` in any format, `output` the same width and height in the format
/// the mode writes (blur/replace: RGB, RGBA or BGRA; cutout: RGBA; mask: GRAY). For packed RGB
/// input in blur/replace modes the output must have the input's format. `output` may be the
/// same memory as `input` (in-place processing, one extra copy). On error the output's content
/// is unspecified but no byte outside its declared planes is touched.
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
        let mut p = lock(processor)?;
        // SAFETY: readable per the contract when non-null.
        let input = unsafe { input.as_ref() }.ok_or_else(|| Failure::null("input"))?;
        // SAFETY: as above.
        let output = unsafe { output.as_ref() }.ok_or_else(|| Failure::null("output"))?;
        // SAFETY: forwarded contract.
        unsafe { p.process(input, output) }
    })
}

/// Writes the soft person mask of the last processed frame (255 = person) into `mask`, a GRAY
/// frame of that frame's size.
///
/// # Safety
/// `processor` must be a live handle or NULL; `mask` NULL or a frame whose plane 0 is writable
/// for its declared size.
#[no_mangle]
pub unsafe extern "C" fn bokeh_processor_get_mask(
    processor: *mut BokehProcessor,
    mask: *const BokehFrame,
) -> BokehStatus {
    guard(|| {
        let mut p = lock(processor)?;
        // SAFETY: readable per the contract when non-null.
        let mask = unsafe { mask.as_ref() }.ok_or_else(|| Failure::null("mask"))?;
        if !p.has_frame {
            return Err(Failure::new(BokehStatus::NotReady, "no frame has been processed yet"));
        }
        // SAFETY: forwarded contract.
        let mut out = unsafe { output_view(mask, "mask")? };
        let soft = p.pipeline.mask();
        if out.format() != PixelFormat::Gray8 {
            return Err(Failure::new(BokehStatus::UnsupportedFormat, "mask: must be BOKEH_FORMAT_GRAY"));
        }
        if (out.width(), out.height()) != (soft.width(), soft.height()) {
            return Err(Failure::new(
                BokehStatus::SizeMismatch,
                format!(
                    "mask is {}x{}, the last frame was {}x{}",
                    out.width(),
                    out.height(),
                    soft.width(),
                    soft.height()
                ),
            ));
        }
        let grey = soft.to_gray8();
        out.copy_from(grey.as_ref()).map_err(frame_error("mask"))
    })
}

/// Stage times of the last processed frame, in milliseconds.
///
/// # Safety
/// `processor` must be a live handle or NULL; `timings` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn bokeh_processor_get_timings(
    processor: *mut BokehProcessor,
    timings: *mut BokehTimings,
) -> BokehStatus {
    guard(|| {
        let p = lock(processor)?;
        // SAFETY: writable per the contract when non-null.
        let slot = unsafe { timings.as_mut() }.ok_or_else(|| Failure::null("timings"))?;
        *slot = p.timings;
        Ok(())
    })
}

#[cfg(test)]
mod tests;
