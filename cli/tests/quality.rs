//! Mask quality of the CLI's `--mode mask` on the shared test photos, scored like
//! `../shared/tools/score.py` (mean IoU at threshold 0.5 over all photos).

#[path = "../../tests/common/mod.rs"]
mod common;

use std::process::Command;

/// MediaPipe's own runtime scores 0.433 with this model on these photos.
const MIN_MEAN_IOU: f64 = 0.42;

#[test]
fn mask_mode_reaches_the_mean_iou_target_on_the_shared_photos() {
    let Some(shared) = common::shared_dir() else { return };
    let photos = shared.join("testdata/photos");
    let out = tempfile::tempdir().expect("temp dir");
    let r = Command::new(env!("CARGO_BIN_EXE_bokeh"))
        .arg("--mode")
        .arg("mask")
        .arg("--out-dir")
        .arg(out.path())
        .arg(photos.join("images"))
        .output()
        .expect("bokeh runs");
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let mut names: Vec<String> = std::fs::read_dir(photos.join("masks"))
        .expect("masks")
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|n| n.ends_with(".png"))
        .collect();
    names.sort();
    assert_eq!(names.len(), 51, "the shared set has 51 photos");
    let mut total = 0.0;
    for name in &names {
        let truth = image::open(photos.join("masks").join(name)).expect("truth").into_luma8();
        let pred = image::open(out.path().join(name)).unwrap_or_else(|e| panic!("prediction {name}: {e}")).into_luma8();
        assert_eq!(pred.dimensions(), truth.dimensions(), "{name}: mask at photo size");
        total += common::iou(pred.as_raw(), truth.as_raw());
    }
    let mean = total / names.len() as f64;
    eprintln!("mean IoU over {} photos: {mean:.4}", names.len());
    assert!(mean >= MIN_MEAN_IOU, "mean IoU {mean:.4} < {MIN_MEAN_IOU}");
}
