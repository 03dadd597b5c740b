//! Colour decontamination: a soft edge between a person and a green wall, pasted over a blue
//! background (replace) or cut out, keeps the person's colour instead of the wall's green.

use bokeh::{Frame, Mask, Mode, Options, Pipeline, PixelFormat, Segmenter};

const W: u32 = 640;
const H: u32 = 360;
const PERSON: [u8; 3] = [200, 150, 120];
const WALL: [u8; 3] = [30, 200, 40];
const NEW_BG: [u8; 3] = [20, 40, 220];

fn lin(v: u8) -> f32 {
    let c = v as f32 / 255.0;
    if c <= 0.04045 {
        c / 12.92
    } else {
        ((c + 0.055) / 1.055).powf(2.4)
    }
}

fn srgb(l: f32) -> u8 {
    let l = l.clamp(0.0, 1.0);
    let c = if l <= 0.003_130_8 { l * 12.92 } else { 1.055 * l.powf(1.0 / 2.4) - 0.055 };
    (c * 255.0).round() as u8
}

/// The person on the left, the wall on the right, an 8-pixel soft edge between them that mixes
/// the two in linear light as a camera does; the mask is that edge's coverage.
fn scene() -> (Frame, Mask) {
    let (mut px, mut m) = (Vec::new(), Vec::new());
    for _ in 0..H {
        for x in 0..W {
            let a = (1.0 - (x as f32 - 300.0) / 8.0).clamp(0.0, 1.0);
            m.push(a);
            px.extend((0..3).map(|c| srgb(a * lin(PERSON[c]) + (1.0 - a) * lin(WALL[c]))));
        }
    }
    (Frame::from_vec(px, W, H, PixelFormat::Rgb8).expect("frame"), Mask::from_vec(m, W, H).expect("mask"))
}

fn run(options: Options, frame: &Frame, mask: &Mask) -> Frame {
    let segmenter = Segmenter::new().expect("model");
    let mut p = Pipeline::new(&segmenter, options.with_refine(None)).expect("pipeline");
    let mut out = Frame::new(W, H, p.options().output_format(frame.format())).expect("out");
    p.process_with_mask(frame.as_ref(), mask, &mut out.as_mut()).expect("process");
    out
}

/// Largest distance (8-bit codes, worst channel) between `out` and the ideal picture over the
/// edge pixels with coverage in 0.2..0.9.
fn worst_edge_error(out: &Frame, mask: &Mask, bpp: usize, ideal: impl Fn(f32) -> [u8; 3]) -> u8 {
    let mut worst = 0;
    for (i, &a) in mask.data().iter().enumerate() {
        if (0.2..=0.9).contains(&a) {
            let want = ideal(a);
            let got = &out.data()[i * bpp..i * bpp + 3];
            worst = worst.max((0..3).map(|c| got[c].abs_diff(want[c])).max().unwrap_or(0));
        }
    }
    worst
}

#[test]
fn replacing_the_background_does_not_carry_the_old_wall_into_the_edge() {
    let (frame, mask) = scene();
    let bg = Frame::from_vec(NEW_BG.repeat((W * H) as usize), W, H, PixelFormat::Rgb8).expect("bg");
    let options = Options::default().with_mode(Mode::Replace).with_background(bg);
    let ideal = |a: f32| std::array::from_fn(|c| srgb(a * lin(PERSON[c]) + (1.0 - a) * lin(NEW_BG[c])));
    let clean = worst_edge_error(&run(options.clone(), &frame, &mask), &mask, 3, ideal);
    let plain = worst_edge_error(&run(options.with_decontaminate(false), &frame, &mask), &mask, 3, ideal);
    eprintln!("replace: edge error {clean}/255 decontaminated, {plain}/255 without");
    assert!(plain >= 40, "without decontamination the wall's green shows ({plain})");
    assert!(clean <= 6, "decontaminated edge off by {clean}/255");
}

#[test]
fn a_cutout_edge_has_the_person_colour_not_the_wall() {
    let (frame, mask) = scene();
    let options = Options::default().with_mode(Mode::Cutout);
    let ideal = |_| PERSON;
    let out = run(options.clone(), &frame, &mask);
    let clean = worst_edge_error(&out, &mask, 4, ideal);
    let plain = worst_edge_error(&run(options.with_decontaminate(false), &frame, &mask), &mask, 4, ideal);
    eprintln!("cutout: edge colour error {clean}/255 decontaminated, {plain}/255 without");
    assert!(plain >= 60, "without decontamination the edge is greenish ({plain})");
    assert!(clean <= 6, "decontaminated colour off by {clean}/255");
    // Alpha is the mask, and the pure person and pure wall pixels keep their bytes.
    for (i, &a) in mask.data().iter().enumerate() {
        let px = &out.data()[i * 4..i * 4 + 4];
        assert_eq!(px[3], (a * 255.0).round() as u8);
        if a == 1.0 {
            assert_eq!(&px[..3], &PERSON);
        }
    }
}
