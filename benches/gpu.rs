//! The GPU backend, per stage and per frame, beside the CPU backend on the same frames.
//!
//! * `model/{gpu,tract}`: the model alone on the landscape input (256×144), on the GPU (input up,
//!   output back, `src/gpu/model.rs`) and in tract on this thread;
//! * `gpu_stages/*`: one stage at a time, each submitted and waited for;
//! * `gpu_frame/with_transfers`: upload, preprocess (with the tensor's readback), upsample,
//!   refine, blur, composite and the output's readback: what `Pipeline` does around the model;
//! * `gpu_frame/resident`: upsample + refine + blur + composite with the frame already on the
//!   GPU and the result left there (a renderer that displays it directly);
//! * `gpu_frame/with_model`: the whole `Pipeline` on the GPU backend, the model included;
//! * `cpu_frame/pixels`: the CPU backend doing the same work (preprocess + pixel stages, the
//!   default refinement included); `cpu_frame/with_model`: the whole CPU `Pipeline`.
//!
//! Frames are RGBA (what cameras and GPU surfaces hand out). `BOKEH_BENCH_SIZES=1920x1080,...`
//! picks the sizes (default 1280x720, 1920x1080, 3840x2160); the adapter is the best wgpu
//! finds (`WGPU_BACKEND` narrows it), and its name is printed first.

mod common;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

use bokeh::gpu::{GpuApi, GpuContext, GpuPixels};
use bokeh::{
    BlurKind, BlurParams, Frame, Layout, Mask, Mode, Normalization, Options, Pipeline, PixelFormat, Refine, Sampling,
    Segmenter,
};

fn sizes() -> Vec<(u32, u32)> {
    let spec = std::env::var("BOKEH_BENCH_SIZES").unwrap_or_else(|_| "1280x720,1920x1080,3840x2160".into());
    spec.split(',')
        .filter_map(|s| s.split_once('x'))
        .filter_map(|(w, h)| Some((w.trim().parse().ok()?, h.trim().parse().ok()?)))
        .collect()
}

fn rgba(w: u32, h: u32) -> Frame {
    let rgb = common::frame(w, h);
    let data = rgb.data().chunks_exact(3).flat_map(|p| [p[0], p[1], p[2], 255]).collect();
    Frame::from_vec(data, w, h, PixelFormat::Rgba8).expect("frame")
}

