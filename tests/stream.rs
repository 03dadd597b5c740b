//! The pipelined stream gives exactly the sequential pipeline's pictures, one frame later.

use bokeh::{Frame, Options, Pipeline, PixelFormat, Schedule, Segmenter, Stream, Temporal};

const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data/grace_hopper.jpg");

/// Three different 320x180 frames: the sample, mirrored, and shifted.
fn frames() -> Vec<Frame> {
    let img = image::open(SAMPLE).expect("sample").into_rgb8();
    let base = image::imageops::resize(&img, 320, 180, image::imageops::FilterType::Triangle);
    let mirrored = image::imageops::flip_horizontal(&base);
    let mut shifted = base.clone();
    image::imageops::overlay(&mut shifted, &image::imageops::crop_imm(&base, 40, 0, 280, 180).to_image(), 0, 0);
    [base, mirrored, shifted]
        .into_iter()
        .map(|i| Frame::from_vec(i.into_raw(), 320, 180, PixelFormat::Rgb8).expect("frame"))
        .collect()
}

#[test]
fn stream_outputs_match_the_sequential_pipeline_frame_for_frame() {
    same_as_sequential(Options::default());
}

#[test]
fn stream_with_temporal_smoothing_matches_the_sequential_pipeline() {
    same_as_sequential(Options::default().with_temporal(Some(Temporal::default())));
}

fn same_as_sequential(options: Options) {
    let segmenter = Segmenter::new().expect("model");
    let frames = frames();
    let mut sequential = Pipeline::new(&segmenter, options.clone()).expect("pipeline");
    let expected: Vec<Frame> = frames.iter().map(|f| sequential.process(f.as_ref()).expect("process")).collect();
    assert_ne!(expected[0], expected[1], "the test frames differ");

    for schedule in [Schedule::Auto, Schedule::Overlapped, Schedule::Shared, Schedule::Sequential] {
        let mut stream = Stream::new(&segmenter, options.clone()).expect("stream");
        stream.set_schedule(schedule);
        let mut out = Frame::new(320, 180, PixelFormat::Rgb8).expect("out");
        let mut outputs = Vec::new();
        for f in &frames {
            if stream.push(f.as_ref(), &mut out.as_mut()).expect("push") {
                outputs.push(out.clone());
            }
        }
        assert_eq!(outputs.len(), frames.len() - 1, "one frame of latency");
        assert!(stream.finish(&mut out.as_mut()).expect("finish"));
        outputs.push(out.clone());
        assert!(!stream.finish(&mut out.as_mut()).expect("nothing left"));
        for (i, (got, want)) in outputs.iter().zip(&expected).enumerate() {
            assert!(got == want, "{schedule:?}, frame {i}: the stream must apply each mask to its own frame");
        }
        assert!(stream.timings().inference > std::time::Duration::ZERO);
        assert!(stream.latency() > std::time::Duration::ZERO);
    }
}

/// `Schedule::Auto` tries the schedules in turns for `PROBE_FRAMES` frames, then keeps one; switching
/// between them mid-stream changes no picture.
#[test]
fn auto_schedule_measures_each_schedule_then_keeps_one_and_the_pictures_stay_the_same() {
    let segmenter = Segmenter::new().expect("model");
    let options = Options::default().with_temporal(Some(Temporal::default()));
    let frames = frames();
    let inputs: Vec<&Frame> = (0..Schedule::PROBE_FRAMES + 3).map(|i| &frames[i % 3]).collect();
    let mut sequential = Pipeline::new(&segmenter, options.clone()).expect("pipeline");
    let expected: Vec<Frame> = inputs.iter().map(|f| sequential.process(f.as_ref()).expect("process")).collect();

    let mut stream = Stream::new(&segmenter, options).expect("stream");
    assert_eq!(stream.schedule(), (Schedule::Overlapped, true), "measures from the first frame");
    let mut out = Frame::new(320, 180, PixelFormat::Rgb8).expect("out");
    let mut seen = Vec::new();
    for (i, f) in inputs.iter().enumerate() {
        let (schedule, _) = stream.schedule();
        if stream.push(f.as_ref(), &mut out.as_mut()).expect("push") {
            assert!(out == expected[i - 1], "frame {}", i - 1);
            if seen.last() != Some(&schedule) {
                seen.push(schedule);
            }
        }
    }
    assert_eq!(seen[..3], Schedule::MEASURED, "each schedule measured in turn");
    let (chosen, measuring) = stream.schedule();
    assert!(!measuring && Schedule::MEASURED.contains(&chosen), "{chosen:?}");
    stream.set_schedule(Schedule::Sequential);
    assert_eq!(stream.schedule(), (Schedule::Sequential, false));
    assert!(stream.finish(&mut out.as_mut()).expect("finish"));
    assert!(out == expected[inputs.len() - 1]);
}

#[test]
fn stream_reports_errors_and_keeps_going() {
    let segmenter = Segmenter::new().expect("model");
    let frames = frames();
    let mut stream = Stream::new(&segmenter, Options::default()).expect("stream");
    let mut wrong = Frame::new(10, 10, PixelFormat::Rgb8).expect("out");
    assert!(!stream.push(frames[0].as_ref(), &mut wrong.as_mut()).expect("first push writes nothing"));
    let err = stream.push(frames[1].as_ref(), &mut wrong.as_mut()).expect_err("output of the wrong size");
    assert!(err.to_string().contains("320x180"), "{err}");
    let mut out = Frame::new(320, 180, PixelFormat::Rgb8).expect("out");
    assert!(stream.finish(&mut out.as_mut()).expect("the stream still works"));
}

