//! Blur stage: the fast mask-weighted disc (and Gaussian) blur against `image`'s `fast_blur`
//! (an unweighted sRGB box approximation of a Gaussian) at every size, and against the exact
//! full-resolution reference disc where that finishes in reasonable time (640×480), and the disc
//! with focus falloff beside the plain one.

mod common;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use std::hint::black_box;

use bokeh::blur::reference;
use bokeh::{BlurKind, BlurParams, BlurredBackground, Options};

fn blur(c: &mut Criterion) {
    let mut g = c.benchmark_group("blur");
    g.sample_size(10);
    let mut bg = BlurredBackground::new();
    for (w, h) in common::SIZES {
        let (frame, mask) = (common::frame(w, h), common::mask(w, h));
        let radius = Options::DEFAULT_STRENGTH * (w as f32).hypot(h as f32);
        let id = |name| BenchmarkId::new(name, common::label(w, h));
        g.bench_function(id("disc_fast"), |b| {
            b.iter(|| bg.compute(frame.as_ref(), &mask, &BlurParams::new(BlurKind::Disc, radius)).expect("blur"))
        });
        // Focus falloff at 20% of the diagonal: a distance transform and an aperture per cell.
        let falloff = 0.2 * (w as f32).hypot(h as f32);
        g.bench_function(id("disc_falloff"), |b| {
            b.iter(|| {
                bg.compute(frame.as_ref(), &mask, &BlurParams::new(BlurKind::Disc, radius).with_falloff(Some(falloff)))
                    .expect("blur")
            })
        });
        g.bench_function(id("gaussian_fast"), |b| {
            b.iter(|| bg.compute(frame.as_ref(), &mask, &BlurParams::new(BlurKind::Gaussian, radius)).expect("blur"))
        });
        let img = image::RgbImage::from_raw(w, h, frame.data().to_vec()).expect("image");
        g.bench_function(id("image_fast_blur"), |b| {
            b.iter(|| black_box(image::imageops::fast_blur(&img, radius / 2.0)))
        });
        if w <= 640 {
            g.bench_function(id("disc_reference"), |b| {
                b.iter(|| black_box(reference::disc_blur(frame.as_ref(), &mask, radius)))
            });
        }
    }
    g.finish();
}

criterion_group!(benches, blur);
criterion_main!(benches);
