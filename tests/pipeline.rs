//! The pipeline's pixel stages on fixed masks: formats, strides, modes, and a golden image.

use std::path::{Path, PathBuf};

use bokeh::{BlurKind, Frame, FrameMut, FrameRef, Mask, Mode, Options, Pipeline, PixelFormat, Segmenter};

const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data/grace_hopper.jpg");

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// The sample photo at a quarter of its area, as RGB.
fn sample() -> Frame {
    let img = image::open(SAMPLE).expect("sample").into_rgb8();
    let img = image::imageops::resize(&img, 256, 300, image::imageops::FilterType::Triangle);
    Frame::from_vec(img.into_raw(), 256, 300, PixelFormat::Rgb8).expect("frame")
}

/// The committed mask for the small sample (the model's answer, frozen so the pixel stages
/// are tested on their own).
fn fixed_mask() -> Mask {
    let img = image::open(golden_dir().join("grace_hopper-256x300-mask.png")).expect("golden mask").into_luma8();
    Mask::from_gray8(img.as_raw(), img.width(), img.height()).expect("mask")
}

fn pipeline(options: Options) -> Pipeline {
    Pipeline::new(&Segmenter::new().expect("model"), options).expect("pipeline")
}

fn run(p: &mut Pipeline, input: FrameRef<'_>, mask: &Mask) -> Frame {
    let mut out = Frame::new(input.width(), input.height(), p.options().output_format(input.format())).expect("out");
    p.process_with_mask(input, mask, &mut out.as_mut()).expect("process");
    out
}

/// Golden tolerance for the blur output, in 8-bit codes: rounding and float-order differences
/// between machines, nothing more.
const GOLDEN_MAX: u8 = 2;
const GOLDEN_MEAN: f64 = 0.05;

#[test]
fn blur_output_matches_the_golden_image() {
    let frame = sample();
    let out = run(&mut pipeline(Options::default()), frame.as_ref(), &fixed_mask());
    let path = golden_dir().join("grace_hopper-256x300-blur.png");
    let actual = image::RgbImage::from_raw(256, 300, out.data().to_vec()).expect("image");
    if std::env::var_os("BOKEH_UPDATE_GOLDEN").is_some() {
        actual.save(&path).expect("write golden");
        return;
    }
    let expected = image::open(&path).expect("golden image (BOKEH_UPDATE_GOLDEN=1 makes it)").into_rgb8();
    let diffs: Vec<u8> = actual.as_raw().iter().zip(expected.as_raw()).map(|(a, b)| a.abs_diff(*b)).collect();
    let max = diffs.iter().copied().max().unwrap_or(0);
    let mean = diffs.iter().map(|&d| d as f64).sum::<f64>() / diffs.len() as f64;
    if max > GOLDEN_MAX || mean > GOLDEN_MEAN {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
        actual.save(dir.join("grace_hopper-blur.actual.png")).expect("write actual");
        let diff: Vec<u8> = diffs.iter().map(|&d| d.saturating_mul(32)).collect();
        image::RgbImage::from_raw(256, 300, diff).expect("diff").save(dir.join("grace_hopper-blur.diff.png")).ok();
        panic!("golden mismatch: max {max} (≤ {GOLDEN_MAX}), mean {mean:.3} (≤ {GOLDEN_MEAN}); see {}", dir.display());
    }
}

#[test]
fn strided_bgra_gives_the_same_picture_as_rgb_and_keeps_alpha() {
    let rgb = sample();
    let mask = fixed_mask();
    let (w, h) = (rgb.width(), rgb.height());
    let stride = w as usize * 4 + 12;
    let mut bgra = vec![0u8; stride * h as usize];
    for y in 0..h as usize {
        for x in 0..w as usize {
            let s = &rgb.data()[(y * w as usize + x) * 3..][..3];
            bgra[y * stride + x * 4..][..4].copy_from_slice(&[s[2], s[1], s[0], (x % 256) as u8]);
        }
    }
    let mut p = pipeline(Options::default());
    let expected = run(&mut p, rgb.as_ref(), &mask);
    let input = FrameRef::new(&bgra, w, h, stride, PixelFormat::Bgra8).expect("strided view");
    let mut out_buf = vec![7u8; stride * h as usize];
    let mut out = FrameMut::new(&mut out_buf, w, h, stride, PixelFormat::Bgra8).expect("strided output");
    p.process_with_mask(input, &mask, &mut out).expect("process");
    for y in 0..h as usize {
        for x in 0..w as usize {
            let o = &out_buf[y * stride + x * 4..][..4];
            let e = &expected.data()[(y * w as usize + x) * 3..][..3];
            assert_eq!([o[2], o[1], o[0]], [e[0], e[1], e[2]], "pixel ({x},{y})");
            assert_eq!(o[3], (x % 256) as u8, "alpha kept");
        }
        assert!(out_buf[y * stride + w as usize * 4..(y + 1) * stride].iter().all(|&b| b == 7) || y == h as usize - 1);
    }
}

