//! Mask quality of the CLI's `--mode mask` on the shared test photos, scored like
//! `../shared/tools/score.py` (mean IoU and boundary F at 3 px, threshold 0.5, over all photos).

#[path = "../../tests/common/mod.rs"]
mod common;

use std::process::Command;

/// MediaPipe's own runtime scores 0.433 / 0.314 with this model on these photos, and the plain
/// upsampled mask 0.439 / 0.319 here; the issue asked for 0.45 / 0.36. With the photo defaults
/// (tile search, two detail passes, edge-aware refinement) this measured 0.4828 / 0.3913; the
/// floors leave room for float differences between machines, not for a regression.
const MIN_MEAN_IOU: f64 = 0.47;
const MIN_MEAN_BOUNDARY_F: f64 = 0.38;
/// Without detail passes and refinement (`--detail 0 --no-refine`): the model alone.
const MIN_PLAIN_IOU: f64 = 0.43;

/// Runs `bokeh --mode mask` with `flags` over the shared photos: (mean IoU, mean boundary F).
fn score(shared: &std::path::Path, flags: &[&str]) -> (f64, f64) {
    let photos = shared.join("testdata/photos");
    let out = tempfile::tempdir().expect("temp dir");
    let r = Command::new(env!("CARGO_BIN_EXE_bokeh"))
        .args(["--mode", "mask", "--backend", "cpu"])
        .args(flags)
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
    let (mut iou, mut bf) = (0.0, 0.0);
    for name in &names {
        let truth = image::open(photos.join("masks").join(name)).expect("truth").into_luma8();
        let pred = image::open(out.path().join(name)).unwrap_or_else(|e| panic!("prediction {name}: {e}")).into_luma8();
        assert_eq!(pred.dimensions(), truth.dimensions(), "{name}: mask at photo size");
        iou += common::iou(pred.as_raw(), truth.as_raw());
        bf += common::boundary_f(pred.as_raw(), truth.as_raw(), truth.width() as usize, 3);
    }
    let n = names.len() as f64;
    (iou / n, bf / n)
}

#[test]
fn mask_mode_reaches_the_quality_targets_on_the_shared_photos() {
    let Some(shared) = common::shared_dir() else { return };
    let (iou, bf) = score(&shared, &[]);
    let (plain_iou, plain_bf) = score(&shared, &["--detail", "0", "--no-refine"]);
    eprintln!("51 photos: default mIoU {iou:.4} BF {bf:.4}; model alone mIoU {plain_iou:.4} BF {plain_bf:.4}");
    assert!(iou >= MIN_MEAN_IOU, "mean IoU {iou:.4} < {MIN_MEAN_IOU}");
    assert!(bf >= MIN_MEAN_BOUNDARY_F, "mean boundary F {bf:.4} < {MIN_MEAN_BOUNDARY_F}");
    assert!(plain_iou >= MIN_PLAIN_IOU, "model alone: mean IoU {plain_iou:.4} < {MIN_PLAIN_IOU}");
    assert!(iou > plain_iou + 0.01 && bf > plain_bf + 0.02, "the refinements must pay for themselves");
}
