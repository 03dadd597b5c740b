//! The whole frame: bokeh's sequential pipeline and its pipelined stream, against a naive
//! pipeline built from the plain model, a per-pixel bilinear upsample, `image`'s Gaussian-like
//! `fast_blur` and an sRGB blend (roughly what the MediaPipe + OpenCV peer does).

mod common;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

use bokeh::{Frame, ModelSpec, Options, Pipeline, Segmenter, Stream};

fn end_to_end(c: &mut Criterion) {
    let segmenter = Segmenter::new().expect("model");
    let plain_path = concat!(env!("CARGO_MANIFEST_DIR"), "/models/selfie_segmentation_landscape.onnx");
    let plain = Segmenter::from_onnx_path(plain_path, ModelSpec::mediapipe_selfie_landscape()).expect("plain");
    let mut g = c.benchmark_group("end_to_end");
    g.sample_size(20);
    for (w, h) in common::SIZES {
        let frame = common::frame(w, h);
        let id = |name| BenchmarkId::new(name, common::label(w, h));
        let mut out = Frame::new(w, h, frame.format()).expect("out");
        let mut pipeline = Pipeline::new(&segmenter, Options::default()).expect("pipeline");
        g.bench_function(id("bokeh_sequential"), |b| {
            b.iter(|| pipeline.process_into(frame.as_ref(), &mut out.as_mut()).expect("process"))
        });
        let mut stream = Stream::new(&segmenter, Options::default()).expect("stream");
        g.bench_function(id("bokeh_pipelined"), |b| {
            b.iter(|| stream.push(frame.as_ref(), &mut out.as_mut()).expect("push"))
        });
        let mut session = plain.session();
        let img = image::RgbImage::from_raw(w, h, frame.data().to_vec()).expect("image");
        let mut full = vec![0.0f32; (w * h) as usize];
        let mut naive = vec![0u8; (w * h * 3) as usize];
        let radius = Options::DEFAULT_STRENGTH * (w as f32).hypot(h as f32);
        g.bench_function(id("naive"), |b| {
            b.iter(|| {
                let low = session.segment(frame.as_ref()).expect("segment");
                common::naive_bilinear(low.data(), 256, 144, w as usize, h as usize, &mut full);
                let bg = image::imageops::fast_blur(&img, radius / 2.0);
                common::naive_blend(frame.data(), bg.as_raw(), &full, &mut naive);
            })
        });
    }
    g.finish();
}

criterion_group!(benches, end_to_end);
criterion_main!(benches);
