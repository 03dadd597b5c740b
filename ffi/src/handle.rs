//! The state behind a C handle, shared by `bokeh_processor` and `bokeh_stream`.
//!
//! A handle has two locks with different rules:
//! - **`shared`** holds what a UI thread reads and writes — the settings last set, the
//!   replacement background, a pending reset, the last frame's timings. It is locked only to copy
//!   a few fields in or out (never across a frame), so `set_settings`, `get_settings`,
//!   `set_background`, `reset` and `get_timings` never return `BUSY` and never wait for a frame.
//! - **`inner`** holds the engine (a [`Pipeline`] or a [`Stream`]) and its buffers. Frame calls
//!   only *try* it: a second thread pushing frames into a busy handle gets `BUSY` at once.
//!
//! Settings travel from one to the other by version: each change bumps `Shared::version`; at the
//! start of the next frame the engine applies the newest settings it has not seen ([`Slot::sync`]).
//! They are validated when set, so the caller hears about a bad value from the call that made it;
//! what can only fail when applied (threads, a GPU) fails that frame, and the settings the
//! engine keeps become the visible ones again.
//!
//! **Threads**: all of a handle's pixel work runs in a [`WorkerPool`] — by default one shared by
//! every handle ([`shared_pool`]), made with the first handle and joined when the last one is
//! destroyed; with `num_threads` a pool of the handle's own. rayon's global pool is never
//! started, so once the app has destroyed its handles no bokeh thread is left running.

use std::sync::{Arc, Mutex, MutexGuard, TryLockError, Weak};

use bokeh::{
    Frame, FrameMut, FrameRef, Mask, Options, Pipeline, PixelFormat, StageTimings, Stream, WorkerPool, YuvFrameRef,
};

use crate::{frame_error, options_for, BokehSettings, BokehStatus, BokehTimings, Failure, FfiResult};

/// What the engines have in common for the C API.
pub(crate) trait Engine: Send + Sized {
    fn options(&self) -> &Options;
    fn set_options(&mut self, options: Options) -> bokeh::Result<()>;
    fn reset(&mut self);
    fn timings(&self) -> StageTimings;
    fn mask(&mut self) -> &Mask;
    fn prepare(&mut self, width: u32, height: u32, format: PixelFormat) -> bokeh::Result<()>;
    /// Processes (or, for a stream, submits) one input and writes an output frame into `out`;
    /// `false` when there was none to write yet (a stream's first frame). `scratch` is the
    /// handle's conversion buffer; `convert` gets the time spent converting a camera frame
    /// (a stream converts inside its push, counted in the call's total only).
    fn submit(
        &mut self,
        input: Source<'_>,
        scratch: &mut Option<Frame>,
        out: &mut FrameMut<'_>,
        convert: &mut std::time::Duration,
    ) -> bokeh::Result<bool>;
}

