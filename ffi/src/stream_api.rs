//! `bokeh_stream_*`: the pipelined stream ([`bokeh::Stream`]) for camera previews.
//!
//! A stream runs the model on the frame just pushed on a thread of its own while the caller's
//! thread finishes the previous frame, so a frame costs the larger of the two halves instead of
//! their sum; each push writes out the frame pushed before it (one frame of latency,
//! [`bokeh_stream_latency_frames`]), and [`bokeh_stream_finish`] drains the last one. The
//! settings, background, reset and timings calls behave as the processor's (never `BUSY`,
//! applied at the next push); the crop tracking and temporal smoothing of `temporal = 1` run
//! inside the stream as in a processor.

use super::*;

/// Creates a stream with the embedded model (see `bokeh_processor_create`). `settings` may be
/// NULL for the defaults; streams are for video, so the defaults here have `temporal = 1`.
/// `num_threads` is ignored: a stream's pixel work has a pool of one thread fewer than the
/// cores, the model the remaining one.
///
/// # Safety
/// `settings` must be NULL or a readable `bokeh_settings`; `out` must be writable.
#[no_mangle]
pub unsafe extern "C" fn bokeh_stream_create(
    settings: *const BokehSettings,
    out: *mut *mut BokehStream,
) -> BokehStatus {
    guard(|| {
        let defaults = BokehSettings { temporal: 1, ..BokehSettings::default() };
        let settings = if settings.is_null() { &defaults as *const BokehSettings } else { settings };
        create_handle(
            |mut settings| {
                settings.num_threads = 0;
                let segmenter = Segmenter::new().map_err(|e| Failure::from_error("embedded model", e))?;
                Handle::new(settings, |options| Stream::new(&segmenter, options)).map(BokehStream)
            },
            settings,
            out,
        )
    })
}

/// Destroys the stream `*stream` (a frame still in flight is dropped) and sets `*stream` to
/// NULL. NULL or a NULL handle is a no-op. No other thread may be using the stream.
///
/// # Safety
/// `stream` must be NULL or point to NULL or to a handle from `bokeh_stream_create` that was
/// not destroyed.
#[no_mangle]
pub unsafe extern "C" fn bokeh_stream_destroy(stream: *mut *mut BokehStream) {
    let _ = guard(|| {
        // SAFETY: forwarded contract.
        unsafe { destroy_handle(stream) };
        Ok(())
    });
}

/// Frames between a push and its output: 1 (the model works one frame ahead).
///
/// # Safety
/// `stream` must be a live handle or NULL (NULL gives 0).
#[no_mangle]
pub unsafe extern "C" fn bokeh_stream_latency_frames(stream: *const BokehStream) -> u32 {
    // Not BUSY-prone: a constant of the stream.
    match self::stream(stream) {
        Ok(_) => 1,
        Err(_) => 0,
    }
}

/// Pushes `input` and, when a previous frame is in flight, writes that frame's result into
/// `output` and sets `*written` to 1 (0 after the first push, when there is nothing to write
/// yet). `output` has the previous frame's size (turned upright with `upright_output`) and the
/// format the mode writes, as for `bokeh_processor_process`. The input is copied (or converted)
/// into the stream before `output` is written, so the caller's input buffer is free again when
/// the call returns and may be the output's memory.
///
/// # Safety
/// `stream` must be a live handle or NULL; `input`, `output` as for `bokeh_processor_process`;
/// `written` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn bokeh_stream_push(
    stream: *mut BokehStream,
    input: *const BokehFrame,
    output: *const BokehFrame,
    written: *mut u32,
) -> BokehStatus {
    guard(|| {
        let handle = self::stream(stream)?;
        // SAFETY: readable per the contract when non-null.
        let input = unsafe { input.as_ref() }.ok_or_else(|| Failure::null("input"))?;
        // SAFETY: as above.
        let output = unsafe { output.as_ref() }.ok_or_else(|| Failure::null("output"))?;
        if written.is_null() {
            return Err(Failure::null("written"));
        }
        // SAFETY: forwarded contract.
        let wrote = handle.frame_call(|slot| unsafe { run_frame(slot, input, output, false) })?;
        // SAFETY: non-null and writable per the contract.
        unsafe { written.write(u32::from(wrote)) };
        Ok(())
    })
}

