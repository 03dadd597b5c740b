//! Preprocess stage: frame → model input (256×144, sampled as MediaPipe does, normalised, NCHW), against
//! `image`'s triangle resize of the same frame as the naive baseline.

mod common;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use std::hint::black_box;

fn preprocess(c: &mut Criterion) {
    let segmenter = bokeh::Segmenter::new().expect("model");
    let mut g = c.benchmark_group("preprocess");
    g.sample_size(20);
    for (w, h) in common::SIZES {
        let frame = common::frame(w, h);
        let mut session = segmenter.session();
        g.bench_function(BenchmarkId::new("bokeh", common::label(w, h)), |b| {
            b.iter(|| session.preprocess(frame.as_ref()).expect("preprocess"))
        });
        let img = image::RgbImage::from_raw(w, h, frame.data().to_vec()).expect("image");
        g.bench_function(BenchmarkId::new("image_resize_triangle", common::label(w, h)), |b| {
            b.iter(|| black_box(image::imageops::resize(&img, 256, 144, image::imageops::FilterType::Triangle)))
        });
    }
    g.finish();
}

criterion_group!(benches, preprocess);
criterion_main!(benches);
