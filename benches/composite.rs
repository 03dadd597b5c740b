//! Composite stage (with the mask upsampling it needs): replacement over a fitted background in
//! linear light, against a naive sRGB blend of the same pixels; and the copy that turns an
//! output upright for a camera that stores its frames sideways ([`bokeh::orient_into`]), against
//! a plain copy.

mod common;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

use bokeh::{orient_into, Frame, Mode, Options, Orientation, Pipeline, Rotation, Segmenter};

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
        let mut copy = Frame::new(w, h, frame.format()).expect("copy");
        g.bench_function(BenchmarkId::new("plain_copy", common::label(w, h)), |b| {
            b.iter(|| copy.as_mut().copy_from(frame.as_ref()).expect("copy"))
        });
        let mut turned = Frame::new(h, w, frame.format()).expect("turned");
        let sideways = Orientation::new(Rotation::Cw90, true);
        g.bench_function(BenchmarkId::new("turn_upright_90_mirrored", common::label(w, h)), |b| {
            b.iter(|| orient_into(frame.as_ref(), sideways, &mut turned.as_mut()).expect("turn"))
        });
    }
    g.finish();
}

criterion_group!(benches, composite);
criterion_main!(benches);
