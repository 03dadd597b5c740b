#!/usr/bin/env bash
# Speed against the peer, measured back to back on this machine (report ratios, not absolutes):
#  - end to end: ../shared/tools/peer_pipeline.py (MediaPipe TFLite mask + OpenCV GaussianBlur +
#    numpy soft composite) vs `bokeh bench` (sequential and pipelined), on the DAVIS frames
#    resized to 1280x720 and 1920x1080;
#  - inference: onnxruntime (1 thread) on the same ONNX files vs tract in `bokeh bench`.
# Needs PyPI (mediapipe==0.10.21, pillow, onnxruntime) for a virtualenv, made once in
# $PEER_VENV (default .venv-peer). Usage: bash scripts/bench_vs_peer.sh [FRAMES]
# BOKEH_BASELINE=path/to/older/bokeh adds that binary's times in the same run (before/after tables)
# and the per-stage medians of both at 1080p.
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${BOKEH_SHARED:-../shared}
venv=${PEER_VENV:-.venv-peer}
frames=${1:-60}
clip="$shared/testdata/video/davis2016_dance-twirl/frames"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q mediapipe==0.10.21 pillow onnxruntime
fi
cargo build --release -q -p bokeh-cli
bokeh=target/release/bokeh
last() { tail -n 1 | cut -f2; }
stage() { grep "^$1	" | cut -f2; }

echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
base=${BOKEH_BASELINE:-}
printf 'size\tpeer_ms\tbokeh_seq_ms\tbokeh_pipelined_ms\tpeer/seq\tpeer/pipelined\tstream schedule'
[ -n "$base" ] && printf '\tbaseline_seq_ms\tbaseline_pipelined_ms'
printf '\n'
for size in 1280x720 1920x1080; do
    w=${size%x*} h=${size#*x}
    peer=$("$venv/bin/python" "$shared/tools/peer_pipeline.py" --width "$w" --height "$h" --frames "$frames" | last)
    seq_out=$($bokeh bench --size "$size" --frames "$frames" --input "$clip")
    pip_out=$($bokeh bench --size "$size" --frames "$frames" --input "$clip" --pipelined)
    seq=$(echo "$seq_out" | last) pip=$(echo "$pip_out" | last)
    schedule=$(echo "$pip_out" | grep -o 'schedule [a-z]*' | cut -d' ' -f2)
    awk -v s="$size" -v p="$peer" -v a="$seq" -v b="$pip" -v k="$schedule" \
        'BEGIN { printf "%s\t%.2f\t%.2f\t%.2f\t%.2fx\t%.2fx\t%s", s, p, a, b, p / a, p / b, k }'
    if [ -n "$base" ]; then
        base_seq_out=$("$base" bench --size "$size" --frames "$frames" --input "$clip")
        base_pip=$("$base" bench --size "$size" --frames "$frames" --input "$clip" --pipelined | last)
        printf '\t%s\t%s' "$(echo "$base_seq_out" | last)" "$base_pip"
    fi
    printf '\n'
    [ "$size" = 1920x1080 ] && stages_new=$seq_out && stages_base=${base_seq_out:-}
    [ "$size" = 1280x720 ] && tract_ms=$(echo "$seq_out" | stage inference)
done

ort_ms=$("$venv/bin/python" - models/selfie_segmentation_landscape_nchw.onnx <<'PY'
import statistics, sys, time
import numpy as np, onnxruntime as ort
opts = ort.SessionOptions(); opts.intra_op_num_threads = 1; opts.inter_op_num_threads = 1
s = ort.InferenceSession(sys.argv[1], opts, providers=["CPUExecutionProvider"])
x = np.random.default_rng(0).random((1, 3, 144, 256), dtype=np.float32)
for _ in range(20): s.run(None, {"input": x})
t = []
for _ in range(200):
    t0 = time.perf_counter(); s.run(None, {"input": x}); t.append(time.perf_counter() - t0)
print(f"{statistics.median(t) * 1e3:.2f}")
PY
)
printf '\ninference (landscape NCHW model, 1 thread)\ttract %s ms\tonnxruntime %s ms\ttract/onnxruntime %s\n' \
    "$tract_ms" "$ort_ms" "$(awk -v a="$tract_ms" -v b="$ort_ms" 'BEGIN { printf "%.2fx", a / b }')"

if [ -n "$base" ]; then
    printf '\nper stage at 1920x1080, sequential (ms)\tthis build\tbaseline\n'
    for st in preprocess inference upsample blur composite end_to_end; do
        printf '%s\t%s\t%s\n' "$st" "$(echo "$stages_new" | stage "$st")" "$(echo "$stages_base" | stage "$st")"
    done
fi