#[test]
fn replace_and_cutout_follow_the_mask() {
    let frame = sample();
    let (w, h) = (frame.width(), frame.height());
    let bg = Frame::from_vec([200u8, 30, 90].repeat(64 * 32), 64, 32, PixelFormat::Rgb8).expect("bg");
    // The masks are used as given (no refinement, no decontamination: tests/decontaminate.rs),
    // so the output follows them exactly.
    let options = Options::default().with_refine(None).with_decontaminate(false);
    let mut p = pipeline(options.clone().with_mode(Mode::Replace).with_background(bg));
    let all = Mask::from_vec(vec![1.0; (w * h) as usize], w, h).expect("mask");
    assert_eq!(run(&mut p, frame.as_ref(), &all).data(), frame.data(), "person everywhere: input unchanged");
    let none = Mask::new(w, h);
    assert!(run(&mut p, frame.as_ref(), &none).data().chunks_exact(3).all(|px| px == [200, 30, 90]));

    let mut p = pipeline(options.with_mode(Mode::Cutout));
    let mask = fixed_mask();
    let out = run(&mut p, frame.as_ref(), &mask);
    assert_eq!(out.format(), PixelFormat::Rgba8);
    for (i, px) in out.data().chunks_exact(4).enumerate() {
        assert_eq!(&px[..3], &frame.data()[i * 3..i * 3 + 3]);
        assert_eq!(px[3], (mask.data()[i] * 255.0).round() as u8);
    }
}

#[test]
fn zero_strength_blur_changes_nothing_and_gaussian_differs_from_disc() {
    let frame = sample();
    let mask = fixed_mask();
    let out = run(&mut pipeline(Options::default().with_strength(0.0)), frame.as_ref(), &mask);
    assert_eq!(out.data(), frame.data());
    let disc = run(&mut pipeline(Options::default()), frame.as_ref(), &mask);
    let gauss = run(&mut pipeline(Options::default().with_blur(BlurKind::Gaussian)), frame.as_ref(), &mask);
    assert_ne!(disc.data(), gauss.data());
}

#[test]
fn wrong_outputs_and_options_are_errors() {
    let frame = sample();
    let mut p = pipeline(Options::default());
    let mut small = Frame::new(10, 10, PixelFormat::Rgb8).expect("frame");
    let err = p.process_into(frame.as_ref(), &mut small.as_mut()).expect_err("size");
    assert!(err.to_string().contains("256x300"), "{err}");
    let mut rgba = Frame::new(256, 300, PixelFormat::Rgba8).expect("frame");
    assert!(p.process_into(frame.as_ref(), &mut rgba.as_mut()).is_err(), "format must match the mode");
    assert!(p.process_with_mask(frame.as_ref(), &Mask::new(0, 0), &mut rgba.as_mut()).is_err());
    assert!(Pipeline::new(&Segmenter::new().expect("model"), Options::default().with_strength(f32::NAN)).is_err());
    assert!(Pipeline::new(&Segmenter::new().expect("model"), Options::default().with_mode(Mode::Replace)).is_err());
}

#[test]
fn the_model_finds_the_person_in_the_sample() {
    let frame = sample();
    let mut p = pipeline(Options::default().with_mode(Mode::Mask));
    let out = p.process(frame.as_ref()).expect("process");
    let px = |x: u32, y: u32| out.data()[(y * 256 + x) as usize];
    assert!(px(128, 100) > 200, "face is person");
    assert!(px(5, 5) < 50 && px(250, 5) < 50, "top corners are background");
    assert!(p.timings().inference > std::time::Duration::ZERO);
}
