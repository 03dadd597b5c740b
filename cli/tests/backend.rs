//! `--backend`: the GPU gives the CPU's picture, `-v` names the adapter, and asking for a GPU
//! where there is none is a clear error that writes nothing.
//!
//! On CI the GPU is Mesa's lavapipe (software Vulkan), installed by `scripts/test.sh`;
//! `BOKEH_GPU_TESTS=skip` leaves out the tests that need an adapter.

use std::path::Path;
use std::process::{Command, Output};

const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/data/grace_hopper.jpg");

fn bokeh(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bokeh"));
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("bokeh runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn needs_adapter() -> bool {
    std::env::var("BOKEH_GPU_TESTS").is_ok_and(|v| v == "skip")
}

fn render(dir: &Path, backend: &str, mode: &str) -> (image::DynamicImage, String) {
    let out = dir.join(format!("{backend}-{mode}.png"));
    let o = out.to_str().expect("utf8");
    let run = bokeh(&["--backend", backend, "--mode", mode, "-v", SAMPLE, "-o", o], &[]);
    assert!(run.status.success(), "{backend} {mode}: {}", stderr(&run));
    (image::open(&out).expect("output decodes"), stderr(&run))
}

#[test]
fn gpu_and_cpu_give_the_same_picture_in_every_mode() {
    if needs_adapter() {
        return;
    }
    let dir = tempfile::tempdir().expect("temp");
    for mode in ["blur", "cutout", "mask"] {
        let (cpu, cpu_log) = render(dir.path(), "cpu", mode);
        let (gpu, gpu_log) = render(dir.path(), "gpu", mode);
        assert!(cpu_log.contains("pixel stages on CPU"), "{cpu_log}");
        assert!(gpu_log.contains("pixel stages on GPU: "), "{gpu_log}");
        let (a, b) = (cpu.as_bytes(), gpu.as_bytes());
        assert_eq!(a.len(), b.len());
        let max = a.iter().zip(b).map(|(x, y)| x.abs_diff(*y)).max().unwrap_or(0);
        // The library's tests hold the backends to 2/255; the model's input differs by float
        // rounding here too, which can move the mask by a code value more at its edge.
        assert!(max <= 3, "{mode}: max difference {max}");
    }
}

#[test]
fn asking_for_a_gpu_where_there_is_none_fails_clearly_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("temp");
    let out = dir.path().join("never.png");
    let env = [
        ("VK_ICD_FILENAMES", "/nonexistent.json"),
        ("VK_DRIVER_FILES", "/nonexistent.json"),
        ("WGPU_BACKEND", "vulkan"),
    ];
    let run = bokeh(&["--backend", "gpu", SAMPLE, "-o", out.to_str().expect("utf8")], &env);
    assert_eq!(run.status.code(), Some(2), "{}", stderr(&run));
    let err = stderr(&run);
    assert!(err.contains("no usable GPU adapter on Vulkan"), "{err}");
    assert!(!out.exists(), "nothing written");
    // `auto` falls back to the CPU with the same reason, and succeeds.
    let run = bokeh(&["--backend", "auto", "-v", SAMPLE, "-o", out.to_str().expect("utf8")], &env);
    assert!(run.status.success(), "{}", stderr(&run));
    assert!(stderr(&run).contains("pixel stages on CPU"), "{}", stderr(&run));
}
