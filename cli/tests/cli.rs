//! The real `bokeh` binary on temporary folders.

#[path = "../../tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/data/grace_hopper.jpg");

fn bokeh(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bokeh")).args(args).output().expect("bokeh runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn temp() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

fn copy_sample(dir: &Path, name: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::copy(SAMPLE, &p).expect("copy sample");
    p
}

/// Names of the files in `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).expect("list").flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

#[test]
fn portrait_mode_next_to_the_input_leaves_the_input_alone() {
    let dir = temp();
    let input = copy_sample(dir.path(), "hopper.jpg");
    let before = std::fs::read(&input).expect("read");
    let out = bokeh(&[input.to_str().expect("utf8")]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::read(&input).expect("read"), before, "input untouched");
    assert_eq!(listing(dir.path()), ["hopper.bokeh.jpg", "hopper.jpg"], "no stray temporary files");
    let original = image::open(&input).expect("decode").into_rgb8();
    let result = image::open(dir.path().join("hopper.bokeh.jpg")).expect("decode output").into_rgb8();
    assert_eq!(result.dimensions(), original.dimensions());
    // The background (top corners) is smoothed; the face (centre top third) barely changes.
    let roughness = |img: &image::RgbImage, x0: u32, y0: u32| {
        let mut sum = 0i64;
        for y in y0..y0 + 60 {
            for x in x0..x0 + 60 {
                sum += (img.get_pixel(x, y)[1] as i64 - img.get_pixel(x + 1, y)[1] as i64).abs();
            }
        }
        sum
    };
    assert!(roughness(&result, 10, 10) * 2 < roughness(&original, 10, 10), "background should be blurred");
    let face = |img: &image::RgbImage| img.get_pixel(256, 180).0;
    let (a, b) = (face(&original), face(&result));
    assert!(a.iter().zip(b).all(|(x, y)| x.abs_diff(y) <= 12), "face should stay sharp: {a:?} vs {b:?}");
}

#[test]
fn every_mode_writes_the_promised_format() {
    let dir = temp();
    let input = copy_sample(dir.path(), "in.jpg");
    let bg = dir.path().join("bg.png");
    image::RgbImage::from_pixel(40, 30, image::Rgb([10, 200, 30])).save(&bg).expect("write bg");
    let i = input.to_str().expect("utf8");
    let out = |name: &str| dir.path().join(name).to_str().expect("utf8").to_string();

    let r = bokeh(&[i, "--mode", "cutout", "-o", &out("cut.png")]);
    assert!(r.status.success(), "{}", stderr(&r));
    let cut = image::open(dir.path().join("cut.png")).expect("cutout");
    assert!(cut.color().has_alpha());
    let alpha: Vec<u8> = cut.to_rgba8().pixels().map(|p| p[3]).collect();
    assert!(alpha.iter().any(|&a| a < 10) && alpha.iter().any(|&a| a > 245), "alpha holds the mask");

    let r = bokeh(&[i, "--mode", "mask", "--out-dir", &out("masks")]);
    assert!(r.status.success(), "{}", stderr(&r));
    let mask = image::open(dir.path().join("masks/in.png")).expect("mask");
    assert_eq!(mask.color(), image::ColorType::L8);

    let r = bokeh(&[i, "--mode", "replace", "--background", bg.to_str().expect("utf8"), "-o", &out("green.webp")]);
    assert!(r.status.success(), "{}", stderr(&r));
    let green = image::open(dir.path().join("green.webp")).expect("webp").into_rgb8();
    assert_eq!(green.get_pixel(5, 5).0, [10, 200, 30], "background replaced at the corner");

    let r = bokeh(&[i, "--blur", "gaussian", "--strength", "0.05", "-o", &out("g.png")]);
    assert!(r.status.success(), "{}", stderr(&r));
}

#[test]
fn a_batch_goes_on_past_bad_files_and_says_which() {
    let dir = temp();
    let good = copy_sample(dir.path(), "good.jpg");
    std::fs::write(dir.path().join("text.png"), "this is not a picture").expect("write");
    std::fs::write(dir.path().join("empty.jpg"), b"").expect("write");
    let bytes = std::fs::read(&good).expect("read");
    std::fs::write(dir.path().join("truncated.jpg"), &bytes[..bytes.len() / 3]).expect("write");
    let outdir = dir.path().join("out");
    let r = bokeh(&[dir.path().to_str().expect("utf8"), "--out-dir", outdir.to_str().expect("utf8")]);
    assert_eq!(r.status.code(), Some(1), "some inputs failed: {}", stderr(&r));
    let err = stderr(&r);
    for name in ["text.png", "empty.jpg"] {
        assert!(err.lines().any(|l| l.starts_with("bokeh: ") && l.contains(name)), "{name} reported: {err}");
    }
    assert!(err.contains("written") && err.contains("failed"), "summary: {err}");
    let written = listing(&outdir);
    assert!(written.contains(&"good.jpg".to_string()), "{written:?}");
    assert!(!written.iter().any(|n| n.starts_with("text") || n.starts_with("empty") || n.contains(".tmp")));
}

#[test]
fn usage_errors_exit_2_and_write_nothing() {
    let dir = temp();
    let input = copy_sample(dir.path(), "a.jpg");
    let i = input.to_str().expect("utf8");
    let o = dir.path().join("x.jpg");
    let cases: Vec<Vec<&str>> = vec![
        vec![i, i, "-o", o.to_str().expect("utf8")],
        vec![i, "--mode", "cutout", "-o", o.to_str().expect("utf8")],
        vec![i, "--mode", "replace"],
        vec![i, "--strength", "3"],
        vec![i, "--model", "/nonexistent.onnx"],
        vec![i, "--model", i, "--model-spec", "layout=sideways"],
        vec![i, "-o", "out.tiff"],
        vec![],
    ];
    for args in cases {
        let r = bokeh(&args);
        assert_eq!(r.status.code(), Some(2), "{args:?}: {}", stderr(&r));
        assert!(!stderr(&r).is_empty(), "{args:?} explains itself");
    }
    assert_eq!(listing(dir.path()), ["a.jpg"]);
}

#[test]
fn the_input_is_never_the_output() {
    let dir = temp();
    let input = copy_sample(dir.path(), "a.jpg");
    let before = std::fs::read(&input).expect("read");
    let r = bokeh(&[input.to_str().expect("utf8"), "-o", input.to_str().expect("utf8")]);
    assert_eq!(r.status.code(), Some(1));
    assert!(stderr(&r).contains("overwrite the input"), "{}", stderr(&r));
    assert_eq!(std::fs::read(&input).expect("read"), before);
    let r = bokeh(&[input.to_str().expect("utf8"), "-o", "/nonexistent-dir/out.jpg"]);
    assert_eq!(r.status.code(), Some(1));
    assert!(stderr(&r).contains("/nonexistent-dir"), "{}", stderr(&r));
}

/// Inserts an EXIF APP1 segment with the given orientation right after a JPEG's SOI marker.
fn with_exif_orientation(jpeg: &[u8], orientation: u16) -> Vec<u8> {
    let mut tiff = Vec::new();
    tiff.extend_from_slice(b"MM\0\x2a\0\0\0\x08"); // big-endian TIFF header, IFD at 8
    tiff.extend_from_slice(&1u16.to_be_bytes()); // one entry
    tiff.extend_from_slice(&0x0112u16.to_be_bytes()); // Orientation
    tiff.extend_from_slice(&3u16.to_be_bytes()); // SHORT
    tiff.extend_from_slice(&1u32.to_be_bytes()); // count
    tiff.extend_from_slice(&orientation.to_be_bytes());
    tiff.extend_from_slice(&[0, 0, 0, 0, 0, 0]); // value padding + next IFD = 0
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(&tiff);
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&app1);
    out.extend_from_slice(&jpeg[2..]);
    out
}

