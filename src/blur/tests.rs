use super::*;
use crate::color::Encoder;
use crate::frame::{Frame, PixelFormat};

/// A deterministic test picture: gradients, stripes and a few hard-edged blocks.
pub(crate) fn test_picture(w: u32, h: u32) -> Frame {
    let mut data = Vec::with_capacity((w * h * 3) as usize);
    for y in 0..h {
        for x in 0..w {
            let stripe = if (x / 5 + y / 7) % 2 == 0 { 60 } else { 0 };
            let block = if (x / 16) % 3 == 1 && (y / 12) % 2 == 0 { 120 } else { 0 };
            data.push(((x * 255 / w) as u8).saturating_add(stripe / 2));
            data.push(((y * 255 / h) as u8 / 2).saturating_add(block));
            data.push(((x * 7 + y * 13) % 256) as u8);
        }
    }
    Frame::from_vec(data, w, h, PixelFormat::Rgb8).expect("sizes agree")
}

/// A soft elliptical "person" in the middle.
fn test_mask(w: u32, h: u32) -> Mask {
    let mut m = Mask::new(w, h);
    let (cx, cy) = (w as f32 / 2.0, h as f32 / 2.0);
    for y in 0..h {
        for x in 0..w {
            let d =
                (((x as f32 - cx) / (w as f32 / 5.0)).powi(2) + ((y as f32 - cy) / (h as f32 / 3.0)).powi(2)).sqrt();
            m.data_mut()[(y * w + x) as usize] = (1.5 - d).clamp(0.0, 1.0);
        }
    }
    m
}

/// The blurred background at full resolution, as the compositor sees it.
fn upsampled(bg: &BlurredBackground, w: u32, h: u32) -> Vec<[f32; 3]> {
    let mut out = Vec::new();
    for y in 0..h as usize {
        let row = bg.row(y);
        out.extend((0..w as usize).map(|x| bg.sample(row, x)));
    }
    out
}

fn fast(frame: &Frame, mask: &Mask, kind: BlurKind, radius: f32) -> Vec<[f32; 3]> {
    let mut bg = BlurredBackground::default();
    bg.compute(frame.as_ref(), mask, &BlurParams::new(kind, radius)).expect("sizes match");
    upsampled(&bg, frame.width(), frame.height())
}

/// Max and mean absolute difference in 8-bit sRGB codes.
fn diff_codes(a: &[[f32; 3]], b: &[[f32; 3]]) -> (u8, f64) {
    let enc = Encoder::new();
    let (mut max, mut sum) = (0u8, 0u64);
    for (p, q) in a.iter().zip(b) {
        for c in 0..3 {
            let d = enc.encode(p[c]).abs_diff(enc.encode(q[c]));
            max = max.max(d);
            sum += d as u64;
        }
    }
    (max, sum as f64 / (a.len() * 3) as f64)
}

#[test]
fn fast_disc_matches_reference_when_not_reduced() {
    let (frame, mask) = (test_picture(64, 48), test_mask(64, 48));
    for radius in [0.0, 1.0, 3.5, 7.0, 12.0] {
        let f = fast(&frame, &mask, BlurKind::Disc, radius);
        let r = reference::disc_blur(frame.as_ref(), &mask, radius);
        let max = f.iter().zip(&r).flat_map(|(p, q)| (0..3).map(move |c| (p[c] - q[c]).abs())).fold(0.0, f32::max);
        assert!(max < 1e-4, "radius {radius}: max linear difference {max}");
    }
}

#[test]
fn fast_gaussian_matches_reference_when_not_reduced() {
    let (frame, mask) = (test_picture(64, 48), test_mask(64, 48));
    for radius in [2.0, 9.0] {
        let f = fast(&frame, &mask, BlurKind::Gaussian, radius);
        let r = reference::gaussian_blur(frame.as_ref(), &mask, radius);
        let (max, _) = diff_codes(&f, &r);
        assert!(max <= 1, "radius {radius}: max difference {max} codes");
    }
}

/// With a reduced resolution the fast path is an approximation; these are its declared
/// tolerances against the full-resolution reference, in 8-bit sRGB codes.
const REDUCED_MAX_CODES: u8 = 12;
const REDUCED_MEAN_CODES: f64 = 0.75;

