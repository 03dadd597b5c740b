//! The pipelined stream gives exactly the sequential pipeline's pictures, one frame later.

use bokeh::{Frame, Options, Pipeline, PixelFormat, Segmenter, Stream, Temporal};

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

    let mut stream = Stream::new(&segmenter, options).expect("stream");
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
        assert!(got == want, "frame {i}: the stream must apply each mask to its own frame");
    }
    assert!(stream.timings().inference > std::time::Duration::ZERO);
    assert!(stream.latency() > std::time::Duration::ZERO);
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
