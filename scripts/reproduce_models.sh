#!/usr/bin/env bash
# Rebuilds models/selfie_segmentation{,_landscape}{,_nchw}.onnx from PyPI's mediapipe==0.10.14 and checks
# that they are byte-identical to the committed files (sha256 of the .tflite sources and of the
# .onnx results are checked by convert_selfie.py). Needs python3 with venv and the package index;
# it is not part of the test suite. Usage: bash scripts/reproduce_models.sh
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q tflite==2.18.0 onnx==1.22.0 numpy==2.4.6 flatbuffers==25.12.19 protobuf==7.36.2
"$work/venv/bin/pip" download -q --no-deps --only-binary=:all: --python-version 3.11 \
    --platform manylinux_2_17_x86_64 mediapipe==0.10.14 -d "$work/wheel"
wheel=$(ls "$work"/wheel/mediapipe-0.10.14-*.whl)

"$work/venv/bin/python" scripts/convert_selfie.py "$wheel" "$work/onnx"
for f in selfie_segmentation{,_landscape}{,_nchw}.onnx; do
    cmp "$work/onnx/$f" "models/$f"
done
unzip -p "$wheel" mediapipe-0.10.14.dist-info/LICENSE | cmp - models/LICENSE.mediapipe-Apache-2.0.txt
echo "models/ reproduced byte for byte from mediapipe==0.10.14"
