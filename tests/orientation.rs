//! Frames stored sideways, upside down or mirrored, as phone cameras deliver them
//! ([`bokeh::Orientation`], `src/orient.rs`): with the orientation given, the mask must agree with
//! the upright frame's (IoU ≥ 0.97, the target; the sampling is exact, so it is nearly 1); without
//! it the model sees sideways people. Shared photos and the dance-twirl clip through a
//! [`bokeh::Stream`] with the tracking crop.

mod common;

use bokeh::{
    orient_into, Frame, Mode, Options, Orientation, Pipeline, PixelFormat, Rotation, Segmenter, Stream, Temporal,
};

/// The seven orientations that are not upright.
fn turned() -> Vec<Orientation> {
    let rotations = [Rotation::None, Rotation::Cw90, Rotation::Cw180, Rotation::Cw270];
    rotations
        .into_iter()
        .flat_map(|r| [Orientation::new(r, false), Orientation::new(r, true)])
        .filter(|o| !o.is_upright())
        .collect()
}

fn orient(frame: &Frame, o: Orientation) -> Frame {
    let (w, h) = o.upright_size(frame.width(), frame.height());
    let mut out = Frame::new(w, h, frame.format()).expect("frame");
    orient_into(frame.as_ref(), o, &mut out.as_mut()).expect("orient");
    out
}

/// The frame as a camera stored at `o` would hold it: the orientation whose turn undoes `o`.
fn stored_as(upright: &Frame, o: Orientation) -> Frame {
    let probe = Frame::from_vec((0..6).collect(), 3, 2, PixelFormat::Gray8).expect("probe");
    let inverse = turned()
        .into_iter()
        .find(|&i| orient(&orient(&probe, i), o) == probe)
        .expect("every orientation has an inverse");
    orient(upright, inverse)
}

fn mask_of(segmenter: &Segmenter, frame: &Frame, options: Options) -> Frame {
    let mut p = Pipeline::new(segmenter, options.with_mode(Mode::Mask)).expect("pipeline");
    p.process(frame.as_ref()).expect("process")
}

#[test]
fn turned_photos_give_the_upright_mask() {
    let Some(shared) = common::shared_dir() else { return };
    let mut names: Vec<_> = std::fs::read_dir(shared.join("testdata/photos/images"))
        .expect("photos")
        .map(|e| e.expect("entry").path())
        .collect();
    names.sort();
    let segmenter = Segmenter::new().expect("model");
    let (mut worst, mut naive_sum, mut naive_n) = (1.0f64, 0.0, 0);
    for path in names.iter().step_by(8) {
        let rgb = image::open(path).expect("photo").to_rgb8();
        let upright = Frame::from_ref(bokeh::FrameRef::from_rgb_image(&rgb).expect("view"));
        let reference = mask_of(&segmenter, &upright, Options::default());
        for o in turned() {
            let stored = stored_as(&upright, o);
            let options = Options::default().with_orientation(o).with_upright_output(true);
            let got = mask_of(&segmenter, &stored, options);
            let iou = common::iou(got.data(), reference.data());
            worst = worst.min(iou);
            assert!(iou >= 0.97, "{} at {o:?}: IoU {iou:.4} with the upright mask", path.display());
            // What an app got before: the frame as stored, the mask turned afterwards.
            let naive = orient(&mask_of(&segmenter, &stored, Options::default()), o);
            naive_sum += common::iou(naive.data(), reference.data());
            naive_n += 1;
        }
    }
    eprintln!(
        "turned photos: worst IoU with the upright mask {worst:.4}; without the orientation, mean {:.3}",
        naive_sum / naive_n as f64
    );
}

#[test]
fn the_mask_stays_as_stored_and_the_output_turns() {
    let Some(shared) = common::shared_dir() else { return };
    let path = shared.join("testdata/photos/images/coco_train_000000000036.jpg");
    let rgb = image::open(path).expect("photo").to_rgb8();
    let upright = Frame::from_ref(bokeh::FrameRef::from_rgb_image(&rgb).expect("view"));
    let segmenter = Segmenter::new().expect("model");
    let o = Orientation::new(Rotation::Cw90, true);
    let stored = stored_as(&upright, o);
    let options = Options::default().with_orientation(o);
    // As stored: the output has the input's size; the mask too, whatever the output.
    let mut as_stored = Pipeline::new(&segmenter, options.clone()).expect("pipeline");
    let blurred = as_stored.process(stored.as_ref()).expect("process");
    assert_eq!((blurred.width(), blurred.height()), (stored.width(), stored.height()));
    let mut upright_out = Pipeline::new(&segmenter, options.with_upright_output(true)).expect("pipeline");
    let turned_out = upright_out.process(stored.as_ref()).expect("process");
    assert_eq!(turned_out, orient(&blurred, o), "upright output = the stored output turned");
    assert_eq!(upright_out.mask().data(), as_stored.mask().data());
    // A frame of the stored size is refused as an upright output.
    let mut wrong = Frame::new(stored.width(), stored.height(), PixelFormat::Rgb8).expect("frame");
    assert!(upright_out.process_into(stored.as_ref(), &mut wrong.as_mut()).is_err());
}

#[test]
fn a_sideways_video_stream_follows_the_upright_one() {
    let Some(shared) = common::shared_dir() else { return };
    let dir = shared.join("testdata/video/davis2016_dance-twirl/frames");
    let mut names: Vec<_> = std::fs::read_dir(dir).expect("frames").map(|e| e.expect("entry").path()).collect();
    names.sort();
    let frames: Vec<Frame> = names
        .iter()
        .take(24)
        .map(|p| Frame::from_dynamic_image(image::open(p).expect("frame")).expect("rgb"))
        .collect();
    let segmenter = Segmenter::new().expect("model");
    let video = Options::default().with_mode(Mode::Mask).with_temporal(Some(Temporal::default()));
    let run = |o: Orientation| {
        let options = video.clone().with_orientation(o).with_upright_output(true);
        let mut stream = Stream::new(&segmenter, options).expect("stream");
        let (w, h) = (frames[0].width(), frames[0].height());
        let mut out = Frame::new(w, h, PixelFormat::Gray8).expect("frame");
        let mut masks = Vec::new();
        for f in &frames {
            let stored = if o.is_upright() { f.clone() } else { stored_as(f, o) };
            if stream.push(stored.as_ref(), &mut out.as_mut()).expect("push") {
                masks.push(out.data().to_vec());
            }
        }
        stream.finish(&mut out.as_mut()).expect("finish");
        masks.push(out.data().to_vec());
        masks
    };
    let upright = run(Orientation::UPRIGHT);
    for o in [Orientation::new(Rotation::Cw90, false), Orientation::new(Rotation::Cw270, true)] {
        let masks = run(o);
        let ious: Vec<f64> = masks.iter().zip(&upright).map(|(a, b)| common::iou(a, b)).collect();
        let mean = ious.iter().sum::<f64>() / ious.len() as f64;
        let worst = ious.iter().copied().fold(1.0, f64::min);
        eprintln!("stream at {o:?}: mean IoU with upright {mean:.4}, worst {worst:.4}");
        assert!(mean >= 0.97 && worst >= 0.9, "{o:?}: mean {mean:.4}, worst {worst:.4}");
    }
}