#[test]
fn reduced_resolution_stays_close_to_reference() {
    let (frame, mask) = (test_picture(160, 120), test_mask(160, 120));
    for (kind, radius) in [(BlurKind::Disc, 30.0), (BlurKind::Disc, 19.0), (BlurKind::Gaussian, 30.0)] {
        let f = fast(&frame, &mask, kind, radius);
        let r = match kind {
            BlurKind::Disc => reference::disc_blur(frame.as_ref(), &mask, radius),
            _ => reference::gaussian_blur(frame.as_ref(), &mask, radius),
        };
        let (max, mean) = diff_codes(&f, &r);
        eprintln!("{kind:?} r={radius}: max {max} mean {mean:.3} codes");
        assert!(max <= REDUCED_MAX_CODES && mean <= REDUCED_MEAN_CODES, "{kind:?} r={radius}: max {max}, mean {mean}");
    }
}

/// One small, bright light on a dark background, no person.
fn point_light(size: u32) -> (Frame, Mask) {
    let mut data = vec![12u8; (size * size * 3) as usize];
    let c = size / 2;
    for y in c - 1..=c + 1 {
        for x in c - 1..=c + 1 {
            let i = ((y * size + x) * 3) as usize;
            data[i..i + 3].fill(255);
        }
    }
    (Frame::from_vec(data, size, size, PixelFormat::Rgb8).expect("sizes agree"), Mask::new(size, size))
}

/// Mean linear brightness in a ring `r0 ≤ d < r1` around the centre, and its min and max.
fn ring(img: &[[f32; 3]], size: u32, r0: f32, r1: f32) -> (f32, f32, f32) {
    let c = (size / 2) as f32;
    let (mut sum, mut n, mut lo, mut hi) = (0.0, 0, f32::MAX, f32::MIN);
    for y in 0..size {
        for x in 0..size {
            let d = ((x as f32 - c).powi(2) + (y as f32 - c).powi(2)).sqrt();
            if d >= r0 && d < r1 {
                let v = img[(y * size + x) as usize][1];
                sum += v;
                n += 1;
                lo = lo.min(v);
                hi = hi.max(v);
            }
        }
    }
    (sum / n as f32, lo, hi)
}

#[test]
fn a_bright_point_becomes_a_flat_disc_of_the_right_radius() {
    let size = 201;
    let radius = 40.0;
    let (frame, mask) = point_light(size);
    let out = fast(&frame, &mask, BlurKind::Disc, radius);
    let background = decode_lut()[12];
    let (inner, lo, hi) = ring(&out, size, 0.0, 0.75 * radius);
    let (outside, _, outside_max) = ring(&out, size, 1.2 * radius, 1.5 * radius);
    // Energy of the 3x3 light spread over the disc area: the expected plateau.
    let plateau = background + 9.0 * (1.0 - background) / (std::f32::consts::PI * radius * radius);
    assert!((inner - plateau).abs() < 0.15 * (plateau - background), "plateau {inner} vs expected {plateau}");
    assert!((hi - lo) < 0.2 * (plateau - background), "interior not flat: {lo}..{hi}");
    assert!((outside - background).abs() < 1e-4 && outside_max < background + 1e-3, "light outside the disc");
    // The edge sits at the radius: half-way brightness between 0.9 r and 1.1 r.
    let (edge, _, _) = ring(&out, size, 0.9 * radius, 1.1 * radius);
    assert!(edge > background + 0.2 * (plateau - background) && edge < plateau, "edge {edge}");

    // The Gaussian, by contrast, is peaked: the centre is much brighter than 0.6 r out.
    let g = fast(&frame, &mask, BlurKind::Gaussian, radius);
    let (centre, _, _) = ring(&g, size, 0.0, 0.1 * radius);
    let (mid, _, _) = ring(&g, size, 0.55 * radius, 0.65 * radius);
    assert!(centre - background > 1.5 * (mid - background), "gaussian should be peaked");
}

#[test]
fn person_colour_does_not_bleed_into_the_background() {
    // Left half: saturated red person (mask 1). Right half: neutral grey background (mask 0).
    let (w, h) = (120u32, 60u32);
    let mut data = Vec::new();
    let mut mask = Mask::new(w, h);
    for y in 0..h {
        for x in 0..w {
            let person = x < w / 2;
            data.extend_from_slice(if person { &[230, 20, 20] } else { &[128, 128, 128] });
            mask.data_mut()[(y * w + x) as usize] = if person { 1.0 } else { 0.0 };
        }
    }
    let frame = Frame::from_vec(data, w, h, PixelFormat::Rgb8).expect("sizes agree");
    let enc = Encoder::new();
    for kind in [BlurKind::Disc, BlurKind::Gaussian] {
        for radius in [6.0, 25.0] {
            let out = fast(&frame, &mask, kind, radius);
            for y in 0..h {
                for x in w / 2..w {
                    let p = out[(y * w + x) as usize];
                    let codes = [enc.encode(p[0]), enc.encode(p[1]), enc.encode(p[2])];
                    assert!(
                        codes.iter().all(|&c| c.abs_diff(128) <= 2),
                        "{kind:?} r={radius} halo at ({x},{y}): {codes:?}"
                    );
                }
            }
        }
    }
}