/// An input on its way into an engine.
pub(crate) enum Source<'a> {
    Packed(FrameRef<'a>),
    /// A camera frame, to be converted into this packed format.
    Yuv(YuvFrameRef<'a>, PixelFormat),
}

impl Engine for Pipeline {
    fn options(&self) -> &Options {
        Pipeline::options(self)
    }
    fn set_options(&mut self, options: Options) -> bokeh::Result<()> {
        Pipeline::set_options(self, options)
    }
    fn reset(&mut self) {
        self.reset_temporal();
    }
    fn timings(&self) -> StageTimings {
        *Pipeline::timings(self)
    }
    fn mask(&mut self) -> &Mask {
        Pipeline::mask(self)
    }
    fn prepare(&mut self, width: u32, height: u32, format: PixelFormat) -> bokeh::Result<()> {
        Pipeline::prepare(self, width, height, format)
    }
    fn submit(
        &mut self,
        input: Source<'_>,
        scratch: &mut Option<Frame>,
        out: &mut FrameMut<'_>,
        convert: &mut std::time::Duration,
    ) -> bokeh::Result<bool> {
        match input {
            Source::Packed(frame) => self.process_into(frame, out)?,
            Source::Yuv(yuv, format) => {
                let t = std::time::Instant::now();
                let frame = Frame::reuse(scratch, yuv.width(), yuv.height(), format)?;
                yuv.to_rgb_into(&mut frame.as_mut())?;
                *convert += t.elapsed();
                self.process_into(frame.as_ref(), out)?
            }
        }
        Ok(true)
    }
}

impl Engine for Stream {
    fn options(&self) -> &Options {
        Stream::options(self)
    }
    fn set_options(&mut self, options: Options) -> bokeh::Result<()> {
        Stream::set_options(self, options)
    }
    fn reset(&mut self) {
        self.reset_temporal();
    }
    fn timings(&self) -> StageTimings {
        *Stream::timings(self)
    }
    fn mask(&mut self) -> &Mask {
        Stream::mask(self)
    }
    fn prepare(&mut self, width: u32, height: u32, format: PixelFormat) -> bokeh::Result<()> {
        Stream::prepare(self, width, height, format)
    }
    fn submit(
        &mut self,
        input: Source<'_>,
        _: &mut Option<Frame>,
        out: &mut FrameMut<'_>,
        _: &mut std::time::Duration,
    ) -> bokeh::Result<bool> {
        // The stream copies (or converts) the input into a buffer of its own first.
        match input {
            Source::Packed(frame) => self.push(frame, out),
            Source::Yuv(yuv, format) => self.push_yuv(yuv, format, out),
        }
    }
}

/// The pool handles share by default: made with the first handle that needs it, sized to the
/// cores, joined when the last handle using it is destroyed.
pub(crate) fn shared_pool() -> FfiResult<Arc<WorkerPool>> {
    static SHARED: Mutex<Weak<WorkerPool>> = Mutex::new(Weak::new());
    let mut shared = SHARED.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(pool) = shared.upgrade() {
        return Ok(pool);
    }
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let pool = Arc::new(
        WorkerPool::new(cores, |i| format!("bokeh-{i}")).map_err(|e| Failure::from_error("starting threads", e))?,
    );
    *shared = Arc::downgrade(&pool);
    Ok(pool)
}

/// The pool for `num_threads`: 0 the shared one, N a new one of N threads.
fn pool_for(num_threads: u32) -> FfiResult<Arc<WorkerPool>> {
    match num_threads {
        0 => shared_pool(),
        n => WorkerPool::new(n as usize, |i| format!("bokeh-own-{i}"))
            .map(Arc::new)
            .map_err(|e| Failure::new(BokehStatus::Internal, format!("cannot start {n} threads: {e}"))),
    }
}

/// What the UI thread sees (see the module documentation).
#[derive(Debug)]
pub(crate) struct Shared {
    /// The settings last set (what `get_settings` returns).
    pub(crate) settings: BokehSettings,
    /// The replacement background last set.
    pub(crate) background: Option<Arc<Frame>>,
    /// Bumped by every change of `settings` or `background`.
    pub(crate) version: u64,
    /// Forget the past before the next frame.
    pub(crate) reset: bool,
    /// The last frame's stage times; `None` before the first frame.
    pub(crate) timings: Option<BokehTimings>,
}

/// The engine side of a handle.
pub(crate) struct Slot<E> {
    pub(crate) engine: E,
    /// The settings the engine runs with (`mode` may say replace while the engine blurs, until
    /// a background is set).
    pub(crate) settings: BokehSettings,
    pub(crate) has_background: bool,
    /// `Shared::version` the engine last took.
    applied: u64,
    /// Where the engine's work runs: the shared pool, or the handle's own.
    pool: Arc<WorkerPool>,
    /// Converted or copied input, reused from frame to frame.
    pub(crate) scratch: Option<Frame>,
    pub(crate) has_frame: bool,
}

/// A C handle: the shared half and the engine half.
pub(crate) struct Handle<E> {
    shared: Mutex<Shared>,
    inner: Mutex<Slot<E>>,
}

impl<E: Engine> Handle<E> {
    /// A handle over the engine `make` makes with the options of `settings`, inside the pool
    /// the settings ask for.
    pub(crate) fn new(
        settings: BokehSettings,
        make: impl FnOnce(Options) -> bokeh::Result<E> + Send,
    ) -> FfiResult<Self> {
        let options = options_for(&settings, None)?;
        let pool = pool_for(settings.num_threads)?;
        let engine = pool.install(|| make(options)).map_err(|e| Failure::from_error("creating", e))?;
        let slot = Slot { engine, settings, has_background: false, applied: 0, pool, scratch: None, has_frame: false };
        let shared = Shared { settings, background: None, version: 0, reset: false, timings: None };
        Ok(Handle { shared: Mutex::new(shared), inner: Mutex::new(slot) })
    }

    /// The shared half: locked briefly, never across a frame, so this waits at most for a copy.
    pub(crate) fn shared(&self) -> MutexGuard<'_, Shared> {
        // Nothing panics while it is held (plain copies), but a poisoned lock still holds
        // consistent plain data.
        self.shared.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The engine half, without blocking: `BUSY` while another thread is inside a frame call.
    pub(crate) fn engine(&self) -> FfiResult<MutexGuard<'_, Slot<E>>> {
        match self.inner.try_lock() {
            Ok(guard) => Ok(guard),
            // A panic inside an earlier call was reported then; the state holds only buffers
            // that are rebuilt as needed, so the handle stays usable.
            Err(TryLockError::Poisoned(poisoned)) => Ok(poisoned.into_inner()),
            Err(TryLockError::WouldBlock) => Err(Failure::new(
                BokehStatus::Busy,
                "in use by another thread (one frame call at a time; settings and timings calls never wait)",
            )),
        }
    }

    /// `set_settings` of either handle: `ptr` read, checked and stored for the next frame.
    ///
    /// # Safety
    /// `ptr` must be NULL or readable for its `struct_size` bytes.
    pub(crate) unsafe fn set_settings_from(&self, ptr: *const BokehSettings) -> FfiResult<()> {
        if ptr.is_null() {
            return Err(Failure::null("settings"));
        }
        // SAFETY: forwarded contract.
        self.set_settings(unsafe { crate::read_settings(ptr, "settings")? })
    }

    /// `get_settings` of either handle: the settings last set, into the caller's struct.
    ///
    /// # Safety
    /// `out` must be NULL or writable for its `struct_size` bytes.
    pub(crate) unsafe fn get_settings_into(&self, out: *mut BokehSettings) -> FfiResult<()> {
        let current = self.shared().settings;
        if out.is_null() {
            return Err(Failure::null("settings"));
        }
        // SAFETY: forwarded contract.
        unsafe { crate::write_settings(current, out) }
    }

    /// `set_background` of either handle: the caller's frame copied, used from the next frame.
    ///
    /// # Safety
    /// `background` must be NULL or a frame whose planes are readable as it describes.
    pub(crate) unsafe fn set_background_from(&self, background: *const crate::BokehFrame) -> FfiResult<()> {
        // SAFETY: forwarded contract.
        self.set_background(unsafe { crate::background_copy(background)? })
    }

    /// `reset` of either handle: the past is forgotten at the next frame.
    pub(crate) fn request_reset(&self) {
        self.shared().reset = true;
    }

    /// `get_timings` of either handle: the last frame's snapshot, `NOT_READY` (saying
    /// `before_first`) before there is one.
    ///
    /// # Safety
    /// `out` must be NULL or writable.
    pub(crate) unsafe fn timings_into(&self, out: *mut BokehTimings, before_first: &str) -> FfiResult<()> {
        let snapshot = self.shared().timings;
        // SAFETY: writable per the contract when non-null.
        let slot = unsafe { out.as_mut() }.ok_or_else(|| Failure::null("timings"))?;
        *slot = snapshot.ok_or_else(|| Failure::new(BokehStatus::NotReady, before_first))?;
        Ok(())
    }

    /// `get_mask` of either handle: the engine's mask of the last frame into the caller's GRAY
    /// frame (a frame call: `BUSY` while another thread is inside one).
    ///
    /// # Safety
    /// `mask` must be NULL or a frame whose plane 0 is writable for its declared size.
    pub(crate) unsafe fn mask_into(&self, mask: *const crate::BokehFrame) -> FfiResult<()> {
        // SAFETY: readable per the contract when non-null.
        let mask = unsafe { mask.as_ref() }.ok_or_else(|| Failure::null("mask"))?;
        let mut slot = self.engine()?;
        // SAFETY: forwarded contract.
        let mut out = unsafe { crate::output_view(mask, "mask")? };
        slot.run(|s| s.write_mask(&mut out))
    }

    /// Validates `settings` and stores them for the next frame.
    pub(crate) fn set_settings(&self, settings: BokehSettings) -> FfiResult<()> {
        let mut shared = self.shared();
        options_for(&settings, shared.background.clone())?;
        shared.settings = settings;
        shared.version += 1;
        Ok(())
    }

    /// Stores the replacement background for the next frame (`None` removes it).
    pub(crate) fn set_background(&self, background: Option<Arc<Frame>>) -> FfiResult<()> {
        let mut shared = self.shared();
        if shared.settings.mode == crate::BOKEH_MODE_REPLACE && background.is_none() {
            return Err(Failure::new(
                BokehStatus::InvalidArgument,
                "background: cannot remove the background while in BOKEH_MODE_REPLACE",
            ));
        }
        shared.background = background;
        shared.version += 1;
        Ok(())
    }

    /// Takes the settings, background and reset the engine has not seen yet, applies them, and
    /// runs `frame` with the engine; then records the timings for the UI thread.
    pub(crate) fn frame_call<T>(
        &self,
        frame: impl FnOnce(&mut Slot<E>) -> FfiResult<(T, Option<BokehTimings>)>,
    ) -> FfiResult<T> {
        let mut slot = self.engine()?;
        self.sync(&mut slot)?;
        let (value, timings) = frame(&mut slot)?;
        if let Some(t) = timings {
            self.shared().timings = Some(t);
        }
        Ok(value)
    }

    /// The prepare call of either handle: the size and format checked, then the engine readied.
    pub(crate) fn prepare(&self, width: u32, height: u32, format: crate::BokehPixelFormat) -> FfiResult<()> {
        let format = crate::prepare_args(width, height, format)?;
        self.frame_call(|slot| {
            let result = slot.run(|s| s.engine.prepare(width, height, format));
            result.map(|()| ((), None)).map_err(|e| Failure::from_error("prepare", e))
        })
    }

    /// Brings the engine up to the shared settings (see the module documentation).
    fn sync(&self, slot: &mut Slot<E>) -> FfiResult<()> {
        let (pending, reset) = {
            let mut shared = self.shared();
            let reset = std::mem::take(&mut shared.reset);
            let pending =
                (shared.version != slot.applied).then(|| (shared.settings, shared.background.clone(), shared.version));
            (pending, reset)
        };
        if reset {
            slot.engine.reset();
        }
        let Some((settings, background, version)) = pending else { return Ok(()) };
        slot.applied = version;
        if let Err(failure) = slot.apply(settings, background) {
            let mut shared = self.shared();
            if shared.version == version {
                shared.settings = slot.settings;
            }
            return Err(Failure::new(failure.status, format!("applying the new settings: {}", failure.message)));
        }
        Ok(())
    }
}

