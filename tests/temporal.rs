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

/// Flicker and accuracy of a clip's masks.
struct Measured {
    /// Pixels whose label changes between consecutive frames, % per frame (`flicker.py`).
    flip: f64,
    /// Of those, the pixels whose true label did not change: % per frame. The dancer moves, so
    /// the truth itself flips (2.16% per frame); a mask that flips less than that is lagging
    /// somewhere, and only these flips are shimmer for certain.
    spurious: f64,
    /// Mean per-frame IoU against the truth.
    miou: f64,
}

/// [`Measured`] for the clip's masks with `temporal`.
fn measure(clip: &Clip, segmenter: &Segmenter, temporal: Option<Temporal>) -> Measured {
    measure_with(clip, segmenter, Options::default().with_temporal(temporal))
}

/// % of pixels per frame whose label changes between consecutive masks (where `keep` says so).
fn flips(masks: &[Vec<u8>], keep: impl Fn(usize, usize) -> bool) -> f64 {
    masks
        .windows(2)
        .enumerate()
        .map(|(f, w)| {
            let changed = (0..w[0].len()).filter(|&i| ((w[0][i] >= 128) != (w[1][i] >= 128)) && keep(f, i)).count();
            100.0 * changed as f64 / w[0].len() as f64
        })
        .sum::<f64>()
        / (masks.len() - 1) as f64
}

/// [`measure`] with other options (the mode is set to mask).
fn measure_with(clip: &Clip, segmenter: &Segmenter, options: Options) -> Measured {
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
    let truth = &clip.truth;
    let flip = flips(&masks, |_, _| true);
    let spurious = flips(&masks, |f, i| (truth[f][i] >= 128) == (truth[f + 1][i] >= 128));
    let miou = masks.iter().zip(truth).map(|(m, t)| common::iou(m, t)).sum::<f64>() / masks.len() as f64;
    Measured { flip, spurious, miou }
}

#[test]
fn smoothing_removes_flicker_without_losing_accuracy() {
    let Some(clip) = load_clip() else { return };
    let segmenter = Segmenter::new().expect("model");
    let show = |what: &str, m: &Measured| {
        eprintln!(
            "dance-twirl {what}: flip {:.3}% (where the truth did not change {:.3}%) mIoU {:.4}",
            m.flip, m.spurious, m.miou
        );
    };
    let raw = measure(&clip, &segmenter, None);
    show("raw model", &raw);
    let video = measure(&clip, &segmenter, Some(Temporal::default()));
    show("video default", &video);
    // The refinement (on by default) follows the frame's edges, noise included; its window
    // coefficients are smoothed over time too. Without it: for the record.
    let unrefined = Options::default().with_temporal(Some(Temporal::default())).with_refine(None);
    show("without refinement", &measure_with(&clip, &segmenter, unrefined));
    let untracked = Options::default().with_temporal(Some(Temporal::default())).with_tracking(None);
    let untracked = measure_with(&clip, &segmenter, untracked);
    show("without the tracking crop", &untracked);
    assert!(raw.flip > 2.0, "the raw model should flicker here ({:.3}%)", raw.flip);
    assert!(video.flip <= 1.6, "smoothed flip {:.3}% > 1.6%", video.flip);
    // Measured: 1.81% of the raw model's 2.59% flips are where the truth did not change, 0.83%
    // of the video default's 1.57% (0.88% without the tracking crop).
    assert!(
        video.spurious <= 0.5 * raw.spurious,
        "shimmer: {:.3}% of pixels flip where the truth did not, raw {:.3}%",
        video.spurious,
        raw.spurious
    );
    assert!(video.miou >= raw.miou - 0.01, "smoothing cost accuracy: mIoU {:.4} vs raw {:.4}", video.miou, raw.miou);
    // The tracking crop sees the dancer closer (measured 0.731 with it, 0.631 without).
    assert!(video.miou >= 0.66, "video default mIoU {:.4} < 0.66", video.miou);
    assert!(
        video.miou > untracked.miou + 0.05,
        "the tracking crop: mIoU {:.4} vs {:.4} without it",
        video.miou,
        untracked.miou
    );
}
