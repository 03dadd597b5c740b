//! Blur and end-to-end benchmarks on the bundled sample photo.
//!
//! Each group holds the optimised path next to its plain baseline, so one run gives a ratio:
//! `cargo bench --bench blur`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use std::hint::black_box;

use bokeh::blur::reference;
use bokeh::{BlurKind, BlurredBackground, Frame, Mask, Options, Pipeline, Segmenter};

const SAMPLE: &[u8] = include_bytes!("../examples/data/grace_hopper.jpg");

/// The sample photo stretched to `w × h`, with a fixed soft mask (a centred ellipse).
fn inputs(w: u32, h: u32) -> (Frame, Mask) {
    let img = image::load_from_memory(SAMPLE).expect("sample decodes").into_rgb8();
    let img = image::imageops::resize(&img, w, h, image::imageops::FilterType::Triangle);
    let frame = Frame::from_vec(img.into_raw(), w, h, bokeh::PixelFormat::Rgb8).expect("frame");
    let mut mask = Mask::new(w, h);
    for y in 0..h {
        for x in 0..w {
            let d = ((x as f32 / w as f32 - 0.5) / 0.25).powi(2) + ((y as f32 / h as f32 - 0.6) / 0.45).powi(2);
            mask.data_mut()[(y * w + x) as usize] = (1.5 - d.sqrt() * 1.5).clamp(0.0, 1.0);
        }
    }
    (frame, mask)
}

fn blur(c: &mut Criterion) {
    // Small enough for the O(r²) reference to finish.
    let (w, h) = (320, 180);
    let (frame, mask) = inputs(w, h);
    let radius = Options::DEFAULT_STRENGTH * (w as f32).hypot(h as f32);
    let mut g = c.benchmark_group(format!("blur_{w}x{h}"));
    g.sample_size(20);
    let mut bg = BlurredBackground::new();
    g.bench_function("disc_fast", |b| {
        b.iter(|| bg.compute(frame.as_ref(), &mask, BlurKind::Disc, radius).expect("blur"))
    });
    g.bench_function("disc_reference", |b| b.iter(|| black_box(reference::disc_blur(frame.as_ref(), &mask, radius))));
    g.bench_function("gaussian_fast", |b| {
        b.iter(|| bg.compute(frame.as_ref(), &mask, BlurKind::Gaussian, radius).expect("blur"))
    });
    g.finish();

    let mut g = c.benchmark_group("blur_fast");
    g.sample_size(20);
    for (w, h) in [(1280, 720), (1920, 1080)] {
        let (frame, mask) = inputs(w, h);
        let radius = Options::DEFAULT_STRENGTH * (w as f32).hypot(h as f32);
        g.bench_function(BenchmarkId::new("disc", format!("{w}x{h}")), |b| {
            b.iter(|| bg.compute(frame.as_ref(), &mask, BlurKind::Disc, radius).expect("blur"))
        });
    }
    g.finish();
}

fn end_to_end(c: &mut Criterion) {
    let segmenter = Segmenter::new().expect("embedded model");
    let mut g = c.benchmark_group("pipeline");
    g.sample_size(20);
    for (w, h) in [(1280, 720), (1920, 1080)] {
        let (frame, mask) = inputs(w, h);
        let mut pipeline = Pipeline::new(&segmenter, Options::default()).expect("pipeline");
        let mut out = Frame::new(w, h, frame.format()).expect("out");
        g.bench_function(BenchmarkId::new("with_model", format!("{w}x{h}")), |b| {
            b.iter(|| pipeline.process_into(frame.as_ref(), &mut out.as_mut()).expect("process"))
        });
        g.bench_function(BenchmarkId::new("fixed_mask", format!("{w}x{h}")), |b| {
            b.iter(|| pipeline.process_with_mask(frame.as_ref(), &mask, &mut out.as_mut()).expect("process"))
        });
    }
    g.finish();
}

criterion_group!(benches, blur, end_to_end);
criterion_main!(benches);
