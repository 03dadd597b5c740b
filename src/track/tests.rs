//! The tracker's crops, boxes and pasting.

use super::*;

/// The bounding box of `mask`'s person pixels (`≥ 0.5`) in the coordinates of a `frame`-sized
/// picture; `None` when there are none.
fn person_box(mask: &Mask, frame: (u32, u32)) -> Option<Box2> {
    let (w, h) = (mask.width() as usize, mask.height() as usize);
    let (mut x0, mut y0, mut x1, mut y1) = (w, h, 0, 0);
    for (y, row) in mask.data().chunks_exact(w.max(1)).enumerate() {
        let Some(first) = row.iter().position(|&v| v >= 0.5) else { continue };
        let last = row.iter().rposition(|&v| v >= 0.5).unwrap_or(first);
        (x0, x1, y0, y1) = (x0.min(first), x1.max(last + 1), y0.min(y), y1.max(y + 1));
    }
    if x0 >= x1 {
        return None;
    }
    let (sx, sy) = (frame.0 as f64 / w as f64, frame.1 as f64 / h as f64);
    Some(Box2 { x0: x0 as f64 * sx, y0: y0 as f64 * sy, x1: x1 as f64 * sx, y1: y1 as f64 * sy })
}

#[test]
fn working_size_keeps_small_frames_and_shrinks_large_ones() {
    assert_eq!(work_size(320, 180), (320, 180));
    assert_eq!(work_size(854, 480), (512, 288));
    assert_eq!(work_size(1920, 1080), (512, 288));
    assert_eq!(work_size(480, 640), (384, 512));
    assert_eq!(work_size(4000, 10), (512, 1));
}

#[test]
fn pasting_puts_the_crop_where_it_was_cut_from() {
    // A 100x50 frame, working size the same; a crop at (40, 10) of 20x20 whose mask (10x10)
    // has its person in the left half.
    let mut low = Mask::new(10, 10);
    for row in low.data_mut().chunks_exact_mut(10) {
        row[..5].fill(1.0);
    }
    let mut out = Mask::new(100, 50);
    paste(&low, Crop { x: 40, y: 10, w: 20, h: 20 }, (100, 50), &mut out);
    let at = |x: usize, y: usize| out.data()[y * 100 + x];
    assert_eq!(at(39, 20), 0.0, "left of the crop");
    assert_eq!(at(60, 20), 0.0, "right of the crop");
    assert_eq!(at(45, 9), 0.0, "above the crop");
    assert_eq!(at(41, 20), 1.0);
    assert_eq!(at(58, 20), 0.0);
    assert!((at(49, 20) - 0.75).abs() < 1e-6 && (at(50, 20) - 0.25).abs() < 1e-6);
    assert_eq!(at(45, 29), 1.0, "last row of the crop");
    assert_eq!(at(45, 30), 0.0, "below the crop");
    let b = person_box(&out, (100, 50)).expect("a person");
    assert_eq!((b.x0, b.y0, b.x1, b.y1), (40.0, 10.0, 50.0, 30.0));
}

#[test]
fn crops_stay_inside_frames_of_any_size() {
    let segmenter = Segmenter::new().expect("embedded models");
    let settings = Tracking::default();
    for (fw, fh) in [(1, 1), (2, 3), (1, 500), (500, 1), (640, 360), (1920, 1080)] {
        let mut t = Tracker::new(&segmenter);
        t.frame_size = (fw, fh);
        let (w, h) = (fw as f64, fh as f64);
        for b in [
            Box2 { x0: 0.0, y0: 0.0, x1: w, y1: h },
            Box2 { x0: 0.4 * w, y0: 0.3 * h, x1: 0.45 * w, y1: 0.6 * h },
            Box2 { x0: 0.95 * w, y0: 0.9 * h, x1: w, y1: h },
            Box2 { x0: 0.0, y0: 0.0, x1: 0.01 * w, y1: 0.02 * h },
        ] {
            t.last_crop = None;
            if let Some(c) = t.crop_for(b, &settings) {
                assert!(c.w >= 1 && c.h >= 1 && c.x + c.w <= fw && c.y + c.h <= fh, "{fw}x{fh} {b:?}: {c:?}");
                // The crop holds the box (unless the box is the whole frame).
                assert!(c.x as f64 <= b.x0.max(0.0) + 1.0 && (c.x + c.w) as f64 >= b.x1.min(w) - 1.0, "{c:?}");
            }
        }
    }
    // A lone person of 2% of a 16:9 frame gets a crop of at most a quarter of it, which
    // is kept while the person stays inside with half the margin.
    let mut t = Tracker::new(&segmenter);
    t.frame_size = (640, 360);
    let b = Box2 { x0: 300.0, y0: 120.0, x1: 330.0, y1: 220.0 };
    let c = t.crop_for(b, &settings).expect("a crop");
    assert!(c.w * c.h <= 640 * 360 / 4, "{c:?}");
    t.last_crop = Some(c);
    let moved = Box2 { x0: 304.0, y0: 121.0, x1: 334.0, y1: 221.0 };
    assert_eq!(t.crop_for(moved, &settings), Some(c), "a steady crop");
    let far = Box2 { x0: 500.0, y0: 120.0, x1: 530.0, y1: 220.0 };
    assert_ne!(t.crop_for(far, &settings), Some(c), "the crop follows a person who moved away");
    // A group across the frame: the crop model on the whole frame by default, the whole
    // frame's own model when crops are limited.
    let group = Box2 { x0: 20.0, y0: 40.0, x1: 620.0, y1: 300.0 };
    assert_eq!(t.crop_for(group, &settings), Some(Crop { x: 0, y: 0, w: 640, h: 360 }));
    assert_eq!(t.crop_for(group, &Tracking { max_crop_area: 0.5, ..settings }), None);
}

#[test]
fn the_main_people_make_the_box_and_background_people_do_not() {
    // 100x50 mask: a 10x20 person at (10, 10), a 2x2 speck at (90, 40), a 6x10 person at (60, 5).
    let mut m = Mask::new(100, 50);
    let mut fill = |x0: usize, y0: usize, w: usize, h: usize| {
        for y in y0..y0 + h {
            m.data_mut()[y * 100 + x0..y * 100 + x0 + w].fill(1.0);
        }
    };
    fill(10, 10, 10, 20);
    fill(90, 40, 2, 2);
    fill(60, 5, 6, 10);
    let (mut regions, mut found) = (Regions::default(), Vec::new());
    let b = subject_box(&mut regions, &mut found, &m, (200, 100), SUBJECT_SHARE).expect("people");
    assert_eq!((b.x0, b.y0, b.x1, b.y1), (20.0, 10.0, 132.0, 60.0));
    assert_eq!(subject_box(&mut regions, &mut found, &Mask::new(4, 4), (4, 4), SUBJECT_SHARE), None);
}

#[test]
fn settings_are_checked() {
    assert!(Tracking::default().validate().is_ok());
    for bad in [
        Tracking { full_frame_interval: 0, ..Tracking::default() },
        Tracking { margin: -0.1, ..Tracking::default() },
        Tracking { max_crop_area: 0.0, ..Tracking::default() },
        Tracking { shrink: f32::NAN, ..Tracking::default() },
    ] {
        assert!(bad.validate().is_err(), "{bad:?}");
    }
}
