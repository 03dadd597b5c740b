//! The C API called from Rust: every error path, the panic guard, threads, and equality with
//! the Rust API. The same calls from C (static and dynamic linking, valgrind, qemu-aarch64)
//! are in `ffi/tests/c/`.

use super::*;
use std::ptr::{null, null_mut};

fn last_error() -> String {
    // SAFETY: bokeh_last_error never returns NULL and the string lives until the next call.
    unsafe { CStr::from_ptr(bokeh_last_error()) }.to_string_lossy().into_owned()
}

/// A packed frame description over `data`.
fn packed(data: &mut [u8], width: u32, height: u32, format: BokehPixelFormat, bpp: usize) -> BokehFrame {
    BokehFrame {
        width,
        height,
        format,
        color: 0,
        planes: [data.as_mut_ptr(), null_mut(), null_mut()],
        strides: [width as usize * bpp, 0, 0],
        sizes: [data.len(), 0, 0],
    }
}

/// A small picture with a bright square in the middle (a "person" for the blur to keep).
fn test_rgba(width: u32, height: u32) -> Vec<u8> {
    let mut v = Vec::with_capacity((width * height * 4) as usize);
    for y in 0..height {
        for x in 0..width {
            let centre = (x as i32 - width as i32 / 2).abs() < width as i32 / 5
                && (y as i32 - height as i32 / 2).abs() < height as i32 / 3;
            let base = if centre { 220 } else { ((x * 7 + y * 3) % 200) as u8 };
            v.extend_from_slice(&[base, base / 2, 255 - base, 255]);
        }
    }
    v
}

fn new_processor(settings: Option<&BokehSettings>) -> *mut BokehProcessor {
    let mut p = null_mut();
    let s = settings.map_or(null(), |s| s as *const _);
    // SAFETY: valid pointers.
    let status = unsafe { bokeh_processor_create(s, &mut p) };
    assert_eq!(status, BokehStatus::Ok, "{}", last_error());
    assert!(!p.is_null());
    p
}

fn destroy(mut p: *mut BokehProcessor) {
    // SAFETY: a live handle.
    unsafe { bokeh_processor_destroy(&mut p) };
    assert!(p.is_null(), "destroy nulls the handle");
}

#[test]
fn versions_and_names() {
    // SAFETY: static strings.
    let version = unsafe { CStr::from_ptr(bokeh_version()) }.to_str().expect("utf-8");
    assert_eq!(version, env!("CARGO_PKG_VERSION"));
    assert_eq!(bokeh_abi_version(), BOKEH_ABI_VERSION);
    // SAFETY: static strings.
    let name = |s: i32| unsafe { CStr::from_ptr(bokeh_status_name(s)) }.to_str().expect("utf-8").to_string();
    assert_eq!(name(BokehStatus::InvalidFrame as i32), "BOKEH_STATUS_INVALID_FRAME");
    assert_eq!(name(BokehStatus::NotReady as i32), "BOKEH_STATUS_NOT_READY");
    assert_eq!(name(-1), "unknown");
}

#[test]
fn null_pointers_are_errors_not_crashes() {
    // SAFETY: every call below is allowed to take NULL and must say so.
    unsafe {
        assert_eq!(bokeh_settings_init(null_mut()), BokehStatus::NullPointer);
        assert!(last_error().contains("settings is NULL"), "{}", last_error());
        assert_eq!(bokeh_processor_create(null(), null_mut()), BokehStatus::NullPointer);
        let mut p = null_mut();
        assert_eq!(bokeh_processor_create_from_file(null(), null(), null(), &mut p), BokehStatus::NullPointer);
        assert!(p.is_null());
        assert_eq!(bokeh_processor_create_from_memory(null(), 10, null(), null(), &mut p), BokehStatus::NullPointer);
        let frame = packed(&mut [0; 16], 2, 2, BOKEH_FORMAT_RGBA, 4);
        assert_eq!(bokeh_processor_process(null_mut(), &frame, &frame), BokehStatus::NullPointer);
        assert!(last_error().contains("processor is NULL"));
        assert_eq!(bokeh_processor_set_settings(null_mut(), null()), BokehStatus::NullPointer);
        assert_eq!(bokeh_processor_get_settings(null_mut(), null_mut()), BokehStatus::NullPointer);
        assert_eq!(bokeh_processor_set_background(null_mut(), null()), BokehStatus::NullPointer);
        assert_eq!(bokeh_processor_get_mask(null_mut(), &frame), BokehStatus::NullPointer);
        assert_eq!(bokeh_processor_get_timings(null_mut(), null_mut()), BokehStatus::NullPointer);
        bokeh_processor_destroy(null_mut());
        let mut none: *mut BokehProcessor = null_mut();
        bokeh_processor_destroy(&mut none);

        let p = new_processor(None);
        assert_eq!(bokeh_processor_process(p, null(), &frame), BokehStatus::NullPointer);
        assert_eq!(bokeh_processor_process(p, &frame, null()), BokehStatus::NullPointer);
        assert_eq!(bokeh_processor_get_timings(p, null_mut()), BokehStatus::NullPointer);
        assert_eq!(bokeh_processor_get_mask(p, null()), BokehStatus::NullPointer);
        let mut no_plane = frame;
        no_plane.planes[0] = null_mut();
        assert_eq!(bokeh_processor_process(p, &no_plane, &frame), BokehStatus::NullPointer);
        assert!(last_error().contains("input.planes[0] is NULL"), "{}", last_error());
        assert!(!bokeh_last_error().is_null());
        destroy(p);
    }
}

