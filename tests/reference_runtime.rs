//! bokeh's raw mask against MediaPipe's own runtime on full-size pictures.
//!
//! `tests/fixtures/mediapipe/` holds the masks that PyPI `mediapipe==0.10.21`'s
//! `SelfieSegmentation` makes of the 51 shared photos and the 90 dance-twirl frames at their
//! full size (854×480 frames, 640-pixel photos), written by `scripts/mediapipe_masks.py`. The
//! model's goldens (`tests/model.rs`) start from model-sized inputs; this test starts from the
//! picture, so it covers what they cannot: how the frame is sampled down to the model (MediaPipe
//! warps the frame's corners onto the tensor's, bilinearly, without antialiasing) and how the
//! mask is scaled back up.
//!
//! Tolerance: masks are compared as `score.py` does (IoU at 0.5). Per set the mean IoU must be at
//! least 0.97 and every picture at least 0.90, except pictures where MediaPipe's person covers
//! under 0.5% of the frame: there a handful of pixels decides the IoU (2 pixels vs 1 scores 0.5),
//! so their person areas must agree within 0.1% of the frame instead. JPEG decoding differs a
//! little between PIL and the `image` crate, and tract's arithmetic from TFLite's.

mod common;

use std::path::Path;

use bokeh::{FrameRef, Mode, Options, Pipeline, PixelFormat, Segmenter};

struct Agreement {
    mean: f64,
    worst: (f64, String),
    tiny: usize,
}

fn agreement(set: &str, pictures: &Path) -> Agreement {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mediapipe").join(set);
    let segmenter = Segmenter::new().expect("model");
    let raw = Options::default().with_mode(Mode::Mask).with_refine(None);
    let mut pipeline = Pipeline::new(&segmenter, raw).expect("pipeline");
    let mut names: Vec<_> = std::fs::read_dir(&fixtures)
        .expect("fixtures")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "png"))
        .collect();
    names.sort();
    assert!(names.len() >= 50, "{set}: only {} fixtures", names.len());
    let (mut sum, mut worst, mut tiny) = (0.0, (1.0, String::new()), 0);
    for reference_path in &names {
        let stem = reference_path.file_stem().and_then(|s| s.to_str()).expect("name");
        let picture = image::open(pictures.join(format!("{stem}.jpg"))).expect("picture").to_rgb8();
        let reference = image::open(reference_path).expect("reference").to_luma8();
        assert_eq!(picture.dimensions(), reference.dimensions(), "{stem}");
        let (w, h) = picture.dimensions();
        let frame = FrameRef::packed(picture.as_raw(), w, h, PixelFormat::Rgb8).expect("frame");
        let ours = pipeline.process(frame).expect("process").into_vec();
        let iou = common::iou(&ours, reference.as_raw());
        sum += iou;
        let pixels = (w * h) as f64;
        let area = |m: &[u8]| m.iter().filter(|&&v| v >= 128).count() as f64 / pixels;
        let (a_ref, a_ours) = (area(reference.as_raw()), area(&ours));
        if a_ref < 0.005 {
            tiny += 1;
            assert!((a_ref - a_ours).abs() <= 0.001, "{set}/{stem}: person area {a_ours:.5} vs MediaPipe's {a_ref:.5}");
        } else if iou < worst.0 {
            worst = (iou, stem.to_string());
        }
    }
    Agreement { mean: sum / names.len() as f64, worst, tiny }
}

fn check(set: &str, pictures: &Path) {
    let a = agreement(set, pictures);
    eprintln!(
        "{set}: raw mask vs MediaPipe's runtime: mean IoU {:.4}, worst {:.4} ({}), {} pictures with a person under 0.5%",
        a.mean, a.worst.0, a.worst.1, a.tiny
    );
    assert!(a.mean >= 0.97, "{set}: mean IoU {:.4} < 0.97", a.mean);
    assert!(a.worst.0 >= 0.90, "{set}: {} scores {:.4} < 0.90", a.worst.1, a.worst.0);
}

#[test]
fn raw_masks_match_mediapipe_on_the_shared_photos() {
    let Some(shared) = common::shared_dir() else { return };
    check("photos", &shared.join("testdata/photos/images"));
}

#[test]
fn raw_masks_match_mediapipe_on_full_size_video_frames() {
    let Some(shared) = common::shared_dir() else { return };
    check("dance-twirl", &shared.join("testdata/video/davis2016_dance-twirl/frames"));
}
