//! The model stage against MediaPipe's own runtime and against another ONNX model.
//!
//! Needs `../shared` (golden inputs/outputs and MODNet); skips loudly without it.

mod common;

use bokeh::{FrameRef, InputSize, ModelSpec, PixelFormat, Segmenter};

/// The largest difference from MediaPipe's own outputs that we accept (probabilities 0..1).
const GOLDEN_TOLERANCE: f32 = 1e-3;

#[test]
fn embedded_models_match_mediapipe_outputs() {
    let Some(shared) = common::shared_dir() else { return };
    check_golden(&shared, &Segmenter::new().expect("embedded model loads"), "embedded");
}

#[test]
fn committed_plain_models_match_mediapipe_outputs() {
    let Some(shared) = common::shared_dir() else { return };
    let models = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    for (file, spec) in [
        ("selfie_segmentation.onnx", ModelSpec::mediapipe_selfie()),
        ("selfie_segmentation_landscape.onnx", ModelSpec::mediapipe_selfie_landscape()),
    ] {
        let segmenter = Segmenter::from_onnx_path(models.join(file), spec).expect("model loads");
        check_golden(&shared, &segmenter, file);
    }
}

/// Runs `segmenter` on every reference input its model size fits and compares with MediaPipe.
fn check_golden(shared: &std::path::Path, segmenter: &Segmenter, label: &str) {
    let reference = shared.join("models/reference");
    let fixed: Vec<(u32, u32)> = segmenter
        .specs()
        .filter_map(|s| match s.size {
            InputSize::Fixed { width, height } => Some((width, height)),
            _ => None,
        })
        .collect();
    let mut session = segmenter.session();
    let mut checked = 0;
    let mut entries: Vec<_> = std::fs::read_dir(&reference).expect("reference dir").flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        let Some(stem) = name.strip_suffix(".png") else { continue };
        let model = if stem.ends_with("x144") { "selfie_segmentation_landscape" } else { "selfie_segmentation" };
        let img = image::open(&path).expect("reference png").into_rgb8();
        if !fixed.contains(&img.dimensions()) {
            continue;
        }
        let frame = FrameRef::from_rgb_image(&img).expect("frame");
        let mask = session.segment(frame).expect("segment");
        assert_eq!((mask.width(), mask.height()), img.dimensions(), "{name}: the model of the frame's shape runs");
        let (shape, expected) = common::read_npy_f32(&reference.join(format!("{stem}.{model}.mediapipe.npy")));
        assert_eq!(shape, vec![img.height() as usize, img.width() as usize]);
        let max = mask.data().iter().zip(&expected).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        eprintln!("{label} {name}: max |tract - mediapipe| = {max:.2e}");
        assert!(max <= GOLDEN_TOLERANCE, "{label} {name}: max difference {max} > {GOLDEN_TOLERANCE}");
        checked += 1;
    }
    assert_eq!(checked, 4 * fixed.len(), "{label}: all golden inputs of its sizes were checked");
}

#[test]
fn modnet_loads_from_a_path_with_its_spec() {
    let Some(shared) = common::shared_dir() else { return };
    // A short side of 256 keeps the test quick; the preset's 512 is for real photos.
    let spec: ModelSpec = "modnet,short=256".parse().expect("spec");
    assert_eq!(spec.size, InputSize::ShortSide { short_side: 256, multiple: 32 });
    let segmenter = Segmenter::from_onnx_path(shared.join("models/modnet.onnx"), spec).expect("modnet loads");
    let name = "coco_train_000000000036";
    let img = image::open(shared.join(format!("testdata/photos/images/{name}.jpg"))).expect("photo").into_rgb8();
    let truth = image::open(shared.join(format!("testdata/photos/masks/{name}.png"))).expect("mask").into_luma8();
    let frame = FrameRef::packed(img.as_raw(), img.width(), img.height(), PixelFormat::Rgb8).expect("frame");
    let mask = segmenter.segment(frame).expect("modnet runs");
    // 481x640 -> short side 256, long side 340.6 rounded to a multiple of 32.
    assert_eq!((mask.width(), mask.height()), (256, 352));
    let full = mask.resized(img.width(), img.height()).to_gray8();
    let iou = common::iou(full.data(), truth.as_raw());
    eprintln!("MODNet IoU on {name}: {iou:.3}");
    assert!(iou > 0.6, "MODNet should find the person: IoU {iou}");
}

#[test]
fn wrong_model_files_and_specs_are_clear_errors() {
    let err = Segmenter::from_onnx_bytes(b"not an onnx file", ModelSpec::mediapipe_selfie()).expect_err("garbage");
    assert!(err.to_string().contains("loading ONNX model"), "{err}");
    let err = Segmenter::from_onnx_path("/nonexistent/model.onnx", ModelSpec::modnet()).expect_err("missing");
    assert!(err.to_string().contains("/nonexistent/model.onnx"), "{err}");
    let spec: ModelSpec = "mediapipe,input=image".parse().expect("spec");
    let err = Segmenter::from_onnx_bytes(bokeh::SELFIE_SQUARE_ONNX, spec).expect_err("no such input");
    assert!(err.to_string().contains("no input named \"image\""), "{err}");
    // The right model with the wrong layout (the embedded file is NCHW) fails when the plan is
    // built, naming the size.
    let spec: ModelSpec = "mediapipe,layout=nhwc".parse().expect("spec");
    let err = Segmenter::from_onnx_bytes(bokeh::SELFIE_SQUARE_ONNX, spec).expect_err("wrong layout");
    assert!(err.to_string().contains("256x256"), "{err}");
}