#[test]
fn exif_orientation_is_honoured() {
    let dir = temp();
    let rotated = dir.path().join("rotated.jpg");
    std::fs::write(&rotated, with_exif_orientation(&std::fs::read(SAMPLE).expect("read"), 6)).expect("write");
    let r = bokeh(&[rotated.to_str().expect("utf8"), "--mode", "mask"]);
    assert!(r.status.success(), "{}", stderr(&r));
    let mask = image::open(dir.path().join("rotated.mask.png")).expect("mask");
    let original = image::open(SAMPLE).expect("sample");
    assert_eq!((mask.width(), mask.height()), (original.height(), original.width()), "turned upright");
}

#[test]
fn bench_prints_one_line_per_stage_and_ends_with_end_to_end() {
    for extra in [None, Some("--pipelined")] {
        let mut args = vec!["bench", "--size", "96x64", "--frames", "3"];
        args.extend(extra);
        let r = bokeh(&args);
        assert!(r.status.success(), "{}", stderr(&r));
        let text = String::from_utf8_lossy(&r.stdout).into_owned();
        let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        let names: Vec<&str> = lines.iter().filter_map(|l| l.split('\t').next()).collect();
        for stage in ["preprocess", "inference", "upsample", "blur", "composite"] {
            assert!(names.contains(&stage), "{extra:?}: {stage} missing in {text}");
        }
        assert_eq!(names.last(), Some(&"end_to_end"), "{text}");
        for line in &lines {
            let ms: f64 = line.split('\t').nth(1).and_then(|v| v.parse().ok()).expect("name<TAB>ms");
            assert!(ms.is_finite() && ms >= 0.0, "{line}");
        }
    }
    let r = bokeh(&["bench", "--size", "0x10"]);
    assert_eq!(r.status.code(), Some(2), "bad size is a usage error");
}

#[test]
fn focus_falloff_changes_the_picture_and_bad_values_are_refused() {
    let dir = temp();
    let input = copy_sample(dir.path(), "hopper.jpg");
    let run = |name: &str, extra: &[&str]| {
        let out = dir.path().join(name);
        let mut args = vec![input.to_str().expect("utf-8"), "-o", out.to_str().expect("utf-8"), "--detail", "0"];
        args.extend_from_slice(extra);
        (bokeh(&args), out)
    };
    let (plain, plain_png) = run("plain.png", &[]);
    let (falloff, falloff_png) = run("falloff.png", &["--falloff", "0.2", "--strength", "0.08"]);
    assert!(plain.status.success() && falloff.status.success(), "{}{}", stderr(&plain), stderr(&falloff));
    let (a, b) = (std::fs::read(&plain_png).expect("plain"), std::fs::read(&falloff_png).expect("falloff"));
    assert_ne!(a, b, "--falloff changes the picture");
    for (args, says) in [
        (&["--falloff", "0"][..], "focus falloff 0"),
        (&["--falloff", "0.2", "--blur", "gaussian"][..], "disc or hexagon"),
    ] {
        let (out, png) = run("bad.png", args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{args:?}: {}", stderr(&out));
        assert!(!png.exists(), "nothing written for {args:?}");
    }
}
