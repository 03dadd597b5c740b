//! Composite stage (with the mask upsampling it needs): replacement over a fitted background in
//! linear light, against a naive sRGB blend of the same pixels.

mod common;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

use bokeh::{Frame, Mode, Options, Pipeline, Segmenter};

fn composite(c: &mut Criterion) {
    let segmenter = Segmenter::new().expect("model");
    let mut g = c.benchmark_group("composite");
    g.sample_size(20);
    for (w, h) in common::SIZES {
        let (frame, mask) = (common::frame(w, h), common::mask(w, h));
        let background = common::frame(w / 2, h / 2);
        let options = Options::default().with_mode(Mode::Replace).with_background(background);
        let mut pipeline = Pipeline::new(&segmenter, options).expect("pipeline");
        let mut out = Frame::new(w, h, frame.format()).expect("out");
        g.bench_function(BenchmarkId::new("replace_linear", common::label(w, h)), |b| {
            b.iter(|| pipeline.process_with_mask(frame.as_ref(), &mask, &mut out.as_mut()).expect("composite"))
        });
        let bg = common::frame(w, h);
        let mut naive = vec![0u8; (w * h * 3) as usize];
        g.bench_function(BenchmarkId::new("naive_srgb_blend", common::label(w, h)), |b| {
            b.iter(|| common::naive_blend(frame.data(), bg.data(), mask.data(), &mut naive))
        });
    }
    g.finish();
}

criterion_group!(benches, composite);
criterion_main!(benches);
