//! Inference stage: the embedded NCHW landscape model against the plain conversion (NHWC input,
//! `Resize` ops) as the baseline, both through tract on the same input.

mod common;

use criterion::{criterion_group, criterion_main, Criterion};

fn inference(c: &mut Criterion) {
    let frame = common::frame(1280, 720);
    let embedded = bokeh::Segmenter::new().expect("model");
    let plain_path = concat!(env!("CARGO_MANIFEST_DIR"), "/models/selfie_segmentation_landscape.onnx");
    let plain = bokeh::Segmenter::from_onnx_path(plain_path, bokeh::ModelSpec::mediapipe_selfie_landscape())
        .expect("plain model");
    let mut g = c.benchmark_group("inference_256x144");
    g.sample_size(30);
    for (name, segmenter) in [("nchw_embedded", &embedded), ("plain_nhwc", &plain)] {
        let mut session = segmenter.session();
        let prepared = session.preprocess(frame.as_ref()).expect("preprocess");
        g.bench_function(name, |b| b.iter(|| session.infer(prepared).expect("infer")));
    }
    g.finish();
}

criterion_group!(benches, inference);
criterion_main!(benches);