#[test]
fn mismatched_mask_or_bad_radius_is_an_error() {
    let frame = test_picture(16, 8);
    let mut bg = BlurredBackground::new();
    assert!(bg.compute(frame.as_ref(), &Mask::new(8, 16), &BlurParams::new(BlurKind::Disc, 2.0)).is_err());
    assert!(bg.compute(frame.as_ref(), &Mask::new(16, 8), &BlurParams::new(BlurKind::Disc, f32::NAN)).is_err());
    assert!(bg.compute(frame.as_ref(), &Mask::new(16, 8), &BlurParams::new(BlurKind::Disc, -1.0)).is_err());
}

#[test]
fn distance_transform_is_exact() {
    // Against brute force on scattered seeds, a single seed, a full row and no seed at all.
    for (w, h, every) in [(37usize, 23usize, 17usize), (50, 1, 9), (1, 30, 7), (20, 20, 1000), (16, 12, 1)] {
        let seed = |i: usize| (i * 7919 + 3).is_multiple_of(every);
        let mut got = Vec::new();
        distance_transform(w, h, seed, &mut got);
        for y in 0..h {
            for x in 0..w {
                let best = (0..w * h)
                    .filter(|&i| seed(i))
                    .map(|i| ((i % w).abs_diff(x).pow(2) + (i / w).abs_diff(y).pow(2)) as u64)
                    .min()
                    .unwrap_or(FAR);
                assert_eq!(got[y * w + x], best, "{w}x{h} every {every} at ({x}, {y})");
            }
        }
    }
}

#[test]
fn focus_falloff_keeps_lights_near_the_person_small() {
    // A person (mask 1) fills the left 40 columns; one light sits 6 px from them, one 100 px.
    let (w, h) = (240u32, 120u32);
    let mut data = vec![12u8; (w * h * 3) as usize];
    for (x, y) in [(46u32, 60u32), (140, 60)] {
        for yy in y - 1..=y + 1 {
            for xx in x - 1..=x + 1 {
                let i = ((yy * w + xx) * 3) as usize;
                data[i..i + 3].fill(255);
            }
        }
    }
    let frame = Frame::from_vec(data, w, h, PixelFormat::Rgb8).expect("frame");
    let mut mask = Mask::new(w, h);
    for y in 0..h {
        mask.data_mut()[(y * w) as usize..(y * w + 40) as usize].fill(1.0);
    }
    let background = decode_lut()[12];
    // How far from the light its blur reaches along its row (brighter than the background).
    let spread = |img: &[[f32; 3]], x: u32| {
        let row = &img[(60 * w) as usize..(61 * w) as usize];
        (x..w).take_while(|&xx| row[xx as usize][1] > background + 2e-3).count()
    };
    let radius = 20.0;
    let mut bg = BlurredBackground::default();
    bg.compute(frame.as_ref(), &mask, &BlurParams::new(BlurKind::Disc, radius)).expect("blur");
    let plain = upsampled(&bg, w, h);
    bg.compute(frame.as_ref(), &mask, &BlurParams::new(BlurKind::Disc, radius).with_falloff(Some(60.0))).expect("blur");
    let falloff = upsampled(&bg, w, h);
    let (near_plain, far_plain) = (spread(&plain, 46), spread(&plain, 140));
    let (near, far) = (spread(&falloff, 46), spread(&falloff, 140));
    eprintln!("spread without falloff {near_plain} / {far_plain}, with {near} / {far}");
    assert!(near_plain >= 19 && far_plain >= 19, "both lights are full discs without falloff");
    assert_eq!(far, far_plain, "beyond the falloff distance the blur is the full one");
    assert!(near <= 6, "next to the person the light stays small: {near}");
    // A Gaussian has no aperture to grow, and the distance must make sense.
    for (kind, d) in [(BlurKind::Gaussian, 60.0), (BlurKind::Disc, 0.0), (BlurKind::Disc, f32::NAN)] {
        let r = bg.compute(frame.as_ref(), &mask, &BlurParams::new(kind, radius).with_falloff(Some(d)));
        assert!(matches!(r, Err(Error::InvalidOption(_))), "{kind:?} {d}");
    }
}

