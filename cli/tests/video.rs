//! `bokeh video`: folders of frames, Y4M files and pipes, in order, nothing half-written.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/data/grace_hopper.jpg");

fn bokeh(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bokeh")).args(args).output().expect("bokeh runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Four 96x64 frames of the sample, shifted a little each time, as PNG files f0..f3.
fn frames(dir: &Path) {
    let img = image::open(SAMPLE).expect("sample").to_rgb8();
    let small = image::imageops::resize(&img, 128, 64, image::imageops::FilterType::Triangle);
    for i in 0..4u32 {
        let frame = image::imageops::crop_imm(&small, i * 8, 0, 96, 64).to_image();
        frame.save(dir.join(format!("f{i}.png"))).expect("save frame");
    }
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> =
        std::fs::read_dir(dir).expect("dir").map(|e| e.expect("entry").file_name().to_string_lossy().into()).collect();
    v.sort();
    v
}

#[test]
fn frames_to_masks_keep_names_and_order() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (input, output) = (tmp.path().join("in"), tmp.path().join("out"));
    std::fs::create_dir(&input).expect("mkdir");
    frames(&input);
    let out = bokeh(&["video", input.to_str().expect("utf8"), "-o", output.to_str().expect("utf8"), "--mode", "mask"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(names(&output), ["f0.png", "f1.png", "f2.png", "f3.png"]);
    let mask = image::open(output.join("f2.png")).expect("mask").to_luma8();
    assert_eq!(mask.dimensions(), (96, 64));
    assert!(mask.pixels().any(|p| p.0[0] > 200) && mask.pixels().any(|p| p.0[0] < 50), "a person and a background");
}

#[test]
fn y4m_files_and_pipes_round_trip() {
    let tmp = tempfile::tempdir().expect("tmp");
    let input = tmp.path().join("in");
    std::fs::create_dir(&input).expect("mkdir");
    frames(&input);
    let y4m = tmp.path().join("portrait.y4m");
    let out = bokeh(&["video", input.to_str().expect("utf8"), "-o", y4m.to_str().expect("utf8"), "--fps", "25"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let bytes = std::fs::read(&y4m).expect("y4m");
    assert!(bytes.starts_with(b"YUV4MPEG2 W96 H64 F25:1 C420jpeg"), "{:?}", &bytes[..40]);
    let frame_bytes = 96 * 64 * 3 / 2 + "FRAME\n".len();
    assert_eq!(bytes.iter().position(|&b| b == b'\n').map(|n| bytes.len() - n - 1), Some(4 * frame_bytes));

    // Y4M on stdin to Y4M on stdout, as in an ffmpeg pipe.
    let mut child = Command::new(env!("CARGO_BIN_EXE_bokeh"))
        .args(["video", "-", "-o", "-", "--mode", "mask"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    let feed = bytes.clone();
    let writer = std::thread::spawn(move || stdin.write_all(&feed));
    let piped = child.wait_with_output().expect("wait");
    writer.join().expect("writer").expect("write");
    assert!(piped.status.success(), "{}", stderr(&piped));
    assert_eq!(piped.stdout.len(), bytes.len(), "same header length and frame count");

    // A Y4M file to a folder of frames, numbered.
    let folder = tmp.path().join("frames");
    let out = bokeh(&["video", y4m.to_str().expect("utf8"), "-o", folder.to_str().expect("utf8")]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(names(&folder), ["00000.png", "00001.png", "00002.png", "00003.png"]);
}

#[test]
fn bad_video_input_is_reported_and_nothing_is_half_written() {
    let tmp = tempfile::tempdir().expect("tmp");
    let input = tmp.path().join("in");
    std::fs::create_dir(&input).expect("mkdir");
    frames(&input);
    let y4m = tmp.path().join("a.y4m");
    assert!(bokeh(&["video", input.to_str().expect("utf8"), "-o", y4m.to_str().expect("utf8")]).status.success());
    let bytes = std::fs::read(&y4m).expect("y4m");

    // A truncated stream: the complete frames are processed, the cut one is an error.
    let cut = tmp.path().join("cut.y4m");
    std::fs::write(&cut, &bytes[..bytes.len() - 100]).expect("write");
    let cut_out = tmp.path().join("cut-out.y4m");
    let out = bokeh(&["video", cut.to_str().expect("utf8"), "-o", cut_out.to_str().expect("utf8")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("truncated: frame 4"), "{}", stderr(&out));
    assert!(!cut_out.exists(), "no half-written Y4M file");
    assert_eq!(names(tmp.path()).iter().filter(|n| n.ends_with(".tmp")).count(), 0, "no temporary file left");

    // Not Y4M at all.
    let junk = tmp.path().join("junk.y4m");
    std::fs::write(&junk, b"hello").expect("write");
    let out = bokeh(&["video", junk.to_str().expect("utf8"), "-o", tmp.path().join("j").to_str().expect("utf8")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("not a valid Y4M stream"), "{}", stderr(&out));

    // A header claiming huge frames is refused before anything is allocated.
    let huge = tmp.path().join("huge.y4m");
    std::fs::write(&huge, b"YUV4MPEG2 W100000 H100000 F30:1 C420jpeg\nFRAME\n").expect("write");
    let out = bokeh(&["video", huge.to_str().expect("utf8"), "-o", tmp.path().join("h").to_str().expect("utf8")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("size limit"), "{}", stderr(&out));

    // An existing output is kept; cut-outs need transparency; an empty folder has no frames.
    let before = std::fs::read(&y4m).expect("y4m");
    let out = bokeh(&["video", input.to_str().expect("utf8"), "-o", y4m.to_str().expect("utf8"), "--mode", "mask"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("--overwrite"), "{}", stderr(&out));
    assert_eq!(std::fs::read(&y4m).expect("y4m"), before);
    let out = bokeh(&["video", input.to_str().expect("utf8"), "-o", "x.y4m", "--mode", "cutout"]);
    assert!(stderr(&out).contains("transparency"), "{}", stderr(&out));
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).expect("mkdir");
    let out = bokeh(&["video", empty.to_str().expect("utf8"), "-o", tmp.path().join("e").to_str().expect("utf8")]);
    assert!(stderr(&out).contains("no jpg, png or webp frames"), "{}", stderr(&out));
}

#[test]
fn mask_every_n_frames_is_reported() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (input, output) = (tmp.path().join("in"), tmp.path().join("out"));
    std::fs::create_dir(&input).expect("mkdir");
    frames(&input);
    let n = names(&input).len();
    let args =
        ["video", input.to_str().expect("utf8"), "-o", output.to_str().expect("utf8"), "--mask-every", "2", "-v"];
    let out = bokeh(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    let expected = format!("the model ran on {} of {n} frames", n.div_ceil(2));
    assert!(stderr(&out).contains(&expected), "{}", stderr(&out));
    assert_eq!(names(&output).len(), n, "every frame is written");
    let zero = bokeh(&["video", input.to_str().expect("utf8"), "-o", "x", "--mask-every", "0"]);
    assert_eq!(zero.status.code(), Some(2), "{}", stderr(&zero));
}