/// Runs `inputs` through `stream` and returns every output, in order.
fn run_stream(stream: &mut Stream, inputs: &[&Frame]) -> Vec<(Frame, u32)> {
    let mut out = Frame::new(320, 180, PixelFormat::Rgb8).expect("out");
    let mut outputs = Vec::new();
    for f in inputs {
        if stream.push(f.as_ref(), &mut out.as_mut()).expect("push") {
            outputs.push((out.clone(), stream.mask_age()));
        }
    }
    while stream.finish(&mut out.as_mut()).expect("finish") {
        outputs.push((out.clone(), stream.mask_age()));
    }
    outputs
}

#[test]
fn a_mask_interval_runs_the_model_on_every_nth_frame_and_reuses_its_mask() {
    let segmenter = Segmenter::new().expect("model");
    let frames = frames();
    let inputs: Vec<&Frame> = (0..7).map(|i| &frames[i % 3]).collect();
    let mut stream = Stream::new(&segmenter, Options::default()).expect("stream");
    assert!(stream.set_mask_interval(0).is_err());
    stream.set_mask_interval(3).expect("interval");
    let outputs = run_stream(&mut stream, &inputs);
    assert_eq!(stream.mask_counts(), (7, 3), "frames 0, 3 and 6 are segmented");
    assert_eq!(stream.latency_frames(), 1);
    let ages: Vec<u32> = outputs.iter().map(|(_, age)| *age).collect();
    assert_eq!(ages, [0, 1, 2, 0, 1, 2, 0]);
    // Segmented frames get their own mask; the others the newest mask, on their own pixels.
    let mut sequential = Pipeline::new(&segmenter, Options::default()).expect("pipeline");
    let mut fresh = Frame::new(320, 180, PixelFormat::Rgb8).expect("out");
    let mut mask = bokeh::Mask::new(0, 0);
    for (i, (got, _)) in outputs.iter().enumerate() {
        if i % 3 == 0 {
            sequential.process_into(inputs[i].as_ref(), &mut fresh.as_mut()).expect("process");
            mask = segmenter.segment(inputs[i].as_ref()).expect("segment");
        } else {
            sequential.process_with_mask(inputs[i].as_ref(), &mask, &mut fresh.as_mut()).expect("reuse");
        }
        assert!(*got == fresh, "frame {i}");
    }
}

#[test]
fn a_still_scene_reuses_its_mask_until_the_picture_moves() {
    let segmenter = Segmenter::new().expect("model");
    let frames = frames();
    // Four copies of one frame, then a different one, then that again.
    let inputs = [&frames[0], &frames[0], &frames[0], &frames[0], &frames[1], &frames[1]];
    let mut stream = Stream::new(&segmenter, Options::default()).expect("stream");
    assert!(stream.set_still_threshold(Some(-1.0)).is_err());
    stream.set_still_threshold(Some(2.0)).expect("threshold");
    let outputs = run_stream(&mut stream, &inputs);
    assert_eq!(stream.mask_counts(), (6, 2), "the model runs on the first frame and on the change");
    let ages: Vec<u32> = outputs.iter().map(|(_, age)| *age).collect();
    assert_eq!(ages, [0, 1, 2, 3, 0, 1]);
    // A still frame with a reused mask looks exactly like the first one.
    assert!(outputs[3].0 == outputs[0].0);
    assert!(outputs[5].0 == outputs[4].0);
}

#[test]
fn camera_frames_in_yuv_go_straight_into_the_stream() {
    use bokeh::{YuvColor, YuvFrame, YuvLayout};
    let segmenter = Segmenter::new().expect("model");
    let frames = frames();
    for layout in [YuvLayout::Nv12, YuvLayout::I420, YuvLayout::Yuyv] {
        let yuv: Vec<YuvFrame> =
            frames.iter().map(|f| YuvFrame::from_rgb(f.as_ref(), layout, YuvColor::default()).expect("yuv")).collect();
        // What the same frames give through push() once converted to RGBA by the caller.
        let rgba: Vec<Frame> = yuv.iter().map(|y| y.as_ref().to_frame(PixelFormat::Rgba8).expect("rgba")).collect();
        let mut by_frame = Stream::new(&segmenter, Options::default()).expect("stream");
        let mut by_yuv = Stream::new(&segmenter, Options::default()).expect("stream");
        let mut a = Frame::new(320, 180, PixelFormat::Rgba8).expect("out");
        let mut b = Frame::new(320, 180, PixelFormat::Rgba8).expect("out");
        for (f, y) in rgba.iter().zip(&yuv) {
            let pa = by_frame.push(f.as_ref(), &mut a.as_mut()).expect("push");
            let pb = by_yuv.push_yuv(y.as_ref(), PixelFormat::Rgba8, &mut b.as_mut()).expect("push_yuv");
            assert_eq!(pa, pb);
            assert!(a == b, "{layout:?}");
        }
        assert!(by_yuv.finish(&mut b.as_mut()).expect("finish") && by_frame.finish(&mut a.as_mut()).expect("finish"));
        assert!(a == b, "{layout:?} last frame");
    }
}