#[test]
fn bad_frames_and_settings_give_specific_codes() {
    let p = new_processor(None);
    let (w, h) = (64u32, 48u32);
    let mut input = test_rgba(w, h);
    let mut output = vec![0u8; input.len()];
    let inf = packed(&mut input, w, h, BOKEH_FORMAT_RGBA, 4);
    let outf = packed(&mut output, w, h, BOKEH_FORMAT_RGBA, 4);
    let check = |i: &BokehFrame, o: &BokehFrame, want: BokehStatus, text: &str| {
        // SAFETY: frames describe live buffers (or deliberately bad sizes the library rejects).
        let got = unsafe { bokeh_processor_process(p, i, o) };
        assert_eq!(got, want, "{}", last_error());
        assert!(last_error().contains(text), "{:?} does not mention {text:?}", last_error());
    };
    // SAFETY: as above.
    assert_eq!(unsafe { bokeh_processor_get_mask(p, &outf) }, BokehStatus::NotReady);
    let mut short = inf;
    short.sizes[0] -= 1;
    check(&short, &outf, BokehStatus::InvalidFrame, "too short");
    let mut narrow = inf;
    narrow.strides[0] = 4;
    check(&narrow, &outf, BokehStatus::InvalidFrame, "stride 4");
    let mut huge = inf;
    huge.width = u32::MAX;
    huge.height = u32::MAX;
    huge.strides[0] = usize::MAX;
    check(&huge, &outf, BokehStatus::SizeMismatch, "output is 64x48");
    let mut huge_out = outf;
    huge_out.width = u32::MAX;
    huge_out.height = u32::MAX;
    check(&huge, &huge_out, BokehStatus::InvalidFrame, "input");
    let mut zero = inf;
    zero.width = 0;
    let mut zero_out = outf;
    zero_out.width = 0;
    check(&zero, &zero_out, BokehStatus::InvalidFrame, "empty frame");
    let mut too_big = inf;
    too_big.sizes[0] = usize::MAX;
    check(&too_big, &outf, BokehStatus::InvalidFrame, "larger than memory");
    let mut unknown = inf;
    unknown.format = 0;
    check(&unknown, &outf, BokehStatus::UnsupportedFormat, "unknown pixel format 0");
    let mut bgra_out = outf;
    bgra_out.format = BOKEH_FORMAT_BGRA;
    check(&inf, &bgra_out, BokehStatus::UnsupportedFormat, "output has the input's format");
    let mut yuv_out = outf;
    yuv_out.format = BOKEH_FORMAT_NV12;
    check(&inf, &yuv_out, BokehStatus::UnsupportedFormat, "input format");
    let mut small_out = outf;
    small_out.width = 32;
    check(&inf, &small_out, BokehStatus::SizeMismatch, "output is 32x48");
    let mut bad_color = inf;
    bad_color.format = BOKEH_FORMAT_I420;
    bad_color.color = 9;
    bad_color.planes = [input.as_mut_ptr(); 3];
    bad_color.strides = [64, 32, 32];
    bad_color.sizes = [input.len(); 3];
    check(&bad_color, &outf, BokehStatus::InvalidArgument, "color space 9");

    let mut s = BokehSettings::default();
    // SAFETY: valid pointers throughout.
    unsafe {
        assert_eq!(bokeh_settings_init(&mut s), BokehStatus::Ok);
        s.strength = 0.5;
        assert_eq!(bokeh_processor_set_settings(p, &s), BokehStatus::InvalidArgument);
        assert!(last_error().contains("strength"));
        s.strength = f32::NAN;
        assert_eq!(bokeh_processor_set_settings(p, &s), BokehStatus::InvalidArgument);
        s.strength = 0.05;
        s.mode = 7;
        assert_eq!(bokeh_processor_set_settings(p, &s), BokehStatus::InvalidArgument);
        s.mode = BOKEH_MODE_BLUR;
        s.rotation = 45;
        assert_eq!(bokeh_processor_set_settings(p, &s), BokehStatus::InvalidArgument);
        assert!(last_error().contains("settings.rotation"), "{}", last_error());
        s.rotation = 0;
        s.backend = 3;
        assert_eq!(bokeh_processor_set_settings(p, &s), BokehStatus::InvalidArgument);
        s.backend = BOKEH_BACKEND_CPU;
        s.mirror = 2;
        assert_eq!(bokeh_processor_set_settings(p, &s), BokehStatus::InvalidArgument);
        s.mirror = 0;
        s.mode = BOKEH_MODE_BLUR;
        s.blur = 5;
        assert_eq!(bokeh_processor_set_settings(p, &s), BokehStatus::InvalidArgument);
        s.blur = BOKEH_BLUR_GAUSSIAN;
        s.temporal = 2;
        assert_eq!(bokeh_processor_set_settings(p, &s), BokehStatus::InvalidArgument);
        assert!(last_error().contains("temporal"), "{}", last_error());
        s.temporal = 1;
        s.struct_size = 8;
        assert_eq!(bokeh_processor_set_settings(p, &s), BokehStatus::Version);
        assert!(last_error().contains("struct_size is 8"));
        // Only the sizes of published layouts: not 25 or 28 (inside the first two layouts).
        for size in [25, 28, 44, 47] {
            s.struct_size = size;
            assert_eq!(bokeh_processor_set_settings(p, &s), BokehStatus::Version, "{size}");
            assert!(last_error().contains("not the size of a bokeh_settings layout"), "{}", last_error());
        }
        // Failed calls left the old settings in place.
        let mut got = BokehSettings::default();
        assert_eq!(bokeh_processor_get_settings(p, &mut got), BokehStatus::Ok);
        assert_eq!(got, BokehSettings::default());
        s.struct_size = std::mem::size_of::<BokehSettings>() as u32;
        assert_eq!(bokeh_processor_set_settings(p, &s), BokehStatus::Ok);
        assert_eq!(bokeh_processor_get_settings(p, &mut got), BokehStatus::Ok);
        assert_eq!(got, s);
        assert_eq!(bokeh_processor_reset(null_mut()), BokehStatus::NullPointer);
        assert_eq!(bokeh_processor_reset(p), BokehStatus::Ok);
        assert_eq!(last_error(), "", "success clears the message");
    }
    destroy(p);
}

