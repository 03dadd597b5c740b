//! Every WGSL file in `shaders/` parses and validates with naga, the shader compiler inside
//! wgpu, so a broken shader fails here even on a machine with no GPU at all. Each stage is
//! checked as the library compiles it: `common.wgsl` (the shared helpers) in front of the pixel
//! stages, `model.wgsl` (the model's operators, which read no frame) alone.

use std::path::Path;

/// A stage's source as the library compiles it (`bokeh::gpu::shaders::with_common`).
fn with_common(common: &str, stage: &str) -> String {
    format!("{common}\n{stage}")
}

#[test]
fn every_shader_parses_and_validates() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
    let common = std::fs::read_to_string(dir.join("common.wgsl")).expect("shaders/common.wgsl");
    let mut checked = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("shaders/") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "wgsl") || path.file_name().is_some_and(|n| n == "common.wgsl") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("read shader");
        let source =
            if path.file_name().is_some_and(|n| n == "model.wgsl") { text } else { with_common(&common, &text) };
        let module = naga::front::wgsl::parse_str(&source)
            .unwrap_or_else(|e| panic!("{}", e.emit_to_string_with_path(&source, &path.display().to_string())));
        // No optional capabilities: what validates here runs on the GL backend's lowest
        // common denominator (no f16, no subgroups, no 64-bit integers).
        naga::valid::Validator::new(naga::valid::ValidationFlags::all(), naga::valid::Capabilities::empty())
            .validate(&module)
            .unwrap_or_else(|e| panic!("{}", e.emit_to_string_with_path(&source, &path.display().to_string())));
        checked.push(path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default());
    }
    checked.sort();
    assert_eq!(
        checked,
        ["blur.wgsl", "composite.wgsl", "model.wgsl", "refine.wgsl", "resample.wgsl"],
        "one shader per pixel stage, one for the model"
    );
}

/// The shaders the library embeds are the files on disk.
#[cfg(feature = "gpu")]
#[test]
fn the_library_embeds_these_files() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
    for (name, embedded) in [
        ("resample.wgsl", bokeh::gpu::shaders::RESAMPLE),
        ("refine.wgsl", bokeh::gpu::shaders::REFINE),
        ("blur.wgsl", bokeh::gpu::shaders::BLUR),
        ("composite.wgsl", bokeh::gpu::shaders::COMPOSITE),
        ("common.wgsl", bokeh::gpu::shaders::COMMON),
        ("model.wgsl", bokeh::gpu::shaders::MODEL),
    ] {
        assert_eq!(std::fs::read_to_string(dir.join(name)).expect("read"), embedded, "{name}");
    }
    let common = bokeh::gpu::shaders::COMMON;
    let stage = bokeh::gpu::shaders::BLUR;
    assert_eq!(bokeh::gpu::shaders::with_common(stage), with_common(common, stage), "compiled as validated here");
}
