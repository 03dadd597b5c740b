#!/usr/bin/env bash
# The GPU checks for a machine with a real GPU and no network (the `device` tool's lent NVIDIA
# machines): build the binaries here, carry them there, run them in one go.
#
#   bash scripts/gpu_device_check.sh prepare   # here: release binaries into target/device/
#   bash scripts/gpu_device_check.sh run       # there: tests, model and frame timings into $OUT
#
# `run` checks the GPU backend against the CPU and the model on the GPU against tract
# (`tests/gpu.rs`, Vulkan only: NVIDIA's EGL has no compute shaders), then times, in the same
# minutes and on the same machine: the model alone (GPU vs tract), the GPU stages and whole frames
# (`benches/gpu.rs`), and `bokeh bench` end to end with the model on the CPU and on the GPU at
# 720p, 1080p and 4K (BOKEH_DEVICE_SIZES, BOKEH_DEVICE_FRAMES change that). Results go to $OUT
# (or ./device-out) as text, one file per part.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=target/device

case "${1:-}" in
prepare)
    mkdir -p "$dest"
    cargo build --release --locked -p bokeh-cli
    cp target/release/bokeh "$dest/bokeh"
    # The test and bench executables are the last lines cargo prints for them.
    exe() { cargo "$@" --no-run --message-format=json 2>/dev/null |
        sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1; }
    cp "$(exe test --release --locked --features gpu --test gpu)" "$dest/gpu-tests"
    cp "$(exe bench --locked --features gpu --bench gpu)" "$dest/gpu-bench"
    strip "$dest"/* 2>/dev/null || true
    # Three stripped programs are ≈ 95 MB; the carry limit is 64 MiB: gzip (on every machine).
    gzip -9 -f "$dest"/bokeh "$dest"/gpu-tests "$dest"/gpu-bench
    du -sh "$dest"
    echo "carry: $dest (the run tool's carry list), then: bash scripts/gpu_device_check.sh run"
    ;;
run)
    out="${OUT:-device-out}"
    mkdir -p "$out"
    for f in bokeh gpu-tests gpu-bench; do
        [ -x "$dest/$f" ] || { gzip -dc "$dest/$f.gz" >"$dest/$f" && chmod +x "$dest/$f"; }
    done
    export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"
    nvidia-smi -L >"$out/gpu.txt" 2>&1 || true
    BOKEH_GPU_TEST_APIS=vulkan "$dest/gpu-tests" --test-threads 1 --nocapture >"$out/tests.txt" 2>&1 &&
        echo "tests: ok" || echo "tests: FAILED (see $out/tests.txt)"
    sizes="${BOKEH_DEVICE_SIZES:-1280x720,1920x1080,3840x2160}"
    frames="${BOKEH_DEVICE_FRAMES:-60}"
    BOKEH_BENCH_SIZES="$sizes" "$dest/gpu-bench" --bench \
        --warm-up-time 1 --measurement-time 3 >"$out/bench-gpu.txt" 2>&1 || echo "gpu bench failed"
    for size in ${sizes//,/ }; do
        for model in cpu gpu; do
            "$dest/bokeh" bench --size "$size" --frames "$frames" --backend gpu --model-backend "$model" \
                >"$out/bokeh-bench-$size-model-$model.txt" 2>&1 || echo "bokeh bench $size $model failed"
        done
        "$dest/bokeh" bench --size "$size" --frames "$frames" --backend cpu >"$out/bokeh-bench-$size-cpu.txt" 2>&1 ||
            echo "bokeh bench $size cpu failed"
    done
    grep -h "time:" -B1 "$out/bench-gpu.txt" | grep -v "^--" | tail -n 40 || true
    for f in "$out"/bokeh-bench-*.txt; do
        echo "== $(basename "$f" .txt)"
        grep -v "^$" "$f" | tail -n 12
    done
    ;;
*)
    echo "usage: $0 prepare|run" >&2
    exit 2
    ;;
esac
