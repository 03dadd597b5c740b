//! Temporal stability on a real clip: DAVIS 2016 `dance-twirl` (90 frames, 854x480) from
//! `../shared/testdata/video`, masks as `bokeh --mode mask` makes them, measured as
//! `../shared/tools/flicker.py` does (flip % = pixels whose 0.5-thresholded label changes
//! between consecutive frames; mean per-frame IoU against the clip's masks). The default video
//! path includes the refinement and the subject-tracking crop (`src/track.rs`).

mod common;

use bokeh::{FrameRef, Mode, Options, Pipeline, PixelFormat, Segmenter, Temporal};

struct Clip {
    frames: Vec<image::RgbImage>,
    truth: Vec<Vec<u8>>,
}

fn load_clip() -> Option<Clip> {
    let dir = common::shared_dir()?.join("testdata/video/davis2016_dance-twirl");
    let mut names: Vec<_> =
        std::fs::read_dir(dir.join("frames")).expect("frames folder").map(|e| e.expect("entry").path()).collect();
    names.sort();
    let frames = names.iter().map(|p| image::open(p).expect("frame").to_rgb8()).collect();
    let truth = names
        .iter()
        .map(|p| {
            let name = p.with_extension("png");
            let name = name.file_name().expect("name");
            image::open(dir.join("masks").join(name)).expect("mask").to_luma8().into_raw()
        })
        .collect();
    Some(Clip { frames, truth })
}

/// (flip %, mean IoU) of the clip's masks with `temporal`.
fn measure(clip: &Clip, segmenter: &Segmenter, temporal: Option<Temporal>) -> (f64, f64) {
    measure_with(clip, segmenter, Options::default().with_temporal(temporal))
}

/// [`measure`] with other options (the mode is set to mask).
fn measure_with(clip: &Clip, segmenter: &Segmenter, options: Options) -> (f64, f64) {
    let options = options.with_mode(Mode::Mask);
    let mut pipeline = Pipeline::new(segmenter, options).expect("pipeline");
    let masks: Vec<Vec<u8>> = clip
        .frames
        .iter()
        .map(|f| {
            let frame = FrameRef::packed(f.as_raw(), f.width(), f.height(), PixelFormat::Rgb8).expect("frame");
            pipeline.process(frame).expect("process").into_vec()
        })
        .collect();
    let flips: f64 = masks
        .windows(2)
        .map(|w| {
            let changed = w[0].iter().zip(&w[1]).filter(|(a, b)| (**a >= 128) != (**b >= 128)).count();
            100.0 * changed as f64 / w[0].len() as f64
        })
        .sum::<f64>()
        / (masks.len() - 1) as f64;
    let miou = masks.iter().zip(&clip.truth).map(|(m, t)| common::iou(m, t)).sum::<f64>() / masks.len() as f64;
    (flips, miou)
}

#[test]
fn smoothing_removes_flicker_without_losing_accuracy() {
    let Some(clip) = load_clip() else { return };
    let segmenter = Segmenter::new().expect("model");
    let (raw_flip, raw_iou) = measure(&clip, &segmenter, None);
    let (flip, iou) = measure(&clip, &segmenter, Some(Temporal::default()));
    // The refinement (on by default) follows the frame's edges, noise included; its window
    // coefficients are smoothed over time too. Without it: for the record.
    let unrefined = Options::default().with_temporal(Some(Temporal::default())).with_refine(None);
    let (plain_flip, plain_iou) = measure_with(&clip, &segmenter, unrefined);
    eprintln!("dance-twirl without refinement: smoothed flip {plain_flip:.3}% mIoU {plain_iou:.4}");
    let untracked = Options::default().with_temporal(Some(Temporal::default())).with_tracking(None);
    let (untracked_flip, untracked_iou) = measure_with(&clip, &segmenter, untracked);
    eprintln!("dance-twirl without the tracking crop: smoothed flip {untracked_flip:.3}% mIoU {untracked_iou:.4}");
    eprintln!("dance-twirl: raw flip {raw_flip:.3}% mIoU {raw_iou:.4}; smoothed flip {flip:.3}% mIoU {iou:.4}");
    assert!(raw_flip > 2.0, "the raw model should flicker here ({raw_flip:.3}%)");
    assert!(flip <= 1.6, "smoothed flip {flip:.3}% > 1.6%");
    assert!(iou >= raw_iou - 0.01, "smoothing cost accuracy: mIoU {iou:.4} vs raw {raw_iou:.4}");
    // The tracking crop sees the dancer closer (measured 0.704 with it, 0.637 without).
    assert!(iou >= 0.66, "video default mIoU {iou:.4} < 0.66");
    assert!(iou > untracked_iou + 0.03, "the tracking crop: mIoU {iou:.4} vs {untracked_iou:.4} without it");
}
