//! Bytes → decode (with limits) → every pixel stage, in every mode: must never panic, and any
//! image that decodes must be processed.
#![no_main]

use std::sync::{Mutex, OnceLock};

use bokeh::{decode_frame, BlurKind, DecodeLimits, Frame, Mask, Mode, Options, Pipeline, Segmenter};
use libfuzzer_sys::fuzz_target;

/// One pipeline per settings byte, made on first use and kept: building the model's session for
/// every input would dominate the run.
fn pipelines() -> &'static Mutex<Vec<Option<(Options, Pipeline)>>> {
    static PIPELINES: OnceLock<Mutex<Vec<Option<(Options, Pipeline)>>>> = OnceLock::new();
    PIPELINES.get_or_init(|| Mutex::new((0..256).map(|_| None).collect()))
}

fn options(settings: u8) -> Options {
    let mode = [Mode::Blur, Mode::Replace, Mode::Cutout, Mode::Mask][(settings & 3) as usize];
    let blur = if settings & 4 == 0 { BlurKind::Disc } else { BlurKind::Gaussian };
    let strength = f32::from(settings >> 3) / 31.0 * Options::MAX_STRENGTH;
    let background = Frame::from_vec(vec![settings; 2 * 3 * 3], 3, 2, bokeh::PixelFormat::Rgb8).expect("bg");
    Options::default().with_mode(mode).with_blur(blur).with_strength(strength).with_background(background)
}

/// Every input runs inside one single-thread pool: handing each of the pipeline's parallel
/// loops to another thread costs more than the loops themselves on images this small.
fn pool() -> &'static rayon::ThreadPool {
    static POOL: OnceLock<rayon::ThreadPool> = OnceLock::new();
    POOL.get_or_init(|| rayon::ThreadPoolBuilder::new().num_threads(1).build().expect("pool"))
}

fuzz_target!(|data: &[u8]| pool().install(|| run(data)));

fn run(data: &[u8]) {
    // The first byte picks the settings; the rest is the file.
    let Some((&settings, file)) = data.split_first() else { return };
    let Ok(frame) = decode_frame(file, DecodeLimits { max_pixels: 128 * 128 }) else { return };
    static SEGMENTER: OnceLock<Segmenter> = OnceLock::new();
    let segmenter = SEGMENTER.get_or_init(|| Segmenter::new().expect("embedded model"));
    let mut pipelines = pipelines().lock().unwrap_or_else(|p| p.into_inner());
    let (options, pipeline) = pipelines[settings as usize].get_or_insert_with(|| {
        let options = options(settings);
        (options.clone(), Pipeline::new(segmenter, options).expect("valid options"))
    });
    let mut out = Frame::new(frame.width(), frame.height(), options.output_format(frame.format())).expect("out");
    // A mask made from the file's bytes; the model itself runs on one input in 256 (it costs
    // milliseconds, the pixel stages on these small images microseconds).
    let values: Vec<f32> = file.iter().take(12).map(|&b| f32::from(b) / 255.0).chain([0.5; 12]).take(12).collect();
    let mask = Mask::from_vec(values, 4, 3).expect("mask");
    pipeline.process_with_mask(frame.as_ref(), &mask, &mut out.as_mut()).expect("a decoded image is processed");
    if settings == 0 {
        pipeline.process_into(frame.as_ref(), &mut out.as_mut()).expect("a decoded image is segmented");
    }
}
