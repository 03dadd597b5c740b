//! Refinement stage: the guided filter over an upsampled model mask with the frame as guide
//! (the budget: 3 ms at 720p on two cores), against the upsampling it follows.

mod common;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

fn refine(c: &mut Criterion) {
    let low = common::mask(256, 144);
    let mut g = c.benchmark_group("refine");
    g.sample_size(30);
    for (w, h) in common::SIZES {
        let frame = common::frame(w, h);
        let up = low.resized(w, h);
        let mut mask = up.clone();
        let mut refiner = bokeh::Refiner::new();
        let settings = bokeh::Refine::default();
        g.bench_function(BenchmarkId::new("guided", common::label(w, h)), |b| {
            b.iter(|| {
                mask.data_mut().copy_from_slice(up.data());
                refiner.refine(frame.as_ref(), &mut mask, &settings).expect("refine")
            })
        });
        g.bench_function(BenchmarkId::new("copy_only", common::label(w, h)), |b| {
            b.iter(|| mask.data_mut().copy_from_slice(up.data()))
        });
    }
    g.finish();
}

criterion_group!(benches, refine);
criterion_main!(benches);