#[test]
fn bad_models_are_reported() {
    let mut p = null_mut();
    // SAFETY: valid pointers.
    unsafe {
        let garbage = [7u8; 100];
        let status = bokeh_processor_create_from_memory(garbage.as_ptr(), garbage.len(), null(), null(), &mut p);
        assert_eq!(status, BokehStatus::Model, "{}", last_error());
        assert!(p.is_null());
        let status = bokeh_processor_create_from_file(c"/nonexistent/model.onnx".as_ptr(), null(), null(), &mut p);
        assert_eq!(status, BokehStatus::Io);
        assert!(last_error().contains("/nonexistent/model.onnx"), "{}", last_error());
        let model = bokeh::SELFIE_SQUARE_ONNX;
        let status =
            bokeh_processor_create_from_memory(model.as_ptr(), model.len(), c"nonsense".as_ptr(), null(), &mut p);
        assert_eq!(status, BokehStatus::InvalidArgument);
        assert!(last_error().contains("unknown preset"), "{}", last_error());
        let status = bokeh_processor_create_from_file(c"".as_ptr(), null(), null(), &mut p);
        assert_eq!(status, BokehStatus::InvalidArgument);
        assert!(last_error().contains("path is empty"), "{}", last_error());
        // The embedded model is NCHW; "mediapipe" says NHWC: tract fails, and the message
        // points at the spec.
        let status = bokeh_processor_create_from_memory(model.as_ptr(), model.len(), null(), null(), &mut p);
        assert_eq!(status, BokehStatus::Model, "{}", last_error());
        assert!(last_error().contains("model_spec was \"mediapipe\""), "{}", last_error());
        let ok = c"mediapipe,layout=nchw";
        assert_eq!(
            bokeh_processor_create_from_memory(model.as_ptr(), model.len(), ok.as_ptr(), null(), &mut p),
            BokehStatus::Ok
        );
        bokeh_processor_destroy(&mut p);
        let bad = BokehSettings { strength: -1.0, ..BokehSettings::default() };
        assert_eq!(bokeh_processor_create(&bad, &mut p), BokehStatus::InvalidArgument);
        assert!(p.is_null());
    }
}

#[test]
fn panics_become_internal_errors() {
    let status = guard(|| panic!("deliberate test panic"));
    assert_eq!(status, BokehStatus::Internal);
    assert!(last_error().contains("deliberate test panic"));
    assert_eq!(guard(|| Ok(())), BokehStatus::Ok);
}

#[test]
fn a_busy_processor_refuses_frames_but_never_settings_or_timings() {
    let p = new_processor(None);
    let (w, h) = (32u32, 24u32);
    let mut input = test_rgba(w, h);
    let mut output = vec![0u8; input.len()];
    let inf = packed(&mut input, w, h, BOKEH_FORMAT_RGBA, 4);
    let outf = packed(&mut output, w, h, BOKEH_FORMAT_RGBA, 4);
    // SAFETY: live buffers and handle.
    assert_eq!(unsafe { bokeh_processor_process(p, &inf, &outf) }, BokehStatus::Ok, "{}", last_error());
    // SAFETY: a live handle.
    let handle = unsafe { &*p };
    // As if another thread were inside a frame call.
    let held = handle.0.engine().ok().expect("free");
    let addr = p as usize;
    let (frames, others) = std::thread::spawn(move || {
        let p = addr as *mut BokehProcessor;
        let (mut input, mut output) = (test_rgba(w, h), vec![0u8; (w * h * 4) as usize]);
        let inf = packed(&mut input, w, h, BOKEH_FORMAT_RGBA, 4);
        let outf = packed(&mut output, w, h, BOKEH_FORMAT_RGBA, 4);
        let mut t = BokehTimings::default();
        let mut s = BokehSettings { strength: 0.08, ..BokehSettings::default() };
        // SAFETY: the handle stays alive: the main thread joins before destroying it.
        unsafe {
            let frames = [bokeh_processor_process(p, &inf, &outf), bokeh_processor_prepare(p, w, h, BOKEH_FORMAT_RGBA)];
            let others = [
                bokeh_processor_get_timings(p, &mut t),
                bokeh_processor_set_settings(p, &s),
                bokeh_processor_get_settings(p, &mut s),
                bokeh_processor_reset(p),
                bokeh_processor_set_background(p, &inf),
            ];
            (frames, others)
        }
    })
    .join()
    .expect("thread");
    drop(held);
    assert_eq!(frames, [BokehStatus::Busy; 2]);
    assert_eq!(others, [BokehStatus::Ok; 5]);
    let mut s = BokehSettings::default();
    // SAFETY: live handle and buffers.
    unsafe {
        assert_eq!(bokeh_processor_get_settings(p, &mut s), BokehStatus::Ok);
        assert_eq!(s.strength, 0.08, "the settings are stored at once");
        assert_eq!(bokeh_processor_process(p, &inf, &outf), BokehStatus::Ok);
    }
    destroy(p);
}

/// The output of the Rust API for the same frame and options.
fn rust_api(frame: FrameRef<'_>, options: Options) -> Frame {
    let segmenter = Segmenter::new().expect("model");
    let mut pipeline = Pipeline::new(&segmenter, options).expect("pipeline");
    pipeline.process(frame).expect("process")
}