impl<E: Engine> Slot<E> {
    fn apply(&mut self, settings: BokehSettings, background: Option<Arc<Frame>>) -> FfiResult<()> {
        let has_background = background.is_some();
        let options = options_for(&settings, background)?;
        if settings.num_threads != self.settings.num_threads {
            self.pool = pool_for(settings.num_threads)?;
        }
        self.run(|s| s.engine.set_options(options)).map_err(|e| Failure::from_error("settings", e))?;
        self.settings = settings;
        self.has_background = has_background;
        Ok(())
    }

    /// Runs `f` in the handle's pool (the engine's work; the C descriptions are checked
    /// outside, as their raw pointers do not cross threads).
    pub(crate) fn run<T: Send>(&mut self, f: impl FnOnce(&mut Self) -> T + Send) -> T {
        let pool = self.pool.clone();
        pool.install(|| f(self))
    }

    /// The engine's mask of the last frame as 8-bit grey into `out`.
    pub(crate) fn write_mask(&mut self, out: &mut FrameMut<'_>) -> FfiResult<()> {
        if !self.has_frame {
            return Err(Failure::new(BokehStatus::NotReady, "no frame has been processed yet"));
        }
        if out.format() != PixelFormat::Gray8 {
            return Err(Failure::new(BokehStatus::UnsupportedFormat, "mask: must be BOKEH_FORMAT_GRAY"));
        }
        let soft = self.engine.mask();
        if (out.width(), out.height()) != (soft.width(), soft.height()) {
            return Err(Failure::new(
                BokehStatus::SizeMismatch,
                format!(
                    "mask is {}x{}, the last frame was {}x{} (as the input is stored)",
                    out.width(),
                    out.height(),
                    soft.width(),
                    soft.height()
                ),
            ));
        }
        let grey = soft.to_gray8();
        out.copy_from(grey.as_ref()).map_err(frame_error("mask"))
    }
}
