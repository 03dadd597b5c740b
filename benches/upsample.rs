//! Upsample stage: the model's 256×144 mask to frame size, against a naive per-pixel bilinear.

mod common;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

fn upsample(c: &mut Criterion) {
    let low = common::mask(256, 144);
    let mut g = c.benchmark_group("upsample");
    g.sample_size(30);
    for (w, h) in common::SIZES {
        let mut out = bokeh::Mask::new(w, h);
        g.bench_function(BenchmarkId::new("bokeh", common::label(w, h)), |b| b.iter(|| low.resize_into(&mut out)));
        g.bench_function(BenchmarkId::new("naive_bilinear", common::label(w, h)), |b| {
            b.iter(|| common::naive_bilinear(low.data(), 256, 144, w as usize, h as usize, out.data_mut()))
        });
    }
    g.finish();
}

criterion_group!(benches, upsample);
criterion_main!(benches);
