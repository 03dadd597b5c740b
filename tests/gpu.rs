//! The GPU backend against the CPU backend: same pictures, on every API the machine offers.
//!
//! CI has no GPU: `scripts/test.sh` installs Mesa, whose lavapipe (Vulkan) and llvmpipe (GL)
//! are software adapters wgpu drives like any other. Both must be there: a missing adapter fails
//! the test rather than skipping it, unless `BOKEH_GPU_TESTS=skip` says the machine has none on
//! purpose (then only the shader validation in `tests/shaders.rs` runs), or
//! `BOKEH_GPU_TEST_APIS=vulkan` narrows the list (NVIDIA's EGL offers GL 3.3, without compute).
//!
//! Needs the `gpu` feature (off by default): the test command (`cargo test --workspace`) has it,
//! since the CLI turns it on; alone, `cargo test --features gpu --test gpu`.
#![cfg(feature = "gpu")]

mod common;

use std::sync::{Arc, OnceLock};

use bokeh::gpu::{GpuApi, GpuContext, GpuPixels};
use bokeh::{
    Backend, BlurKind, Frame, FrameRef, Mask, Mode, Options, Pipeline, PixelFormat, Refine, Refiner, Segmenter,
    Temporal,
};

const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data/grace_hopper.jpg");
const MASK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/grace_hopper-256x300-mask.png");

/// The one place the GPU-vs-CPU tolerance is declared, in 8-bit codes. Float sums in another
/// order (the disc is summed directly on the GPU, through f64 prefix sums on the CPU) or fused
/// multiply-adds (NVIDIA's compiler contracts `a * b + c`) move a value across a rounding
/// boundary now and then; nothing more is allowed. Cutouts are compared as they look: colour ×
/// alpha (see [`visible`]).
const MAX_DIFF: u8 = 2;
const MEAN_DIFF: f64 = 0.25;

fn segmenter() -> &'static Segmenter {
    static S: OnceLock<Segmenter> = OnceLock::new();
    S.get_or_init(|| Segmenter::new().expect("model"))
}

fn skip() -> bool {
    std::env::var("BOKEH_GPU_TESTS").is_ok_and(|v| v == "skip")
}