/// The AVX2 downsampling adds exactly the portable loop's sums — every format, reduction
/// factors below and above the 8-pixel block, rows that are not a multiple of 8 or of the
/// factor, both weightings, bloom on and off, and masks that are 0, 1, outside 0..=1, NaN or in
/// between.
#[cfg(target_arch = "x86_64")]
#[test]
fn the_avx2_downsampling_gives_the_portable_sums() {
    if !std::arch::is_x86_feature_detected!("avx2") {
        eprintln!("skipped: this CPU has no AVX2");
        return;
    }
    let lut = decode_lut();
    let mut next = crate::composite::tests::noise(11);
    let specials = [0.0, 1.0, -0.25, 1.5, f32::NAN, 0.5, 1.0 - f32::EPSILON, f32::MIN_POSITIVE];
    for format in [PixelFormat::Rgb8, PixelFormat::Rgba8, PixelFormat::Bgra8] {
        let (bpp, offsets) = (format.bytes_per_pixel(), format.rgb_offsets());
        for (w, factor) in [(203usize, 1usize), (203, 2), (203, 3), (203, 6), (64, 8), (203, 13), (50, 64)] {
            for weights in [BlurWeights::Background, BlurWeights::BackgroundOnly] {
                for bloom in [1.0, 3.5] {
                    let cells = w.div_ceil(factor);
                    // Two rows into the same cells, as a block of rows does.
                    let (mut expected, mut got) = (vec![[0.0f32; 4]; cells], vec![[0.0f32; 4]; cells]);
                    let mut done_any = 0;
                    for _ in 0..2 {
                        // Bytes near white on some pixels, so the highlight gain is exercised.
                        let row: Vec<u8> = (0..w * bpp)
                            .map(|_| next() as u8 | if next().is_multiple_of(3) { 0xF0 } else { 0 })
                            .collect();
                        let masks: Vec<f32> = (0..w)
                            .map(|_| match next() % 4 {
                                0 => specials[next() as usize % specials.len()],
                                _ => (next() % 10_000) as f32 / 9_999.0,
                            })
                            .collect();
                        accumulate_row(&mut expected, &row, &masks, 0, bpp, offsets, factor, lut, bloom, weights);
                        let done = x86::accumulate_row(&mut got, &row, &masks, format, factor, bloom, weights);
                        accumulate_row(&mut got, &row, &masks, done, bpp, offsets, factor, lut, bloom, weights);
                        assert!(done >= w - 16, "{format:?} factor {factor}: only {done} pixels in AVX2");
                        done_any += done;
                    }
                    assert!(done_any > 0);
                    let bits = |v: &[[f32; 4]]| v.iter().flatten().map(|x| x.to_bits()).collect::<Vec<_>>();
                    assert_eq!(bits(&got), bits(&expected), "{format:?} factor {factor} {weights:?} bloom {bloom}");
                }
            }
        }
    }
}

/// Without focus falloff the span pass runs span by span along whole rows
/// (`spans_row_uniform`); it gives `spans_row`'s sums bit for bit, rows whose aperture reaches
/// past the image's edges and apertures wider than the image included.
#[test]
fn the_uniform_span_pass_gives_the_per_cell_sums() {
    let mut next = crate::composite::tests::noise(11);
    for (w, h, radius) in [(1, 1, 3.0), (3, 5, 2.5), (7, 4, 12.0), (30, 9, 4.0), (64, 40, 11.0), (25, 3, 0.0)] {
        let mut spans = Vec::new();
        disc_spans(radius, &mut spans);
        let apertures = Apertures { levels: vec![(0, spans.len())], spans: spans.clone(), ..Default::default() };
        // Prefix sums of noise, as spans_blur makes them.
        let mut prefix = vec![[0.0f64; 4]; h * (w + 1)];
        for row in prefix.chunks_mut(w + 1) {
            for x in 0..w {
                let v: [f64; 4] = std::array::from_fn(|_| f64::from(next() % 1000) / 997.0);
                row[x + 1] = std::array::from_fn(|c| row[x][c] + v[c]);
            }
        }
        let mut sums = vec![[7.0f64; 4]; w];
        for y in 0..h {
            let (mut expected, mut got) = (vec![[0.0f32; 4]; w], vec![[0.0f32; 4]; w]);
            spans_row(&mut expected, y, h, &prefix, &apertures, &[]);
            spans_row_uniform(&mut got, &mut sums, y, h, &prefix, &spans);
            let bits = |v: &[[f32; 4]]| v.iter().flatten().map(|f| f.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&got), bits(&expected), "{w}x{h} radius {radius} row {y}");
        }
    }
}
