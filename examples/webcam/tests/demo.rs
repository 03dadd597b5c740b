//! The demo binary for real: in an X window under Xvfb (captured with `xwd` and compared with
//! the library's own output), writing Y4M for a virtual camera, and without a camera.
//!
//! `scripts/test.sh` installs Xvfb, xwd and xwininfo; `BOKEH_XVFB_TESTS=skip` leaves the window
//! test out on a machine that cannot have them.

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use bokeh::{Frame, Options, Pipeline, PixelFormat, Segmenter, Y4mReader};

const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../data/grace_hopper.jpg");
const DEMO: &str = env!("CARGO_BIN_EXE_bokeh-webcam");

fn photo() -> Frame {
    let bytes = std::fs::read(SAMPLE).expect("sample");
    bokeh::decode_frame(&bytes, bokeh::DecodeLimits::default()).expect("decode")
}

/// Kills the process when the test ends, however it ends.
struct Reaper(Child);

impl Drop for Reaper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn output(cmd: &mut Command) -> Output {
    cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"))
}

/// Starts Xvfb on a free display number; `None` when the test is skipped on purpose.
fn xvfb() -> Option<(Reaper, String)> {
    if std::env::var("BOKEH_XVFB_TESTS").is_ok_and(|v| v == "skip") {
        return None;
    }
    for n in 90..140 {
        if Path::new(&format!("/tmp/.X11-unix/X{n}")).exists() || Path::new(&format!("/tmp/.X{n}-lock")).exists() {
            continue;
        }
        let display = format!(":{n}");
        let child = Command::new("Xvfb")
            .args([display.as_str(), "-screen", "0", "1024x768x24", "-nolisten", "tcp"])
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("Xvfb: {e} (apt-get install xvfb, or BOKEH_XVFB_TESTS=skip)"));
        let reaper = Reaper(child);
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(10) {
            if Path::new(&format!("/tmp/.X11-unix/X{n}")).exists() {
                return Some((reaper, display));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    panic!("Xvfb did not start");
}

/// The window's id, once a window whose title starts with `bokeh webcam |` (statistics shown,
/// so frames have been drawn) exists.
fn find_window(display: &str) -> String {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        let out = output(Command::new("xwininfo").args(["-root", "-tree"]).env("DISPLAY", display));
        let tree = String::from_utf8_lossy(&out.stdout);
        if let Some(line) = tree.lines().find(|l| l.contains("\"bokeh webcam |")) {
            if let Some(id) = line.split_whitespace().next() {
                return id.to_string();
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("no demo window appeared");
}

/// An `xwd` dump (ZPixmap, 24/32 bits per pixel) as RGB.
fn parse_xwd(data: &[u8]) -> (u32, u32, Vec<u8>) {
    let field = |i: usize| u32::from_be_bytes([data[i * 4], data[i * 4 + 1], data[i * 4 + 2], data[i * 4 + 3]]);
    let (header, format, width, height) = (field(0) as usize, field(2), field(4), field(5));
    let (byte_order, bpp, line) = (field(7), field(11), field(12) as usize);
    let masks = [field(14), field(15), field(16)];
    let ncolors = field(19) as usize;
    assert_eq!((format, bpp), (2, 32), "expected a 32-bit ZPixmap");
    let pixels = &data[header + ncolors * 12..];
    let mut rgb = Vec::with_capacity((width * height * 3) as usize);
    for y in 0..height as usize {
        for x in 0..width as usize {
            let b = &pixels[y * line + x * 4..y * line + x * 4 + 4];
            let v = if byte_order == 0 {
                u32::from_le_bytes([b[0], b[1], b[2], b[3]])
            } else {
                u32::from_be_bytes([b[0], b[1], b[2], b[3]])
            };
            rgb.extend(masks.map(|m| ((v & m) >> m.trailing_zeros()) as u8));
        }
    }
    (width, height, rgb)
}

#[test]
fn the_window_shows_processed_frames() {
    let Some((_xvfb, display)) = xvfb() else { return };
    let frames = tempfile::tempdir().expect("temp");
    std::fs::copy(SAMPLE, frames.path().join("0001.jpg")).expect("copy");
    // One still photo, looped: every frame the window shows is that photo in portrait mode.
    let demo = Command::new(DEMO)
        .args(["--input", frames.path().to_str().expect("utf8"), "--loop", "--backend", "cpu", "--no-smooth"])
        .env("DISPLAY", &display)
        .stderr(Stdio::piped())
        .spawn()
        .expect("demo starts");
    let mut demo = Reaper(demo);
    let id = find_window(&display);
    let dump = output(Command::new("xwd").args(["-id", &id, "-silent"]).env("DISPLAY", &display));
    assert!(dump.status.success(), "xwd: {}", String::from_utf8_lossy(&dump.stderr));
    let (w, h, shown) = parse_xwd(&dump.stdout);
    let input = photo();
    assert_eq!((w, h), (input.width(), input.height()), "the window has the frame's size");

    let segmenter = Segmenter::new().expect("model");
    let expected =
        Pipeline::new(&segmenter, Options::default()).expect("pipeline").process(input.as_ref()).expect("run");
    let diff = |a: &[u8], b: &[u8]| {
        let d: Vec<u8> = a.iter().zip(b).map(|(x, y)| x.abs_diff(*y)).collect();
        (d.iter().copied().max().unwrap_or(0), d.iter().map(|&v| v as f64).sum::<f64>() / d.len() as f64)
    };
    let (max, mean) = diff(&shown, expected.data());
    assert!(max <= 2 && mean < 0.05, "window vs library: max {max}, mean {mean:.3}");
    let (_, raw_mean) = diff(&shown, input.data());
    assert!(raw_mean > 1.0, "the window shows the raw input (mean difference {raw_mean:.3})");

    let _ = demo.0.kill();
    let mut log = String::new();
    if let Some(mut err) = demo.0.stderr.take() {
        let _ = err.read_to_string(&mut log);
    }
    assert!(log.contains("pixel stages on CPU"), "{log}");
    assert!(!log.contains("panicked"), "{log}");
}

#[test]
fn y4m_for_a_virtual_camera_on_standard_output() {
    let dir = tempfile::tempdir().expect("temp");
    let clip = dir.path().join("in.y4m");
    let input = photo();
    {
        let file = std::fs::File::create(&clip).expect("create");
        let mut w = bokeh::Y4mWriter::new(file, input.width(), input.height(), (25, 1)).expect("header");
        for _ in 0..4 {
            w.write(input.as_ref()).expect("frame");
        }
    }
    let (log, header, n) = y4m_out(&clip);
    assert!(log.contains("4 frames in"), "{log}");
    assert_eq!(header, (input.width(), input.height(), (25000, 1000)));
    assert_eq!(n, 4, "every frame, in order");
}

/// Runs the demo on `input` with `--output -` and reads what it wrote: its log, the Y4M header
/// (width, height, fps) and the number of frames.
fn y4m_out(input: &Path) -> (String, (u32, u32, (usize, usize)), usize) {
    let args = ["--input", input.to_str().expect("utf8"), "--no-window", "--output", "-", "--backend", "cpu"];
    let out = output(Command::new(DEMO).args(args));
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{log}");
    let mut reader = Y4mReader::new(out.stdout.as_slice(), 1 << 24).expect("Y4M on stdout");
    let header = (reader.width(), reader.height(), reader.fps());
    let mut frame = Frame::new(header.0, header.1, PixelFormat::Rgb8).expect("frame");
    let mut n = 0;
    while reader.read_into(&mut frame.as_mut()).expect("frame") {
        n += 1;
    }
    (log, header, n)
}

#[test]
fn no_camera_is_a_clear_message_with_the_alternatives() {
    // This machine has no camera (no V4L2 devices at all), nor a display.
    if Path::new("/dev/video0").exists() {
        return;
    }
    let out = output(Command::new(DEMO).args(["--no-window"]));
    let log = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{log}");
    assert!(log.contains("camera") && log.contains("--input clip.mp4") && log.contains("--input -"), "{log}");
    assert!(!log.contains("panicked"), "{log}");
    let missing = output(Command::new(DEMO).args(["--input", "/nonexistent/clip.mp4", "--no-window"]));
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no such file"));
}

#[test]
fn raw_rgb_frames_from_a_pipe() {
    let input = photo();
    let mut raw = Vec::new();
    for _ in 0..3 {
        raw.extend_from_slice(input.data());
    }
    raw.extend_from_slice(&input.data()[..100]);
    let size = format!("{}x{}", input.width(), input.height());
    let mut child = Command::new(DEMO)
        .args(["--input", "-", "--raw", &size, "--no-window", "--backend", "cpu"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("demo");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(&raw).expect("write frames");
    }
    let out = child.wait_with_output().expect("demo ends");
    let log = String::from_utf8_lossy(&out.stderr);
    // Three whole frames, then a truncated fourth: an error that says so, after the three.
    assert_eq!(out.status.code(), Some(2), "{log}");
    assert!(log.contains("raw input is truncated: frame 4 has 100 of its"), "{log}");
    assert!(log.contains("3 frames in"), "the whole frames are still processed: {log}");
}

#[test]
fn a_video_file_is_decoded_by_ffmpeg() {
    if std::env::var("BOKEH_FFMPEG_TESTS").is_ok_and(|v| v == "skip") {
        return;
    }
    let dir = tempfile::tempdir().expect("temp");
    let clip = dir.path().join("clip.mp4");
    let made = output(
        Command::new("ffmpeg")
            .args(["-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=10"])
            .args(["-t", "1", "-pix_fmt", "yuv420p", clip.to_str().expect("utf8")]),
    );
    assert!(made.status.success(), "ffmpeg (apt-get install ffmpeg, or BOKEH_FFMPEG_TESTS=skip)");
    let (log, header, n) = y4m_out(&clip);
    assert_eq!(header, (160, 120, (10000, 1000)));
    assert_eq!(n, 10, "one second at 10 fps: {log}");
}
