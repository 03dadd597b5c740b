//! Steady state allocates nothing: the pixel stages reuse their buffers frame after frame.
//!
//! A counting global allocator (this test binary only) counts every allocation while the
//! pipeline processes frames with a fixed mask. tract's model run is measured too and reported,
//! not asserted: it allocates its intermediate tensors on every run, inside tract.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use bokeh::{BlurKind, Frame, Mask, Mode, Options, Pipeline, PixelFormat, Segmenter};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn frame(w: u32, h: u32) -> Frame {
    let data = (0..w * h * 3).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    Frame::from_vec(data, w, h, PixelFormat::Rgb8).expect("frame")
}

/// Allocations made by `f`, run `times` times after a few warm-up runs, from inside a rayon
/// pool as a video loop (or `Stream`) runs it. Called from outside a pool, each parallel loop is
/// injected into rayon's global queue, which allocates one block per 63 injected jobs: rayon's
/// allocation, not bokeh's, and about one per eight frames.
fn count(times: usize, mut f: impl FnMut() + Send) -> usize {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().expect("pool");
    pool.install(|| {
        for _ in 0..5 {
            f();
        }
        let before = ALLOCATIONS.load(Ordering::SeqCst);
        for _ in 0..times {
            f();
        }
        ALLOCATIONS.load(Ordering::SeqCst) - before
    })
}

#[test]
fn pixel_stages_allocate_nothing_per_frame() {
    let segmenter = Segmenter::new().expect("model");
    let input = frame(640, 360);
    let low = Mask::from_vec((0..256 * 144).map(|i| (i % 256) as f32 / 255.0).collect(), 256, 144).expect("mask");
    let background = frame(100, 80);
    for (mode, blur) in [
        (Mode::Blur, BlurKind::Disc),
        (Mode::Blur, BlurKind::Gaussian),
        (Mode::Replace, BlurKind::Disc),
        (Mode::Cutout, BlurKind::Disc),
        (Mode::Mask, BlurKind::Disc),
    ] {
        let options = Options::default().with_mode(mode).with_blur(blur).with_background(background.clone());
        let mut pipeline = Pipeline::new(&segmenter, options).expect("pipeline");
        let mut out = Frame::new(640, 360, pipeline.options().output_format(PixelFormat::Rgb8)).expect("out");
        let n = count(40, || pipeline.process_with_mask(input.as_ref(), &low, &mut out.as_mut()).expect("process"));
        assert_eq!(n, 0, "{mode:?}/{blur:?}: {n} allocations in 40 frames");
    }

    // The whole frame, model included: only tract's own per-run allocations remain.
    let mut pipeline = Pipeline::new(&segmenter, Options::default()).expect("pipeline");
    let mut out = Frame::new(640, 360, PixelFormat::Rgb8).expect("out");
    let n = count(10, || pipeline.process_into(input.as_ref(), &mut out.as_mut()).expect("process"));
    let mut session = segmenter.session();
    let mut mask = Mask::new(0, 0);
    let inference = count(10, || session.segment_into(input.as_ref(), &mut mask).expect("segment"));
    eprintln!("allocations per frame: whole pipeline {}, of which model (tract) {}", n / 10, inference / 10);
    assert!(n <= inference + 10, "only the model run allocates: {n} vs {inference} in 10 frames");

    // The video path, model included: temporal filter, blink rule and the tracking crop (a
    // person in the frame, so the model runs on crops with the square variant and on the whole
    // frame every 15 frames). Measured: 783 allocations a frame, the square model alone 784.
    let photo = image::open(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data/grace_hopper.jpg")).expect("sample");
    let photo = image::imageops::resize(&photo.into_rgb8(), 640, 360, image::imageops::FilterType::Triangle);
    let person = Frame::from_vec(photo.into_raw(), 640, 360, PixelFormat::Rgb8).expect("frame");
    let square = frame(300, 300);
    let square_inference = count(10, || session.segment_into(square.as_ref(), &mut mask).expect("segment"));
    let video = Options::default().with_temporal(Some(bokeh::Temporal::default()));
    let mut pipeline = Pipeline::new(&segmenter, video).expect("pipeline");
    let n = count(30, || pipeline.process_into(person.as_ref(), &mut out.as_mut()).expect("process"));
    let stats = pipeline.tracking_stats();
    eprintln!("video path: {} allocations per frame (square model alone {}), {stats:?}", n / 30, square_inference / 10);
    assert!(stats.crops > 20, "the person should be tracked: {stats:?}");
    let model = 3 * inference.max(square_inference);
    assert!(n <= model + 10, "only the model runs allocate in the video path: {n} vs {model} in 30 frames");
}