#[test]
fn matches_the_rust_api_in_every_mode_and_in_place() {
    let (w, h) = (96u32, 72u32);
    let rgba = test_rgba(w, h);
    let reference = FrameRef::packed(&rgba, w, h, PixelFormat::Rgba8).expect("frame");
    let background = Frame::from_vec(vec![30u8; (w * h * 3) as usize], w, h, PixelFormat::Rgb8).expect("bg");
    for (mode, c_mode, bpp, c_format) in [
        (Mode::Blur, BOKEH_MODE_BLUR, 4, BOKEH_FORMAT_RGBA),
        (Mode::Replace, BOKEH_MODE_REPLACE, 4, BOKEH_FORMAT_RGBA),
        (Mode::Cutout, BOKEH_MODE_CUTOUT, 4, BOKEH_FORMAT_RGBA),
        (Mode::Mask, BOKEH_MODE_MASK, 1, BOKEH_FORMAT_GRAY),
    ] {
        let options = Options::default().with_mode(mode).with_background(background.clone());
        let expected = rust_api(reference, options);
        let settings = BokehSettings { mode: c_mode, ..BokehSettings::default() };
        let p = new_processor(None);
        let mut bg = background.data().to_vec();
        let bgf = packed(&mut bg, w, h, BOKEH_FORMAT_RGB, 3);
        let mut input = rgba.clone();
        let inf = packed(&mut input, w, h, BOKEH_FORMAT_RGBA, 4);
        let mut output = vec![0u8; (w * h) as usize * bpp];
        let outf = packed(&mut output, w, h, c_format, bpp);
        // SAFETY: frames describe live buffers.
        unsafe {
            assert_eq!(bokeh_processor_set_background(p, &bgf), BokehStatus::Ok, "{}", last_error());
            assert_eq!(bokeh_processor_set_settings(p, &settings), BokehStatus::Ok, "{}", last_error());
            assert_eq!(bokeh_processor_process(p, &inf, &outf), BokehStatus::Ok, "{}", last_error());
        }
        assert_eq!(output, expected.data(), "{mode:?}");
        if mode == Mode::Blur {
            // In place: the output is the input's own memory.
            // SAFETY: one buffer, described twice; the library copies before writing.
            assert_eq!(unsafe { bokeh_processor_process(p, &inf, &inf) }, BokehStatus::Ok, "{}", last_error());
            assert_eq!(input, expected.data(), "in place");
            let mut mask = vec![0u8; (w * h) as usize];
            let maskf = packed(&mut mask, w, h, BOKEH_FORMAT_GRAY, 1);
            let mut timings = BokehTimings::default();
            // SAFETY: as above.
            unsafe {
                assert_eq!(bokeh_processor_get_mask(p, &maskf), BokehStatus::Ok, "{}", last_error());
                assert_eq!(bokeh_processor_get_timings(p, &mut timings), BokehStatus::Ok);
            }
            assert!(timings.inference_ms > 0.0 && timings.total_ms >= timings.inference_ms, "{timings:?}");
            assert!(timings.convert_ms > 0.0, "in-place processing copies the input: {timings:?}");
            let centre = mask[(h / 2 * w + w / 2) as usize];
            let corner = mask[0];
            assert!(mask.iter().any(|&m| m != mask[0]), "mask is not constant ({centre}, {corner})");
        }
        destroy(p);
    }
}

#[test]
fn camera_formats_match_converting_first() {
    let (w, h) = (50u32, 38u32);
    let rgba = test_rgba(w, h);
    let reference = FrameRef::packed(&rgba, w, h, PixelFormat::Rgba8).expect("frame");
    let p = new_processor(None);
    for (layout, c_format, color, c_color) in [
        (YuvLayout::Nv12, BOKEH_FORMAT_NV12, YuvColor::new(YuvMatrix::Bt601, YuvRange::Full), BOKEH_COLOR_BT601_FULL),
        (YuvLayout::Nv21, BOKEH_FORMAT_NV21, YuvColor::default(), BOKEH_COLOR_BT601_LIMITED),
        (
            YuvLayout::I420,
            BOKEH_FORMAT_I420,
            YuvColor::new(YuvMatrix::Bt709, YuvRange::Limited),
            BOKEH_COLOR_BT709_LIMITED,
        ),
        (YuvLayout::Yuyv, BOKEH_FORMAT_YUYV, YuvColor::new(YuvMatrix::Bt709, YuvRange::Full), BOKEH_COLOR_BT709_FULL),
    ] {
        let yuv = bokeh::YuvFrame::from_rgb(reference, layout, color).expect("yuv");
        let converted = yuv.as_ref().to_frame(PixelFormat::Bgra8).expect("bgra");
        let expected = rust_api(converted.as_ref(), Options::default());
        let mut planes: Vec<Vec<u8>> = (0..3).map(|i| yuv.plane(i).0.to_vec()).collect();
        let strides = [yuv.plane(0).1, yuv.plane(1).1, yuv.plane(2).1];
        let inf = BokehFrame {
            width: w,
            height: h,
            format: c_format,
            color: c_color,
            planes: [planes[0].as_mut_ptr(), planes[1].as_mut_ptr(), planes[2].as_mut_ptr()],
            strides,
            sizes: [planes[0].len(), planes[1].len(), planes[2].len()],
        };
        let mut output = vec![0u8; (w * h * 4) as usize];
        let outf = packed(&mut output, w, h, BOKEH_FORMAT_BGRA, 4);
        // SAFETY: frames describe live buffers.
        let status = unsafe { bokeh_processor_process(p, &inf, &outf) };
        assert_eq!(status, BokehStatus::Ok, "{layout:?}: {}", last_error());
        assert_eq!(output, expected.data(), "{layout:?}");
        if layout != YuvLayout::Yuyv {
            // Interleaved chroma may be one byte short (Android's views), never more.
            let interleaved = matches!(layout, YuvLayout::Nv12 | YuvLayout::Nv21);
            let mut short = inf;
            short.sizes[1] -= if interleaved { 2 } else { 1 };
            // SAFETY: as above, with a size the library must refuse.
            assert_eq!(unsafe { bokeh_processor_process(p, &short, &outf) }, BokehStatus::InvalidFrame);
            assert!(last_error().contains("plane 1"), "{}", last_error());
            if interleaved {
                short.sizes[1] += 1;
                // SAFETY: as above, one byte short.
                assert_eq!(unsafe { bokeh_processor_process(p, &short, &outf) }, BokehStatus::Ok, "{layout:?}");
            }
        }
    }
    destroy(p);
}