/// Writes the result of the frame still in flight into `output` (its size and the mode's
/// format) and sets `*written` to 1; 0 when nothing was in flight. Call it at the end of a
/// recording or before `bokeh_stream_prepare`.
///
/// # Safety
/// `stream` must be a live handle or NULL; `output` NULL or a frame whose plane 0 is writable
/// for its declared size; `written` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn bokeh_stream_finish(
    stream: *mut BokehStream,
    output: *const BokehFrame,
    written: *mut u32,
) -> BokehStatus {
    guard(|| {
        let handle = self::stream(stream)?;
        // SAFETY: readable per the contract when non-null.
        let output = unsafe { output.as_ref() }.ok_or_else(|| Failure::null("output"))?;
        if written.is_null() {
            return Err(Failure::null("written"));
        }
        let wrote = handle.frame_call(|slot| {
            // SAFETY: writable per the contract.
            let mut out = unsafe { output_view(output, "output")? };
            let start = Instant::now();
            let wrote = slot.engine.finish(&mut out).map_err(|e| Failure::from_error("finishing", e))?;
            if wrote {
                slot.has_frame = true;
            }
            let timings = wrote.then(|| timings_of(*slot.engine.timings(), Duration::ZERO, start.elapsed()));
            Ok((wrote, timings))
        })?;
        // SAFETY: non-null and writable per the contract.
        unsafe { written.write(u32::from(wrote)) };
        Ok(())
    })
}

/// Readies the stream for frames of `width` × `height` in `format` (see
/// `bokeh_processor_prepare`): plans compiled, one black frame through both threads, forgotten.
/// Nothing may be in flight (call `bokeh_stream_finish` first).
///
/// # Safety
/// `stream` must be a live handle or NULL.
#[no_mangle]
pub unsafe extern "C" fn bokeh_stream_prepare(
    stream: *mut BokehStream,
    width: u32,
    height: u32,
    format: BokehPixelFormat,
) -> BokehStatus {
    guard(|| self::stream(stream)?.prepare(width, height, format))
}

/// As `bokeh_processor_set_settings`, for a stream (applied from the next push; never `BUSY`).
///
/// # Safety
/// `stream` must be a live handle or NULL; `settings` NULL or a readable `bokeh_settings`.
#[no_mangle]
pub unsafe extern "C" fn bokeh_stream_set_settings(
    stream: *mut BokehStream,
    settings: *const BokehSettings,
) -> BokehStatus {
    // SAFETY: forwarded contract.
    guard(|| unsafe { self::stream(stream)?.set_settings_from(settings) })
}

/// As `bokeh_processor_get_settings`, for a stream.
///
/// # Safety
/// `stream` must be a live handle or NULL; `settings` NULL or a writable `bokeh_settings` of
/// `struct_size` bytes.
#[no_mangle]
pub unsafe extern "C" fn bokeh_stream_get_settings(
    stream: *mut BokehStream,
    settings: *mut BokehSettings,
) -> BokehStatus {
    // SAFETY: forwarded contract.
    guard(|| unsafe { self::stream(stream)?.get_settings_into(settings) })
}

/// As `bokeh_processor_set_background`, for a stream.
///
/// # Safety
/// `stream` must be a live handle or NULL; `background` NULL or a frame whose planes are
/// readable as it describes.
#[no_mangle]
pub unsafe extern "C" fn bokeh_stream_set_background(
    stream: *mut BokehStream,
    background: *const BokehFrame,
) -> BokehStatus {
    // SAFETY: forwarded contract.
    guard(|| unsafe { self::stream(stream)?.set_background_from(background) })
}

/// Forgets the past (temporal smoothing, tracked people) from the next push on: after a cut or
/// a camera switch. Never `BUSY`.
///
/// # Safety
/// `stream` must be a live handle or NULL.
#[no_mangle]
pub unsafe extern "C" fn bokeh_stream_reset(stream: *mut BokehStream) -> BokehStatus {
    guard(|| self::stream(stream).map(Handle::request_reset))
}

/// Stage times of the last output frame (preprocess and inference as the model's thread
/// measured them; `total_ms` is the push call). `BOKEH_STATUS_NOT_READY` before the first
/// output. Never `BUSY`.
///
/// # Safety
/// `stream` must be a live handle or NULL; `timings` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn bokeh_stream_get_timings(stream: *mut BokehStream, timings: *mut BokehTimings) -> BokehStatus {
    // SAFETY: forwarded contract.
    guard(|| unsafe { self::stream(stream)?.timings_into(timings, "no frame has been output yet") })
}

/// Writes the soft person mask of the last output frame (255 = person, as the input is stored)
/// into `mask`, a GRAY frame of that frame's size. `BUSY` while another thread pushes.
///
/// # Safety
/// `stream` must be a live handle or NULL; `mask` NULL or a frame whose plane 0 is writable for
/// its declared size.
#[no_mangle]
pub unsafe extern "C" fn bokeh_stream_get_mask(stream: *mut BokehStream, mask: *const BokehFrame) -> BokehStatus {
    // SAFETY: forwarded contract.
    guard(|| unsafe { self::stream(stream)?.mask_into(mask) })
}
