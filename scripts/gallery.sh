#!/usr/bin/env bash
# Regenerates the before/after pictures in docs/ with the bokeh CLI.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p docs
bokeh=(cargo run --release --quiet -p bokeh-cli --)
for name in grace_hopper astronaut; do
    src=$(ls examples/data/$name.*)
    "${bokeh[@]}" "$src" -o "docs/$name-portrait.jpg" --quality 90 --overwrite
    "${bokeh[@]}" "$src" -o "docs/$name-mask.png" --mode mask --overwrite
done
"${bokeh[@]}" examples/data/grace_hopper.jpg -o docs/grace_hopper-gaussian.jpg --blur gaussian --quality 90 --overwrite