#[test]
fn own_thread_pool_gives_the_same_picture() {
    let (w, h) = (64u32, 40u32);
    let rgba = test_rgba(w, h);
    let mut outputs = Vec::new();
    for threads in [0, 1, 3] {
        let p = new_processor(Some(&BokehSettings { num_threads: threads, ..BokehSettings::default() }));
        let mut input = rgba.clone();
        let inf = packed(&mut input, w, h, BOKEH_FORMAT_RGBA, 4);
        let mut output = vec![0u8; input.len()];
        let outf = packed(&mut output, w, h, BOKEH_FORMAT_RGBA, 4);
        // SAFETY: frames describe live buffers.
        assert_eq!(unsafe { bokeh_processor_process(p, &inf, &outf) }, BokehStatus::Ok, "{}", last_error());
        outputs.push(output);
        destroy(p);
    }
    assert_eq!(outputs[0], outputs[1]);
    assert_eq!(outputs[0], outputs[2]);
}

#[test]
fn temporal_smoothing_matches_the_rust_api_and_resets() {
    let (w, h) = (80u32, 60u32);
    let base = test_rgba(w, h);
    // A sequence: the picture shifted right by 0, 3, 6 … pixels.
    let frames: Vec<Vec<u8>> = (0..4)
        .map(|k| {
            let mut f = base.clone();
            for row in f.chunks_mut((w * 4) as usize) {
                row.rotate_right(4 * 3 * k);
            }
            f
        })
        .collect();
    let segmenter = Segmenter::new().expect("model");
    let options = Options::default().with_temporal(Some(bokeh::Temporal::default()));
    let mut rust = Pipeline::new(&segmenter, options).expect("pipeline");
    let p = new_processor(Some(&BokehSettings { temporal: 1, ..BokehSettings::default() }));
    let run = |frame: &[u8]| {
        let mut input = frame.to_vec();
        let inf = packed(&mut input, w, h, BOKEH_FORMAT_RGBA, 4);
        let mut output = vec![0u8; input.len()];
        let outf = packed(&mut output, w, h, BOKEH_FORMAT_RGBA, 4);
        // SAFETY: frames describe live buffers.
        assert_eq!(unsafe { bokeh_processor_process(p, &inf, &outf) }, BokehStatus::Ok, "{}", last_error());
        output
    };
    for frame in &frames {
        let expected = rust.process(FrameRef::packed(frame, w, h, PixelFormat::Rgba8).expect("frame")).expect("rust");
        assert_eq!(run(frame), expected.data());
    }
    // After a reset the next frame is processed as a first frame.
    // SAFETY: a live handle.
    assert_eq!(unsafe { bokeh_processor_reset(p) }, BokehStatus::Ok);
    let fresh = rust_api(
        FrameRef::packed(&frames[0], w, h, PixelFormat::Rgba8).expect("frame"),
        Options::default().with_temporal(Some(bokeh::Temporal::default())),
    );
    assert_eq!(run(&frames[0]), fresh.data());
    destroy(p);
}

#[test]
fn version_2_fields_are_checked_defaulted_for_old_callers_and_applied() {
    let p = new_processor(None);
    let mut s = BokehSettings::default();
    type Field = fn(&mut BokehSettings);
    // The C encodings (codes, switches, 0 = off) are the C API's to check and name the field;
    // the ranges are the library's, whose message names the setting its own way.
    let bad: [(&str, Field); 10] = [
        ("settings: invalid option: highlight bloom", |s| s.bloom = 0.5),
        ("settings: invalid option: highlight bloom", |s| s.bloom = f32::NAN),
        ("settings.refine", |s| s.refine = 2),
        ("settings: invalid option: refine threshold", |s| s.edge_threshold = 1.5),
        ("settings: invalid option: refine feather", |s| s.edge_feather = 0.0),
        ("settings.decontaminate", |s| s.decontaminate = 3),
        ("settings.blur", |s| s.blur = 3),
        ("settings.focus_falloff", |s| s.focus_falloff = -0.1),
        ("settings: invalid option: focus falloff 1.5", |s| s.focus_falloff = 1.5),
        ("settings: invalid option: focus falloff needs the disc or hexagon", |s| {
            (s.focus_falloff, s.blur) = (0.2, BOKEH_BLUR_GAUSSIAN)
        }),
    ];
    for (message, set) in bad {
        let mut wrong = s;
        set(&mut wrong);
        // SAFETY: valid pointers.
        assert_eq!(unsafe { bokeh_processor_set_settings(p, &wrong) }, BokehStatus::InvalidArgument, "{message}");
        assert!(last_error().contains(message), "{message}: {}", last_error());
    }
    // A caller built against the first header: its struct ends at `temporal`, and whatever lies
    // beyond (here: values that would be refused) is never read; the new fields get defaults.
    s.struct_size = std::mem::offset_of!(BokehSettings, bloom) as u32;
    s.strength = 0.07;
    s.bloom = 1000.0;
    s.refine = 7;
    // SAFETY: valid pointers.
    unsafe {
        assert_eq!(bokeh_processor_set_settings(p, &s), BokehStatus::Ok, "{}", last_error());
        let mut got = BokehSettings::default();
        assert_eq!(bokeh_processor_get_settings(p, &mut got), BokehStatus::Ok);
        assert_eq!(got, BokehSettings { strength: 0.07, ..BokehSettings::default() });
    }
    destroy(p);

    // The new fields reach the pipeline: same pictures as the Rust API with the same options.
    let (w, h) = (96u32, 72u32);
    let rgba = test_rgba(w, h);
    let reference = FrameRef::packed(&rgba, w, h, PixelFormat::Rgba8).expect("frame");
    let cases = [
        (
            BokehSettings {
                blur: BOKEH_BLUR_HEXAGON,
                bloom: 12.0,
                refine: 0,
                strength: 0.08,
                focus_falloff: 0.3,
                ..BokehSettings::default()
            },
            Options::default()
                .with_blur(BlurKind::Hexagon)
                .with_bloom(12.0)
                .with_refine(None)
                .with_strength(0.08)
                .with_focus_falloff(Some(0.3)),
        ),
        (
            BokehSettings {
                mode: BOKEH_MODE_CUTOUT,
                edge_threshold: 0.4,
                edge_feather: 0.3,
                decontaminate: 0,
                ..BokehSettings::default()
            },
            Options::default()
                .with_mode(Mode::Cutout)
                .with_refine(Some(Refine::default().with_ramp(0.4, 0.3)))
                .with_decontaminate(false),
        ),
    ];
    for (settings, options) in cases {
        let expected = rust_api(reference, options);
        let p = new_processor(Some(&settings));
        let mut input = rgba.clone();
        let inf = packed(&mut input, w, h, BOKEH_FORMAT_RGBA, 4);
        let mut output = vec![0u8; input.len()];
        let outf = packed(&mut output, w, h, BOKEH_FORMAT_RGBA, 4);
        // SAFETY: frames describe live buffers.
        assert_eq!(unsafe { bokeh_processor_process(p, &inf, &outf) }, BokehStatus::Ok, "{}", last_error());
        assert_eq!(output, expected.data(), "{settings:?}");
        // And they are not the defaults' pictures.
        let mut default = settings;
        (default.blur, default.bloom, default.refine, default.strength) = (0, 4.0, 1, 0.03);
        (default.edge_threshold, default.edge_feather, default.decontaminate) = (0.5, 1.0, 1);
        default.focus_falloff = 0.0;
        // SAFETY: as above.
        unsafe {
            assert_eq!(bokeh_processor_set_settings(p, &default), BokehStatus::Ok);
            assert_eq!(bokeh_processor_process(p, &inf, &outf), BokehStatus::Ok, "{}", last_error());
        }
        assert_ne!(output, expected.data(), "{settings:?} changes the picture");
        destroy(p);
    }
}

