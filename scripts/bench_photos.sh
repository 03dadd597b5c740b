#!/usr/bin/env bash
# Photos per second against the peer, back to back on this machine (report the ratio and the
# times): every photo of ../shared/testdata/photos/images decoded, portrait mode, written as JPEG
# quality 92 into a temporary folder.
#  - peer: MediaPipe selfie segmentation (square model, one run per photo) + OpenCV GaussianBlur
#    (kernel 3% of the diagonal, as bokeh's default strength) + a soft numpy composite,
#    cv2.imread / cv2.imwrite, one photo after another (the peer pipeline's style, batch form);
#  - bokeh: the CLI on the folder, defaults (detail passes on: several model runs a photo), and
#    with --detail 0 (one model run a photo, like the peer).
# Needs the peer virtualenv of scripts/bench_vs_peer.sh ($PEER_VENV, default .venv-peer) with
# opencv (mediapipe brings it). Usage: bash scripts/bench_photos.sh
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${BOKEH_SHARED:-../shared}
venv=${PEER_VENV:-.venv-peer}
photos="$shared/testdata/photos/images"
[ -x "$venv/bin/python" ] || { echo "run scripts/bench_vs_peer.sh once to make $venv" >&2; exit 2; }
cargo build --release -q -p bokeh-cli
bokeh=target/release/bokeh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
n=$(find "$photos" -maxdepth 1 -name '*.jpg' | wc -l)

peer_s=$("$venv/bin/python" - "$photos" "$work/peer" <<'PY'
import glob, math, os, sys, time
import cv2, mediapipe as mp, numpy as np
src, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
paths = sorted(glob.glob(os.path.join(src, "*.jpg")))
with mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0) as seg:
    seg.process(np.zeros((256, 256, 3), np.uint8))  # warm-up
    t0 = time.perf_counter()
    for p in paths:
        bgr = cv2.imread(p)
        mask = seg.process(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)).segmentation_mask
        h, w = mask.shape
        k = int(0.03 * math.hypot(w, h)) * 2 + 1
        blurred = cv2.GaussianBlur(bgr, (k, k), 0)
        a = mask[..., None]
        comp = (bgr * a + blurred * (1.0 - a)).astype(np.uint8)
        cv2.imwrite(os.path.join(out, os.path.basename(p)), comp, [cv2.IMWRITE_JPEG_QUALITY, 92])
    print(f"{time.perf_counter() - t0:.3f}")
PY
)
run() { # label, input, extra flags...
    local label=$1 input=$2
    shift 2
    local t0 t1
    t0=$(date +%s.%N)
    "$bokeh" "$input" --out-dir "$work/$label" --format jpg --overwrite "$@" >/dev/null 2>&1
    t1=$(date +%s.%N)
    echo "$t1 - $t0" | bc -l
}
# The peer's clock starts after its model is loaded; bokeh's process start, model load and plan
# compilation are timed on one photo and shown apart.
first=$(find "$photos" -maxdepth 1 -name '*.jpg' | sort | head -1)
startup_s=$(run startup "$first" --detail 0)
default_s=$(run default "$photos")
one_s=$(run detail0 "$photos" --detail 0)
echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(nproc) cores, $n photos; bokeh on one photo (start-up + 1): ${startup_s}s"
printf 'pipeline\tseconds\tphotos_per_s\tvs_peer\tvs_peer_without_startup\n'
for row in "peer $peer_s 0" "bokeh_default $default_s $startup_s" "bokeh_detail0 $one_s $startup_s"; do
    set -- $row
    # Without start-up: the other n - 1 photos took s - startup, so n photos take that * n / (n - 1).
    awk -v l="$1" -v s="$2" -v st="$3" -v n="$n" -v p="$peer_s" 'BEGIN {
        w = (st > 0) ? (s - st) * n / (n - 1) : s
        printf "%s\t%.2f\t%.2f\t%.2fx\t%.2fx\n", l, s, n / s, p / s, p / w }'
done
