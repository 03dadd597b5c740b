//! The lens look and the halo, on synthetic frames with known masks: an out-of-focus highlight
//! is a flat disc of the expected radius (a hexagon with six blades), and a strongly coloured
//! person does not tint the blurred background around them.

use bokeh::{BlurKind, Frame, Mask, Options, Pipeline, PixelFormat, Segmenter};

const W: u32 = 240;
const H: u32 = 200;
const GREY: u8 = 40;

fn run(options: Options, frame: &Frame, mask: &Mask) -> Frame {
    let segmenter = Segmenter::new().expect("model");
    let mut p = Pipeline::new(&segmenter, options).expect("pipeline");
    let mut out = Frame::new(frame.width(), frame.height(), frame.format()).expect("out");
    p.process_with_mask(frame.as_ref(), mask, &mut out.as_mut()).expect("process");
    out
}

/// A dark grey frame with one white 5×5 point at (cx, cy); all background.
fn point_scene(cx: usize, cy: usize) -> (Frame, Mask) {
    let mut px = vec![GREY; (W * H * 3) as usize];
    for y in cy - 2..=cy + 2 {
        for x in cx - 2..=cx + 2 {
            px[(y * W as usize + x) * 3..][..3].fill(255);
        }
    }
    let frame = Frame::from_vec(px, W, H, PixelFormat::Rgb8).expect("frame");
    (frame, Mask::new(W, H))
}

fn green(out: &Frame, x: usize, y: usize) -> u8 {
    out.data()[(y * W as usize + x) * 3 + 1]
}

/// Blur radius (pixels) of `strength` on this frame.
fn radius(strength: f32) -> f32 {
    Options::default().with_strength(strength).radius_for(W, H)
}

#[test]
fn a_bright_point_becomes_a_flat_bright_disc_of_the_blur_radius() {
    let (cx, cy) = (120usize, 100usize);
    let (frame, mask) = point_scene(cx, cy);
    let strength = 0.1;
    let r = radius(strength); // ≈ 31 px
    let options = Options::default().with_strength(strength).with_refine(None).with_bloom(16.0);
    let out = run(options.clone(), &frame, &mask);
    // Samples along eight directions at fractions of the radius.
    let ring = |f: f32| -> Vec<u8> {
        (0..8)
            .map(|k| {
                let a = k as f32 * std::f32::consts::FRAC_PI_4;
                let (x, y) = (cx as f32 + f * r * a.cos(), cy as f32 + f * r * a.sin());
                green(&out, x.round() as usize, y.round() as usize)
            })
            .collect()
    };
    let centre = green(&out, cx, cy);
    let inner: Vec<u8> = [0.0, 0.3, 0.6, 0.8].iter().flat_map(|&f| ring(f)).collect();
    let (lo, hi) = (inner.iter().min().copied().unwrap_or(0), inner.iter().max().copied().unwrap_or(0));
    eprintln!("radius {r:.1}: centre {centre}, inside {lo}..{hi}, at 1.2r {:?}", ring(1.2));
    assert!(lo >= GREY + 60, "the disc is bright: {lo} vs background {GREY}");
    assert!(hi - lo <= 6, "the disc is flat inside (not a Gaussian blob): {lo}..{hi}");
    assert!(ring(1.2).iter().all(|&v| v.abs_diff(GREY) <= 2), "nothing beyond the radius: {:?}", ring(1.2));
    assert!(ring(0.95).iter().all(|&v| v >= GREY + 30), "it reaches the radius: {:?}", ring(0.95));

    // Without bloom the same point is a dim grey circle; a Gaussian is a blob, not flat.
    let dim = run(options.clone().with_bloom(1.0), &frame, &mask);
    assert!(green(&dim, cx, cy) < centre - 40, "bloom brightens: {} vs {centre}", green(&dim, cx, cy));
    let gauss = run(options.with_blur(BlurKind::Gaussian), &frame, &mask);
    let g = |f: f32| green(&gauss, cx + (f * r) as usize, cy);
    assert!(g(0.0) - g(0.6) > 20, "a Gaussian falls off inside: {} -> {}", g(0.0), g(0.6));
}

#[test]
fn six_blades_make_a_hexagon() {
    let (cx, cy) = (120usize, 100usize);
    let (frame, mask) = point_scene(cx, cy);
    let strength = 0.1;
    let r = radius(strength);
    let options = Options::default().with_strength(strength).with_refine(None).with_bloom(16.0);
    // Corners left and right reach r; the flat top and bottom only r·√3/2 ≈ 0.87 r, and the
    // slanted sides ≈ 0.9 r at 45°. The reduced-resolution blur softens every edge by ≈ 0.08 r,
    // so the test compares directions at 0.95 r: a disc is the same in all of them.
    let profile = |kind: BlurKind| {
        let out = run(options.clone().with_blur(kind), &frame, &mask);
        let at = |dx: f32, dy: f32| {
            green(&out, (cx as f32 + dx * r).round() as usize, (cy as f32 + dy * r).round() as usize) as i32
        };
        let f = 0.95;
        let (right, left, down, up, diag) = (
            at(f, 0.0),
            at(-f, 0.0),
            at(0.0, f),
            at(0.0, -f),
            at(f * std::f32::consts::FRAC_1_SQRT_2, f * std::f32::consts::FRAC_1_SQRT_2),
        );
        eprintln!("{kind:?} at 0.95 r: right {right} left {left} down {down} up {up} diagonal {diag}");
        assert!(at(0.0, 0.0) >= GREY as i32 + 60, "{kind:?}: bright centre");
        (right.min(left), down.max(up).max(diag))
    };
    let (corner, side) = profile(BlurKind::Hexagon);
    assert!(corner - side >= 15, "hexagon: corners {corner} reach further than the sides {side}");
    let (corner, side) = profile(BlurKind::Disc);
    assert!((corner - side).abs() <= 6, "disc: round ({corner} vs {side})");
}

#[test]
fn a_strongly_coloured_person_leaves_no_halo_in_the_blurred_background() {
    // A saturated red person (a 60×100 block) on a neutral grey background, with its exact mask.
    let (x0, y0, pw, ph) = (90usize, 50usize, 60usize, 100usize);
    let mut px = vec![128u8; (W * H * 3) as usize];
    let mut m = vec![0.0f32; (W * H) as usize];
    for y in y0..y0 + ph {
        for x in x0..x0 + pw {
            px[(y * W as usize + x) * 3..][..3].copy_from_slice(&[230, 20, 40]);
            m[y * W as usize + x] = 1.0;
        }
    }
    let frame = Frame::from_vec(px, W, H, PixelFormat::Rgb8).expect("frame");
    let mask = Mask::from_vec(m, W, H).expect("mask");
    for strength in [0.03, 0.1, 0.25] {
        let out = run(Options::default().with_strength(strength).with_refine(None), &frame, &mask);
        let mut worst = 0u8;
        for y in 0..H as usize {
            for x in 0..W as usize {
                if mask.data()[y * W as usize + x] == 0.0 {
                    let o = &out.data()[(y * W as usize + x) * 3..][..3];
                    worst = worst.max(o.iter().map(|&v| v.abs_diff(128)).max().unwrap_or(0));
                }
            }
        }
        eprintln!("strength {strength}: background off grey by at most {worst}/255");
        assert!(worst <= 2, "strength {strength}: the person's red reached the background: {worst}/255");
    }
}