#[test]
fn version_3_fields_turn_frames_upright_and_newer_structs_are_read() {
    let (w, h) = (96u32, 64u32);
    let rgba = test_rgba(w, h);
    let reference = FrameRef::packed(&rgba, w, h, PixelFormat::Rgba8).expect("frame");
    // Sideways and mirrored, output upright: the Rust API's picture.
    let settings = BokehSettings { rotation: 90, mirror: 1, upright_output: 1, ..BokehSettings::default() };
    let orientation = Orientation::new(Rotation::Cw90, true);
    let expected = rust_api(reference, Options::default().with_orientation(orientation).with_upright_output(true));
    assert_eq!((expected.width(), expected.height()), (h, w));
    let p = new_processor(Some(&settings));
    let mut input = rgba.clone();
    let inf = packed(&mut input, w, h, BOKEH_FORMAT_RGBA, 4);
    let mut output = vec![0u8; input.len()];
    let same_size = packed(&mut output, w, h, BOKEH_FORMAT_RGBA, 4);
    // SAFETY: frames describe live buffers.
    unsafe {
        assert_eq!(bokeh_processor_process(p, &inf, &same_size), BokehStatus::SizeMismatch);
        assert!(last_error().contains("expected 64x96 (turned upright)"), "{}", last_error());
        let upright = packed(&mut output, h, w, BOKEH_FORMAT_RGBA, 4);
        assert_eq!(bokeh_processor_process(p, &inf, &upright), BokehStatus::Ok, "{}", last_error());
    }
    assert_eq!(output, expected.data());
    // The mask stays as the input is stored.
    let mut mask = vec![0u8; (w * h) as usize];
    let maskf = packed(&mut mask, w, h, BOKEH_FORMAT_GRAY, 1);
    // SAFETY: as above.
    assert_eq!(unsafe { bokeh_processor_get_mask(p, &maskf) }, BokehStatus::Ok, "{}", last_error());
    destroy(p);

    // A struct from a newer header: accepted when the fields this library lacks are zero.
    #[repr(C)]
    struct Newer {
        known: BokehSettings,
        unknown: [u32; 4],
    }
    let mut newer = Newer { known: BokehSettings::default(), unknown: [0; 4] };
    newer.known.struct_size = std::mem::size_of::<Newer>() as u32;
    newer.known.strength = 0.06;
    let ptr = (&newer as *const Newer).cast::<BokehSettings>();
    let p = new_processor(None);
    // SAFETY: `ptr` is readable for `struct_size` bytes; `back` writable for as many.
    unsafe {
        assert_eq!(bokeh_processor_set_settings(p, ptr), BokehStatus::Ok, "{}", last_error());
        let mut back = Newer { known: BokehSettings::default(), unknown: [7; 4] };
        back.known.struct_size = newer.known.struct_size;
        assert_eq!(bokeh_processor_get_settings(p, (&mut back as *mut Newer).cast()), BokehStatus::Ok);
        assert_eq!((back.known.strength, back.unknown), (0.06, [0; 4]), "unknown fields come back zero");
        newer.unknown[2] = 1;
        let ptr = (&newer as *const Newer).cast::<BokehSettings>();
        assert_eq!(bokeh_processor_set_settings(p, ptr), BokehStatus::Version);
        assert!(last_error().contains("newer bokeh.h"), "{}", last_error());
        // A second-version caller (no rotation fields) gets them at their defaults.
        let mut v2 = settings;
        v2.struct_size = std::mem::offset_of!(BokehSettings, rotation) as u32;
        assert_eq!(bokeh_processor_set_settings(p, &v2), BokehStatus::Ok, "{}", last_error());
        let mut got = BokehSettings::default();
        assert_eq!(bokeh_processor_get_settings(p, &mut got), BokehStatus::Ok);
        assert_eq!((got.rotation, got.mirror, got.upright_output, got.tracking), (0, 0, 0, 1));
        // A third-version caller (no model_backend) gets auto; an unknown code is refused.
        let mut v3 = settings;
        v3.struct_size = std::mem::offset_of!(BokehSettings, model_backend) as u32;
        v3.model_backend = 99;
        assert_eq!(bokeh_processor_set_settings(p, &v3), BokehStatus::Ok, "{}", last_error());
        assert_eq!(bokeh_processor_get_settings(p, &mut got), BokehStatus::Ok);
        assert_eq!(got.model_backend, BOKEH_BACKEND_AUTO);
        let unknown = BokehSettings { model_backend: 7, ..settings };
        assert_eq!(bokeh_processor_set_settings(p, &unknown), BokehStatus::InvalidArgument);
        assert!(last_error().contains("settings.model_backend: unknown backend 7"), "{}", last_error());
    }
    destroy(p);
}