fn gpu(c: &mut Criterion) {
    let ctx = GpuContext::new(GpuApi::Any, true).expect("a GPU adapter (install mesa-vulkan-drivers for lavapipe)");
    eprintln!("adapter: {}", ctx.info());
    let segmenter = Segmenter::new().expect("model");
    let low = common::mask(256, 144);
    let norm = Normalization { mean: [0.0; 3], std: [1.0; 3] };
    let mut tensor = Vec::new();
    let refine = Refine::default();
    {
        let frame = rgba(1280, 720);
        let mut tract = segmenter.session();
        let mut on_gpu = segmenter.session();
        on_gpu.set_gpu(Some(ctx.clone()));
        eprintln!("model on {}", on_gpu.model_description());
        let (pt, pg) =
            (tract.preprocess(frame.as_ref()).expect("pre"), on_gpu.preprocess(frame.as_ref()).expect("pre"));
        let mut mask = Mask::default();
        on_gpu.infer_into(pg, &mut mask).expect("warm");
        let mut g = c.benchmark_group("model");
        g.sample_size(20);
        g.bench_function("gpu/256x144", |b| b.iter(|| on_gpu.infer_into(pg, &mut mask).expect("gpu model")));
        g.bench_function("tract/256x144", |b| b.iter(|| tract.infer_into(pt, &mut mask).expect("tract")));
        g.finish();
    }
    for (w, h) in sizes() {
        let frame = rgba(w, h);
        let radius = Options::DEFAULT_STRENGTH * (w as f32).hypot(h as f32);
        let mut out = Frame::new(w, h, PixelFormat::Rgba8).expect("out");
        let mut px = GpuPixels::new(ctx.clone());
        // Warm: every buffer and bind group exists before timing.
        px.upload(frame.as_ref()).expect("upload");
        px.preprocess((256, 144), Sampling::Bilinear, norm, Layout::Nchw, &mut tensor).expect("preprocess");
        px.upsample(&low).expect("upsample");
        px.refine(&refine, None).expect("refine");
        px.blur(&BlurParams::new(BlurKind::Disc, radius)).expect("blur");
        px.composite(Mode::Blur).expect("composite");
        px.download(Mode::Blur, &mut out.as_mut()).expect("download");

        let mut g = c.benchmark_group("gpu_stages");
        g.sample_size(20);
        let id = |name| BenchmarkId::new(name, common::label(w, h));
        g.bench_function(id("upload"), |b| {
            b.iter(|| {
                px.upload(frame.as_ref()).expect("upload");
                px.finish().expect("wait")
            })
        });
        g.bench_function(id("preprocess"), |b| {
            b.iter(|| {
                px.preprocess((256, 144), Sampling::Bilinear, norm, Layout::Nchw, &mut tensor).expect("preprocess")
            })
        });
        g.bench_function(id("upsample"), |b| {
            b.iter(|| {
                px.upsample(&low).expect("upsample");
                px.finish().expect("wait")
            })
        });
        g.bench_function(id("refine"), |b| {
            b.iter(|| {
                px.refine(&refine, None).expect("refine");
                px.finish().expect("wait")
            })
        });
        g.bench_function(id("blur"), |b| {
            b.iter(|| {
                px.blur(&BlurParams::new(BlurKind::Disc, radius)).expect("blur");
                px.finish().expect("wait")
            })
        });
        g.bench_function(id("composite"), |b| {
            b.iter(|| {
                px.composite(Mode::Blur).expect("composite");
                px.finish().expect("wait")
            })
        });
        g.bench_function(id("download"), |b| b.iter(|| px.download(Mode::Blur, &mut out.as_mut()).expect("download")));
        g.finish();

        let mut g = c.benchmark_group("gpu_frame");
        g.sample_size(20);
        g.bench_function(id("with_transfers"), |b| {
            b.iter(|| {
                px.upload(frame.as_ref()).expect("upload");
                px.preprocess((256, 144), Sampling::Bilinear, norm, Layout::Nchw, &mut tensor).expect("preprocess");
                px.upsample(&low).expect("upsample");
                px.refine(&refine, None).expect("refine");
                px.blur(&BlurParams::new(BlurKind::Disc, radius)).expect("blur");
                px.composite(Mode::Blur).expect("composite");
                px.download(Mode::Blur, &mut out.as_mut()).expect("download")
            })
        });
        g.bench_function(id("resident"), |b| {
            b.iter(|| {
                px.upsample(&low).expect("upsample");
                px.refine(&refine, None).expect("refine");
                px.blur(&BlurParams::new(BlurKind::Disc, radius)).expect("blur");
                px.composite(Mode::Blur).expect("composite");
                px.finish().expect("wait")
            })
        });
        let mut whole = Pipeline::with_gpu(&segmenter, Options::default(), ctx.clone()).expect("gpu pipeline");
        whole.process_into(frame.as_ref(), &mut out.as_mut()).expect("warm");
        g.bench_function(id("with_model"), |b| {
            b.iter(|| whole.process_into(frame.as_ref(), &mut out.as_mut()).expect("gpu frame"))
        });
        g.finish();

        let mut g = c.benchmark_group("cpu_frame");
        g.sample_size(10);
        let mut cpu = Pipeline::new(&segmenter, Options::default()).expect("cpu");
        let mut session = segmenter.session();
        g.bench_function(id("pixels"), |b| {
            b.iter(|| {
                session.preprocess(frame.as_ref()).expect("preprocess");
                cpu.process_with_mask(frame.as_ref(), &low, &mut out.as_mut()).expect("process")
            })
        });
        g.bench_function(id("with_model"), |b| {
            b.iter(|| cpu.process_into(frame.as_ref(), &mut out.as_mut()).expect("cpu frame"))
        });
        g.finish();
    }
}

criterion_group!(benches, gpu);
criterion_main!(benches);