/// Contexts on every API that must be tested (`None` when skipped on purpose).
fn contexts() -> Vec<(&'static str, Arc<GpuContext>)> {
    if skip() {
        return Vec::new();
    }
    static CTX: OnceLock<Vec<(&'static str, Arc<GpuContext>)>> = OnceLock::new();
    CTX.get_or_init(|| {
        let wanted = std::env::var("BOKEH_GPU_TEST_APIS").unwrap_or_else(|_| "vulkan,gl".into());
        [("vulkan", GpuApi::Vulkan), ("gl", GpuApi::Gl)]
            .into_iter()
            .filter(|(name, _)| wanted.split(',').any(|w| w.trim() == *name))
            .map(|(name, api)| {
                let ctx = GpuContext::new(api, true).unwrap_or_else(|e| {
                    panic!("no usable {name} adapter ({e}); install mesa-vulkan-drivers, or set BOKEH_GPU_TESTS=skip")
                });
                eprintln!("{name}: {}", ctx.info());
                (name, ctx)
            })
            .collect()
    })
    .clone()
}

/// The sample photo at `w × h` in `format` (with a varying alpha where there is one).
fn photo(w: u32, h: u32, format: PixelFormat) -> Frame {
    let img = image::open(SAMPLE).expect("sample").into_rgb8();
    let img = image::imageops::resize(&img, w, h, image::imageops::FilterType::Triangle);
    let bpp = format.bytes_per_pixel();
    let mut data = vec![0u8; (w * h) as usize * bpp];
    for (i, (px, out)) in img.pixels().zip(data.chunks_exact_mut(bpp)).enumerate() {
        let [r, g, b] = px.0;
        match format {
            PixelFormat::Rgb8 => out.copy_from_slice(&[r, g, b]),
            PixelFormat::Rgba8 => out.copy_from_slice(&[r, g, b, (i * 7 % 256) as u8]),
            PixelFormat::Bgra8 => out.copy_from_slice(&[b, g, r, (i * 13 % 256) as u8]),
            PixelFormat::Gray8 => out[0] = ((r as u32 * 3 + g as u32 * 6 + b as u32) / 10) as u8,
            _ => unreachable!("test formats"),
        }
    }
    Frame::from_vec(data, w, h, format).expect("frame")
}

/// The frozen model mask of the sample, at a smaller size so the upsampling stage interpolates.
fn mask() -> Mask {
    let img = image::open(MASK).expect("mask").into_luma8();
    let img = image::imageops::resize(&img, 64, 75, image::imageops::FilterType::Triangle);
    Mask::from_gray8(img.as_raw(), 64, 75).expect("mask")
}

fn background() -> Frame {
    photo(97, 61, PixelFormat::Rgb8)
}

struct Diff {
    max: u8,
    mean: f64,
}

fn diff(a: &Frame, b: &Frame) -> Diff {
    assert_eq!((a.width(), a.height(), a.format()), (b.width(), b.height(), b.format()));
    let d: Vec<u8> = a.data().iter().zip(b.data()).map(|(x, y)| x.abs_diff(*y)).collect();
    Diff { max: d.iter().copied().max().unwrap_or(0), mean: d.iter().map(|&v| v as f64).sum::<f64>() / d.len() as f64 }
}

fn run(pipeline: &mut Pipeline, input: FrameRef<'_>, mask: &Mask) -> Frame {
    let format = pipeline.options().output_format(input.format());
    let mut out = Frame::new(input.width(), input.height(), format).expect("out");
    pipeline.process_with_mask(input, mask, &mut out.as_mut()).expect("process");
    out
}

/// What a frame looks like. For a cutout (straight alpha) that is its colour times its alpha:
/// a decontaminated edge colour is `(I − (1 − m)·B) / m`, so at 1/255 coverage a rounding
/// difference in the mask of 1e-5 moves the stored colour by a dozen codes (seen on an H100 with
/// a grey frame) that any compositor multiplies by 1/255 again.
fn visible(frame: Frame, mode: Mode) -> Frame {
    if mode != Mode::Cutout {
        return frame;
    }
    let (w, h, format) = (frame.width(), frame.height(), frame.format());
    let mut data = frame.into_vec();
    for px in data.chunks_exact_mut(4) {
        let a = u32::from(px[3]);
        for c in &mut px[..3] {
            *c = ((u32::from(*c) * a + 127) / 255) as u8;
        }
    }
    Frame::from_vec(data, w, h, format).expect("frame")
}

fn check(name: &str, options: Options, frame: &Frame, mask: &Mask) {
    let mut cpu = Pipeline::new(segmenter(), options.clone()).expect("cpu pipeline");
    let expected = visible(run(&mut cpu, frame.as_ref(), mask), options.mode);
    for (api, ctx) in contexts() {
        let mut gpu = Pipeline::with_gpu(segmenter(), options.clone(), ctx).expect("gpu pipeline");
        assert!(gpu.uses_gpu());
        // Twice: the second frame reuses every buffer and bind group.
        for round in 0..2 {
            let got = visible(run(&mut gpu, frame.as_ref(), mask), options.mode);
            let d = diff(&got, &expected);
            if round == 0 {
                eprintln!("{api} {name}: max {} mean {:.4}", d.max, d.mean);
            }
            assert!(
                d.max <= MAX_DIFF && d.mean <= MEAN_DIFF,
                "{api} {name} round {round}: max {} mean {:.4} (allowed {MAX_DIFF}, {MEAN_DIFF})",
                d.max,
                d.mean
            );
        }
    }
}

#[test]
fn every_mode_and_format_matches_the_cpu() {
    let mask = mask();
    let bg = background();
    // Odd widths make rows that do not fill whole 32-bit words.
    for (w, h) in [(161, 121), (128, 150)] {
        for format in [PixelFormat::Rgb8, PixelFormat::Rgba8, PixelFormat::Bgra8, PixelFormat::Gray8] {
            let frame = photo(w, h, format);
            for mode in [Mode::Blur, Mode::Replace, Mode::Cutout, Mode::Mask] {
                // Refined (the mask made on the CPU and uploaded) and decontaminated, and neither
                // (the mask upsampled on the GPU; edge colours as they are).
                for refine in [Some(Refine::default()), None] {
                    let options = Options::default()
                        .with_mode(mode)
                        .with_background(bg.clone())
                        .with_refine(refine)
                        .with_decontaminate(refine.is_some());
                    let name = format!("{w}x{h} {format:?} {mode:?} refine+decontaminate {}", refine.is_some());
                    check(&name, options, &frame, &mask);
                }
            }
        }
    }
}

#[test]
fn both_kernels_at_every_strength_match_the_cpu() {
    let mask = mask();
    // With a few clipped highlights for the bloom to work on (near-white ramps included).
    let mut data = photo(150, 101, PixelFormat::Rgba8).into_vec();
    for (i, px) in data.chunks_exact_mut(4).enumerate().filter(|(i, _)| i % 37 < 3) {
        px[..3].copy_from_slice(&[255, 250 - (i % 13) as u8, 235 + (i % 21) as u8]);
    }
    let frame = Frame::from_vec(data, 150, 101, PixelFormat::Rgba8).expect("frame");
    for blur in [BlurKind::Disc, BlurKind::Gaussian, BlurKind::Hexagon] {
        for strength in [0.0, 0.01, 0.03, 0.1, Options::MAX_STRENGTH] {
            for bloom in [1.0, Options::DEFAULT_BLOOM, 30.0] {
                let options = Options::default().with_blur(blur).with_strength(strength).with_bloom(bloom);
                check(&format!("{blur:?} strength {strength} bloom {bloom}"), options, &frame, &mask);
            }
        }
    }
}

#[test]
fn focus_falloff_matches_the_cpu() {
    // Each reduced cell's aperture comes from its distance to the person: the GPU computes the
    // same integer distances another way and must choose the same apertures.
    let mask = mask();
    let frame = photo(150, 101, PixelFormat::Rgba8);
    // Not vacuous: the falloff changes the picture.
    let mut cpu = Pipeline::new(segmenter(), Options::default()).expect("cpu");
    let plain = run(&mut cpu, frame.as_ref(), &mask);
    cpu.set_options(Options::default().with_focus_falloff(Some(0.2))).expect("options");
    let d = diff(&run(&mut cpu, frame.as_ref(), &mask), &plain);
    assert!(d.max > 20, "falloff changes the background: max {}", d.max);
    for blur in [BlurKind::Disc, BlurKind::Hexagon] {
        for strength in [0.01, 0.05, Options::MAX_STRENGTH] {
            for falloff in [0.02, 0.2, 1.0] {
                let options =
                    Options::default().with_blur(blur).with_strength(strength).with_focus_falloff(Some(falloff));
                check(&format!("{blur:?} strength {strength} falloff {falloff}"), options, &frame, &mask);
            }
        }
    }
}

#[test]
fn the_whole_pipeline_with_the_model_matches_the_cpu() {
    // Preprocessing on the GPU feeds the model slightly different floats (another summation
    // order), so the model's mask may move by a hair; the same tolerance still holds. With
    // detail passes (photos) the mask is made on the CPU, uploaded and refined on the GPU.
    let frame = photo(200, 150, PixelFormat::Rgb8);
    for passes in [0, 2] {
        let options = Options::default().with_detail_passes(passes);
        let mut cpu = Pipeline::new(segmenter(), options.clone()).expect("cpu");
        let expected = cpu.process(frame.as_ref()).expect("cpu frame");
        let expected_mask = cpu.mask().to_gray8();
        // The model in tract (auto on a software adapter) and on the GPU (asked for).
        for ((api, ctx), model) in contexts().into_iter().flat_map(|c| [(c.clone(), Backend::Auto), (c, Backend::Gpu)])
        {
            let options = options.clone().with_model_backend(model);
            let mut gpu = Pipeline::with_gpu(segmenter(), options, Arc::clone(&ctx)).expect("gpu");
            let on_gpu = model == Backend::Gpu || !ctx.info().software;
            let note = gpu.model_description();
            assert_eq!(note.starts_with("GPU: "), on_gpu, "{api} {model:?}: {note}");
            let got = gpu.process(frame.as_ref()).expect("gpu frame");
            let d = diff(&got, &expected);
            eprintln!("{api} pixels, model {model:?}, {passes} detail passes: max {} mean {:.4}", d.max, d.mean);
            assert!(d.max <= MAX_DIFF && d.mean <= MEAN_DIFF, "{api} {passes}: max {} mean {:.4}", d.max, d.mean);
            // The mask the GPU pipeline reports (read back on request) is the CPU's.
            let m = diff(&gpu.mask().to_gray8(), &expected_mask);
            assert!(m.max <= MAX_DIFF, "{api} {passes} mask: max {}", m.max);
        }
    }
}

#[test]
fn a_video_stream_on_the_gpu_matches_the_cpu_stream() {
    // A Stream preprocesses on its worker (CPU), so its pipeline uploads each frame after
    // inference: alternating pictures catch a stale upload (the last frame's pixels composited
    // with this frame's mask), which would differ by far more than the tolerance.
    if contexts().is_empty() {
        return;
    }
    let a = photo(160, 120, PixelFormat::Rgb8);
    let mut flipped = a.data().to_vec();
    for row in flipped.chunks_exact_mut(160 * 3) {
        let pixels: Vec<[u8; 3]> = row.chunks_exact(3).rev().map(|p| [p[0], p[1], p[2]]).collect();
        row.copy_from_slice(pixels.as_flattened());
    }
    let b = Frame::from_vec(flipped, 160, 120, PixelFormat::Rgb8).expect("frame");
    let outputs = |backend: Backend, model: Backend, tracking: bool| {
        let mut options =
            Options::default().with_temporal(Some(Temporal::default())).with_backend(backend).with_model_backend(model);
        if !tracking {
            options = options.with_tracking(None);
        }
        let mut stream = bokeh::Stream::new(segmenter(), options).expect("stream");
        if model == Backend::Gpu {
            assert!(stream.model_description().starts_with("GPU: "), "{}", stream.model_description());
        }
        let mut out = Frame::new(160, 120, PixelFormat::Rgb8).expect("out");
        let mut frames = Vec::new();
        for frame in [&a, &b, &a, &b] {
            if stream.push(frame.as_ref(), &mut out.as_mut()).expect("push") {
                frames.push(out.clone());
            }
        }
        while stream.finish(&mut out.as_mut()).expect("finish") {
            frames.push(out.clone());
        }
        frames
    };
    // The model in tract on the inference thread, then on the GPU; with the tracking crop
    // (sampled on the CPU) and without (the worker preprocesses on the GPU).
    for tracking in [true, false] {
        let cpu = outputs(Backend::Cpu, Backend::Auto, tracking);
        assert_eq!(cpu.len(), 4);
        for model in [Backend::Auto, Backend::Gpu] {
            let gpu = outputs(Backend::Gpu, model, tracking);
            assert_eq!(gpu.len(), 4);
            for (i, (g, c)) in gpu.iter().zip(&cpu).enumerate() {
                let d = diff(g, c);
                let what = format!("stream frame {i}, model {model:?}, tracking {tracking}");
                eprintln!("{what}: max {} mean {:.4}", d.max, d.mean);
                assert!(d.max <= MAX_DIFF && d.mean <= MEAN_DIFF, "{what}: max {} mean {:.4}", d.max, d.mean);
            }
        }
    }
}

#[test]
fn the_model_on_the_gpu_needs_the_pixel_stages_there() {
    let options = Options::default().with_model_backend(Backend::Gpu);
    let err = Pipeline::new(segmenter(), options.clone()).expect_err("pixel stages on the CPU");
    assert!(err.to_string().contains("the model on the GPU needs the pixel stages there too"), "{err}");
    let mut pipeline = Pipeline::new(segmenter(), Options::default()).expect("cpu");
    assert!(pipeline.set_options(options).is_err());
    assert_eq!(pipeline.model_description(), "CPU (tract)", "the old options stay");
}

#[test]
fn frames_of_changing_size_and_format_reuse_the_pipeline() {
    let mask = mask();
    for (api, ctx) in contexts() {
        let mut gpu = Pipeline::with_gpu(segmenter(), Options::default(), ctx).expect("gpu");
        let mut cpu = Pipeline::new(segmenter(), Options::default()).expect("cpu");
        for (w, h, format) in
            [(64, 48, PixelFormat::Rgb8), (161, 121, PixelFormat::Bgra8), (33, 17, PixelFormat::Gray8)]
        {
            let frame = photo(w, h, format);
            let d = diff(&run(&mut gpu, frame.as_ref(), &mask), &run(&mut cpu, frame.as_ref(), &mask));
            assert!(d.max <= MAX_DIFF && d.mean <= MEAN_DIFF, "{api} {w}x{h}: max {} mean {:.4}", d.max, d.mean);
        }
    }
}

#[test]
fn a_strided_frame_gives_the_packed_result() {
    let mask = mask();
    let frame = photo(75, 40, PixelFormat::Rgb8);
    let stride = 75 * 3 + 9;
    let mut padded = vec![0xAAu8; stride * 40];
    for y in 0..40 {
        padded[y * stride..y * stride + 225].copy_from_slice(&frame.data()[y * 225..(y + 1) * 225]);
    }
    let strided = FrameRef::new(&padded, 75, 40, stride, PixelFormat::Rgb8).expect("strided");
    for (api, ctx) in contexts() {
        let mut gpu = Pipeline::with_gpu(segmenter(), Options::default(), ctx).expect("gpu");
        let a = run(&mut gpu, frame.as_ref(), &mask);
        let b = run(&mut gpu, strided, &mask);
        assert_eq!(a.data(), b.data(), "{api}");
    }
}

#[test]
fn auto_never_fails_and_says_where_it_runs() {
    let p = Pipeline::new(segmenter(), Options::default().with_backend(Backend::Auto)).expect("auto");
    let note = p.backend_description();
    assert!(note.starts_with("GPU: ") || note.starts_with("CPU"), "{note}");
    // Auto skips software adapters: on a machine with only Mesa it is the CPU, with the reason.
    if !p.uses_gpu() {
        assert!(note.contains("no GPU:"), "{note}");
    }
}

/// Largest difference between two masks of the same size.
fn mask_diff(a: &Mask, b: &Mask) -> f32 {
    assert_eq!((a.width(), a.height()), (b.width(), b.height()));
    a.data().iter().zip(b.data()).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

#[test]
fn the_refinement_stage_matches_the_cpu_refiner() {
    // Large enough that the coefficients are computed at a reduced resolution (factor 4 at
    // 640x480, 7 at 1280x720), with settings that exercise the ramp too.
    let low = mask();
    for (w, h, format) in [(640, 480, PixelFormat::Rgb8), (1280, 720, PixelFormat::Bgra8), (75, 40, PixelFormat::Gray8)]
    {
        let frame = photo(w, h, format);
        let mut upsampled = Mask::new(w, h);
        low.resize_into(&mut upsampled);
        let settings = [
            Refine::default(),
            Refine::default().with_ramp(0.4, 0.3),
            Refine::default().with_guided(0.05, 1e-3),
            Refine::default().with_guided(0.0, 1e-4).with_ramp(0.6, 0.5),
        ];
        for refine in settings {
            let mut expected = upsampled.clone();
            Refiner::new().refine(frame.as_ref(), &mut expected, &refine).expect("cpu refine");
            // Not a vacuous comparison: the refinement moves the mask (unless it has nothing to
            // do: a window under a pixel and no ramp).
            let active = refine.radius_for(w, h) >= 1.0 || refine.threshold != 0.5 || refine.feather < 1.0;
            assert_eq!(mask_diff(&expected, &upsampled) > 0.2, active, "{w}x{h} {refine:?} changes the mask");
            for (api, ctx) in contexts() {
                let mut px = GpuPixels::new(ctx);
                let mut got = Mask::default();
                // Twice: the second run reuses every buffer and bind group.
                for _ in 0..2 {
                    px.upload(frame.as_ref()).expect("upload");
                    px.set_mask(&upsampled).expect("mask");
                    px.refine(&refine, None).expect("refine");
                    px.read_mask(&mut got).expect("read back");
                    let d = mask_diff(&got, &expected);
                    eprintln!("{api} {w}x{h} {format:?} {refine:?}: max {d:e}");
                    assert!(d <= 1.0 / 255.0, "{api} {w}x{h} {format:?} {refine:?}: differs by {d}");
                }
            }
        }
    }
}

#[test]
fn refinement_smoothed_over_time_matches_the_cpu() {
    // Video: the model's mask, smoothed, refined with coefficients smoothed over time; three
    // frames that move, then a reset.
    let options = Options::default().with_temporal(Some(Temporal::default()));
    let frames: Vec<Frame> = (0..3)
        .map(|i| {
            let f = photo(240 + 8 * i, 180, PixelFormat::Rgb8);
            let data =
                f.data().chunks_exact(240 * 3 + 24 * i as usize).flat_map(|row| row[..240 * 3].to_vec()).collect();
            Frame::from_vec(data, 240, 180, PixelFormat::Rgb8).expect("frame")
        })
        .collect();
    let mut cpu = Pipeline::new(segmenter(), options.clone()).expect("cpu");
    let expected: Vec<(Frame, Frame)> =
        frames.iter().map(|f| (cpu.process(f.as_ref()).expect("cpu frame"), cpu.mask().to_gray8())).collect();
    for (api, ctx) in contexts() {
        let mut gpu = Pipeline::with_gpu(segmenter(), options.clone(), ctx).expect("gpu");
        for (i, (frame, (picture, mask))) in frames.iter().zip(&expected).enumerate() {
            let got = gpu.process(frame.as_ref()).expect("gpu frame");
            let (d, m) = (diff(&got, picture), diff(&gpu.mask().to_gray8(), mask));
            eprintln!(
                "{api} frame {i}: picture max {} mean {:.4}; mask max {} mean {:.4}",
                d.max, d.mean, m.max, m.mean
            );
            assert!(d.max <= MAX_DIFF && d.mean <= MEAN_DIFF, "{api} frame {i}: max {} mean {:.4}", d.max, d.mean);
            assert!(m.max <= MAX_DIFF && m.mean <= MEAN_DIFF, "{api} frame {i} mask: max {} mean {:.4}", m.max, m.mean);
        }
    }
}

/// A frame stored turned and mirrored, with the model's mask (the GPU backend samples it on the
/// CPU, see `pixels.rs`) and the output turned upright: the same picture as the CPU backend's.
#[test]
fn turned_frames_on_the_gpu_match_the_cpu() {
    let o = bokeh::Orientation::new(bokeh::Rotation::Cw270, true);
    let options = Options::default().with_orientation(o).with_upright_output(true);
    let input = photo(150, 110, PixelFormat::Rgba8);
    let cpu = Pipeline::new(segmenter(), options.clone()).expect("cpu").process(input.as_ref()).expect("cpu frame");
    assert_eq!((cpu.width(), cpu.height()), (110, 150));
    for (api, ctx) in contexts() {
        let mut gpu = Pipeline::with_gpu(segmenter(), options.clone(), ctx).expect("gpu");
        let out = gpu.process(input.as_ref()).expect("gpu frame");
        let d = diff(&out, &cpu);
        eprintln!("{api} turned: max {} mean {:.4}", d.max, d.mean);
        assert!(d.max <= MAX_DIFF && d.mean <= MEAN_DIFF, "{api} turned: max {} mean {:.4}", d.max, d.mean);
    }
}

/// The model on the GPU (`src/gpu/model.rs`) against tract: the one place its tolerance is
/// declared, in probability (0..1).
const MODEL_TOLERANCE: f32 = 1e-3;

/// The bundled sample, MediaPipe's golden inputs and the shared photos (when `../shared` is
/// there), each through a tract session and a GPU session of the same segmenter.
#[test]
fn the_model_on_the_gpu_matches_tract() {
    let mut inputs: Vec<(String, image::RgbImage)> =
        vec![("grace_hopper.jpg".into(), image::open(SAMPLE).expect("sample").into_rgb8())];
    if let Some(shared) = common::shared_dir() {
        for dir in [shared.join("models/reference"), shared.join("testdata/photos/images")] {
            let mut paths: Vec<_> = std::fs::read_dir(&dir).expect("shared dir").flatten().map(|e| e.path()).collect();
            paths.sort();
            for path in paths.into_iter().filter(|p| p.extension().is_some_and(|e| e == "png" || e == "jpg")) {
                let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                inputs.push((name, image::open(&path).expect("shared image").into_rgb8()));
            }
        }
    }
    for (api, ctx) in contexts() {
        let mut cpu = segmenter().session();
        let mut gpu = segmenter().session();
        gpu.set_gpu(Some(Arc::clone(&ctx)));
        assert!(gpu.model_description().starts_with("GPU: "), "{api}: {}", gpu.model_description());
        assert_eq!(cpu.model_description(), "CPU (tract)");
        let (mut worst, mut at) = (0.0f32, String::new());
        for (name, img) in &inputs {
            let frame = FrameRef::from_rgb_image(img).expect("frame");
            let expected = cpu.segment(frame).expect("tract");
            let got = gpu.segment(frame).expect("gpu model");
            assert_eq!((got.width(), got.height()), (expected.width(), expected.height()), "{api} {name}");
            let d = mask_diff(&expected, &got);
            assert!(d <= MODEL_TOLERANCE, "{api} {name}: the GPU's mask differs from tract's by {d:.2e}");
            if d >= worst {
                (worst, at) = (d, name.clone());
            }
        }
        eprintln!("{api}: {} inputs, worst |gpu - tract| = {worst:.2e} ({at})", inputs.len());
    }
}

/// The result left on the GPU is the one `process_into` gives, byte for byte, for every mode.
#[test]
fn a_result_kept_on_the_gpu_is_the_downloaded_one() {
    use bokeh::gpu::wgpu;
    let frame = photo(64, 48, PixelFormat::Rgba8);
    for (api, ctx) in contexts() {
        for mode in [Mode::Blur, Mode::Cutout, Mode::Mask] {
            let options = Options::default().with_mode(mode).with_model_backend(Backend::Gpu);
            let mut gpu = Pipeline::with_gpu(segmenter(), options, Arc::clone(&ctx)).expect("gpu");
            let expected = gpu.process(frame.as_ref()).expect("downloaded");
            let kept = gpu.process_on_gpu(frame.as_ref()).expect("kept on the GPU");
            assert_eq!((kept.width, kept.height, kept.format), (64, 48, expected.format()), "{api} {mode:?}");
            let len = (64 * 48 * kept.bytes_per_pixel) as u64;
            let read = ctx.device().create_buffer(&wgpu::BufferDescriptor {
                label: None,
                size: len.next_multiple_of(4),
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
            let mut encoder = ctx.device().create_command_encoder(&Default::default());
            encoder.copy_buffer_to_buffer(&kept.buffer, 0, &read, 0, len.next_multiple_of(4));
            ctx.queue().submit([encoder.finish()]);
            read.slice(..).map_async(wgpu::MapMode::Read, |r| r.expect("map"));
            ctx.device().poll(wgpu::PollType::wait_indefinitely()).expect("poll");
            let bytes = read.slice(..).get_mapped_range().expect("mapped");
            assert_eq!(&bytes[..len as usize], expected.data(), "{api} {mode:?}");
        }
    }
    let mut cpu = Pipeline::new(segmenter(), Options::default()).expect("cpu");
    assert!(cpu.process_on_gpu(frame.as_ref()).is_err(), "the CPU backend has nothing on a GPU");
}

/// A frame handed in from a GPU buffer gives the pictures of the same frame uploaded from the host.
#[test]
fn a_frame_already_on_the_gpu_is_taken_as_uploaded() {
    use bokeh::gpu::wgpu;
    let frame = photo(64, 48, PixelFormat::Rgba8);
    let mask = mask();
    for (api, ctx) in contexts() {
        let run = |from_gpu: bool| {
            let mut px = GpuPixels::new(Arc::clone(&ctx));
            if from_gpu {
                let source = ctx.device().create_buffer(&wgpu::BufferDescriptor {
                    label: None,
                    size: 16 + frame.data().len() as u64,
                    usage: wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                });
                ctx.queue().write_buffer(&source, 16, frame.data());
                px.upload_from(&source, 16, 64, 48, PixelFormat::Rgba8).expect("from the GPU");
                assert!(px.upload_from(&source, 20, 64, 48, PixelFormat::Rgba8).is_err(), "past the end");
            } else {
                px.upload(frame.as_ref()).expect("upload");
            }
            px.upsample(&mask).expect("upsample");
            px.blur(&bokeh::BlurParams::new(BlurKind::Disc, 4.0)).expect("blur");
            px.composite(Mode::Blur).expect("composite");
            let mut out = Frame::new(64, 48, PixelFormat::Rgba8).expect("out");
            px.download(Mode::Blur, &mut out.as_mut()).expect("download");
            out
        };
        assert_eq!(run(true).data(), run(false).data(), "{api}");
    }
}