#[test]
fn the_model_on_the_gpu_needs_the_pixel_stages_there() {
    let settings = BokehSettings { model_backend: BOKEH_BACKEND_GPU, ..BokehSettings::default() };
    let mut p: *mut BokehProcessor = std::ptr::null_mut();
    // SAFETY: valid settings and out pointer.
    let status = unsafe { bokeh_processor_create(&settings, &mut p) };
    if Backend::Gpu.is_built() {
        assert_eq!(status, BokehStatus::InvalidArgument, "pixel stages on the CPU");
        assert!(last_error().contains("the model on the GPU needs the pixel stages there too"), "{}", last_error());
    } else {
        assert_eq!(status, BokehStatus::Gpu);
        assert!(last_error().contains("settings.model_backend: this build"), "{}", last_error());
    }
    assert!(p.is_null());
}

#[test]
fn rough_edges_are_errors_with_reasons() {
    let (w, h) = (48u32, 32u32);
    let mut rgba = test_rgba(w, h);
    let inf = packed(&mut rgba, w, h, BOKEH_FORMAT_RGBA, 4);
    let mut grey = vec![128u8; (w * h) as usize];
    let grey_in = packed(&mut grey, w, h, BOKEH_FORMAT_GRAY, 1);
    let mut out = vec![0u8; (w * h * 4) as usize];
    let outf = packed(&mut out, w, h, BOKEH_FORMAT_RGBA, 4);
    let mut grey_out = vec![0u8; (w * h) as usize];
    let grey_outf = packed(&mut grey_out, w, h, BOKEH_FORMAT_GRAY, 1);
    // Replace mode can be chosen at create; frames wait for a background.
    let p = new_processor(Some(&BokehSettings { mode: BOKEH_MODE_REPLACE, ..BokehSettings::default() }));
    // SAFETY: frames describe live buffers; `p` is live.
    unsafe {
        let mut t = BokehTimings::default();
        assert_eq!(bokeh_processor_get_timings(p, &mut t), BokehStatus::NotReady, "no frame yet");
        assert_eq!(bokeh_processor_process(p, &inf, &outf), BokehStatus::NotReady);
        assert!(last_error().contains("needs a background"), "{}", last_error());
        assert_eq!(bokeh_processor_set_background(p, &inf), BokehStatus::Ok);
        assert_eq!(bokeh_processor_process(p, &inf, &outf), BokehStatus::Ok, "{}", last_error());
        assert_eq!(bokeh_processor_get_timings(p, &mut t), BokehStatus::Ok);
        assert!(t.total_ms > 0.0);
        // Grey is an output for masks, not a picture for the model nor a blur output.
        let blur = BokehSettings::default();
        assert_eq!(bokeh_processor_set_settings(p, &blur), BokehStatus::Ok);
        assert_eq!(bokeh_processor_process(p, &grey_in, &grey_outf), BokehStatus::UnsupportedFormat);
        assert!(last_error().contains("not GRAY"), "{}", last_error());
        assert_eq!(bokeh_processor_process(p, &grey_in, &outf), BokehStatus::UnsupportedFormat);
        assert!(last_error().contains("input is GRAY"), "{}", last_error());
        let mask = BokehSettings { mode: BOKEH_MODE_MASK, ..BokehSettings::default() };
        assert_eq!(bokeh_processor_set_settings(p, &mask), BokehStatus::Ok);
        assert_eq!(bokeh_processor_process(p, &grey_in, &grey_outf), BokehStatus::UnsupportedFormat);
        // Without the GPU backend in this build, asking for it says so.
        let gpu = BokehSettings { backend: BOKEH_BACKEND_GPU, ..BokehSettings::default() };
        let status = bokeh_processor_set_settings(p, &gpu);
        if Backend::Gpu.is_built() {
            assert!(matches!(status, BokehStatus::Ok), "{}", last_error());
        } else {
            assert_eq!(status, BokehStatus::Gpu);
            assert!(last_error().contains("no GPU backend"), "{}", last_error());
        }
        assert_eq!(bokeh_processor_prepare(p, 0, 10, BOKEH_FORMAT_RGBA), BokehStatus::InvalidArgument);
        assert_eq!(bokeh_processor_prepare(p, 10, 10, BOKEH_FORMAT_GRAY), BokehStatus::UnsupportedFormat);
        assert_eq!(bokeh_processor_prepare(p, 10, 10, 99), BokehStatus::UnsupportedFormat);
    }
    destroy(p);
}

#[test]
fn prepare_compiles_every_plan_a_video_needs() {
    let (w, h) = (160u32, 90u32);
    let settings = BokehSettings { temporal: 1, ..BokehSettings::default() };
    let p = new_processor(Some(&settings));
    // SAFETY: a live handle.
    unsafe {
        assert_eq!(bokeh_processor_prepare(p, w, h, BOKEH_FORMAT_NV21), BokehStatus::Ok, "{}", last_error());
        let mut t = BokehTimings::default();
        assert_eq!(bokeh_processor_get_timings(p, &mut t), BokehStatus::NotReady, "the warm-up frame is forgotten");
    }
    destroy(p);
    // The same through the Rust API: after prepare, frames of that size compile nothing.
    let segmenter = Segmenter::new().expect("model");
    let options = Options::default().with_temporal(Some(bokeh::Temporal::default()));
    let mut pipeline = Pipeline::new(&segmenter, options).expect("pipeline");
    pipeline.prepare(w, h, PixelFormat::Rgba8).expect("prepare");
    let compiled = segmenter.compiled_plans();
    assert_eq!(compiled, 2, "the landscape model for the whole frame and the square one for crops");
    let rgba = test_rgba(w, h);
    for _ in 0..4 {
        pipeline.process(FrameRef::packed(&rgba, w, h, PixelFormat::Rgba8).expect("frame")).expect("process");
    }
    assert_eq!(segmenter.compiled_plans(), compiled);
}

#[test]
fn the_stream_matches_the_rust_stream() {
    let (w, h) = (96u32, 64u32);
    let frames: Vec<Vec<u8>> = (0..5)
        .map(|k| {
            let mut f = test_rgba(w, h);
            for row in f.chunks_mut((w * 4) as usize) {
                row.rotate_right(4 * 2 * k);
            }
            f
        })
        .collect();
    let segmenter = Segmenter::new().expect("model");
    let options = Options::default().with_temporal(Some(bokeh::Temporal::default()));
    let mut rust = Stream::new(&segmenter, options).expect("stream");
    let mut expected = Vec::new();
    let mut out = Frame::new(w, h, PixelFormat::Rgba8).expect("frame");
    for f in &frames {
        let input = FrameRef::packed(f, w, h, PixelFormat::Rgba8).expect("frame");
        if rust.push(input, &mut out.as_mut()).expect("push") {
            expected.push(out.data().to_vec());
        }
    }
    rust.finish(&mut out.as_mut()).expect("finish");
    expected.push(out.data().to_vec());

    let mut s = null_mut();
    // SAFETY: valid pointers throughout; `s` is live until destroyed.
    unsafe {
        assert_eq!(bokeh_stream_create(null(), &mut s), BokehStatus::Ok, "{}", last_error());
        assert_eq!(bokeh_stream_latency_frames(s), 1);
        assert_eq!(bokeh_stream_prepare(s, w, h, BOKEH_FORMAT_RGBA), BokehStatus::Ok, "{}", last_error());
        let mut got = Vec::new();
        let mut written = 7u32;
        for (i, f) in frames.iter().enumerate() {
            let mut input = f.clone();
            let inf = packed(&mut input, w, h, BOKEH_FORMAT_RGBA, 4);
            let mut output = vec![0u8; input.len()];
            let outf = packed(&mut output, w, h, BOKEH_FORMAT_RGBA, 4);
            assert_eq!(bokeh_stream_push(s, &inf, &outf, &mut written), BokehStatus::Ok, "{}", last_error());
            assert_eq!(written, u32::from(i > 0));
            if written == 1 {
                got.push(output);
            }
        }
        let mut output = vec![0u8; (w * h * 4) as usize];
        let outf = packed(&mut output, w, h, BOKEH_FORMAT_RGBA, 4);
        assert_eq!(bokeh_stream_finish(s, &outf, &mut written), BokehStatus::Ok, "{}", last_error());
        assert_eq!(written, 1);
        got.push(output);
        assert_eq!(bokeh_stream_finish(s, &outf, &mut written), BokehStatus::Ok);
        assert_eq!(written, 0, "nothing left in flight");
        assert_eq!(got.len(), expected.len());
        for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
            assert!(g == e, "frame {i} differs from the Rust stream's");
        }
        let mut t = BokehTimings::default();
        assert_eq!(bokeh_stream_get_timings(s, &mut t), BokehStatus::Ok);
        let mut mask = vec![0u8; (w * h) as usize];
        let maskf = packed(&mut mask, w, h, BOKEH_FORMAT_GRAY, 1);
        assert_eq!(bokeh_stream_get_mask(s, &maskf), BokehStatus::Ok, "{}", last_error());
        let mut got_settings = BokehSettings::default();
        assert_eq!(bokeh_stream_get_settings(s, &mut got_settings), BokehStatus::Ok);
        assert_eq!(got_settings.temporal, 1, "a stream's defaults are video's");
        assert_eq!(bokeh_stream_reset(s), BokehStatus::Ok);
        assert_eq!(bokeh_stream_push(s, null(), &outf, &mut written), BokehStatus::NullPointer);
        bokeh_stream_destroy(&mut s);
        assert!(s.is_null());
        bokeh_stream_destroy(&mut s);
    }
}

#[test]
fn the_gpu_backend_through_the_c_api() {
    if !Backend::Gpu.is_built() || std::env::var("BOKEH_GPU_TESTS").is_ok_and(|v| v == "skip") {
        eprintln!("the GPU backend is not built in (cargo feature `gpu`) or skipped: skipped");
        return;
    }
    let (w, h) = (96u32, 72u32);
    let rgba = test_rgba(w, h);
    let run = |backend: BokehBackend| {
        let p = new_processor(Some(&BokehSettings { backend, ..BokehSettings::default() }));
        let mut input = rgba.clone();
        let inf = packed(&mut input, w, h, BOKEH_FORMAT_RGBA, 4);
        let mut output = vec![0u8; input.len()];
        let outf = packed(&mut output, w, h, BOKEH_FORMAT_RGBA, 4);
        // SAFETY: frames describe live buffers.
        let status = unsafe { bokeh_processor_process(p, &inf, &outf) };
        destroy(p);
        (status, output)
    };
    let (cpu_status, cpu) = run(BOKEH_BACKEND_CPU);
    assert_eq!(cpu_status, BokehStatus::Ok);
    let mut p = null_mut();
    let settings = BokehSettings { backend: BOKEH_BACKEND_GPU, ..BokehSettings::default() };
    // SAFETY: valid pointers.
    let created = unsafe { bokeh_processor_create(&settings, &mut p) };
    if created == BokehStatus::Gpu {
        eprintln!("no GPU adapter here ({}): skipped", last_error());
        return;
    }
    assert_eq!(created, BokehStatus::Ok, "{}", last_error());
    destroy(p);
    let (status, gpu) = run(BOKEH_BACKEND_GPU);
    assert_eq!(status, BokehStatus::Ok, "{}", last_error());
    // The GPU backend's declared tolerance (tests/gpu.rs): 2 codes at most, 0.25 on average.
    let diffs: Vec<u8> = gpu.iter().zip(&cpu).map(|(a, b)| a.abs_diff(*b)).collect();
    let max = diffs.iter().copied().max().unwrap_or(0);
    let mean = diffs.iter().map(|&d| f64::from(d)).sum::<f64>() / diffs.len() as f64;
    assert!(max <= 2 && mean <= 0.25, "GPU vs CPU through the C API: max {max}, mean {mean:.4}");
}
