#!/usr/bin/env python3
"""Reference masks from MediaPipe's own runtime, for tests/reference_runtime.rs.

For every shared photo (../shared/testdata/photos/images/*.jpg) and every frame of the
dance-twirl clip (../shared/testdata/video/davis2016_dance-twirl/frames/*.jpg) this runs the
legacy `SelfieSegmentation` solution of PyPI `mediapipe==0.10.21` (the last release with the
selfie models inside) on the full-size picture, exactly as an app would, and writes its
`segmentation_mask` (float 0..1, frame size) as an 8-bit PNG (round(255 * m)).

MediaPipe is fed the pixels bokeh's tests decode (the `image` crate, written out losslessly by
`cargo run --release --example decode_pictures`), not PIL's: JPEG decoders differ by a few codes
(PIL vs `image` on dance-twirl: at most 4, mean 0.15), and on some frames that alone moves the
mask (frame 00023: IoU 0.88 between the two decodings' MediaPipe masks). The comparison is of
the runtimes, so both get the same input.

The model is chosen as bokeh chooses it: the landscape model (`model_selection=1`) for frames
at least about as wide as 256x144 (aspect * 1.02 >= 16/9), else the square one. Each picture
gets a fresh solution object, so no state carries from one to the next.

Usage (from the repository root; needs only PyPI):
    python3 -m venv .venv-peer && .venv-peer/bin/pip install mediapipe==0.10.21 pillow numpy
    .venv-peer/bin/python scripts/mediapipe_masks.py [--shared ../shared] [--out tests/fixtures/mediapipe]
"""

import argparse
import hashlib
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

import mediapipe as mp

SOURCE = "mediapipe==0.10.21 SelfieSegmentation on the image crate's decoding, fresh object per picture, round(255*mask)"


def model_selection(width: int, height: int) -> int:
    """1 (landscape 256x144) when bokeh would pick it, else 0 (square 256x256)."""
    return 1 if (width / height) * 1.02 >= 256 / 144 else 0


def run(image_path: Path, out_path: Path) -> str:
    rgb = np.asarray(Image.open(image_path).convert("RGB"))  # a lossless PNG: no decoder differences
    h, w = rgb.shape[:2]
    selection = model_selection(w, h)
    with mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=selection) as seg:
        mask = seg.process(rgb).segmentation_mask
    if mask is None or mask.shape != (h, w):
        raise SystemExit(f"{image_path}: MediaPipe returned {None if mask is None else mask.shape}, expected {(h, w)}")
    code = np.clip(np.rint(mask * 255.0), 0, 255).astype(np.uint8)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(code, mode="L").save(out_path, optimize=True)
    return f"{out_path.name}\t{w}x{h}\tmodel_selection={selection}\tperson={float((code >= 128).mean()):.4f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[1] / ".." / "shared")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "tests/fixtures/mediapipe")
    args = parser.parse_args()
    if mp.__version__ != "0.10.21":
        print(f"warning: mediapipe {mp.__version__}, the fixtures were made with 0.10.21", file=sys.stderr)
    sets = {
        "photos": sorted((args.shared / "testdata/photos/images").glob("*.jpg")),
        "dance-twirl": sorted((args.shared / "testdata/video/davis2016_dance-twirl/frames").glob("*.jpg")),
    }
    lines = [f"# {SOURCE}"]
    root = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as tmp:
        for name, paths in sets.items():
            if not paths:
                raise SystemExit(f"no pictures for {name} under {args.shared}")
            decoded = Path(tmp) / name
            command = ["cargo", "run", "--quiet", "--release", "--example", "decode_pictures", "--", str(decoded)]
            subprocess.run(command + [str(p) for p in paths], cwd=root, check=True)
            for p in paths:
                lines.append(f"{name}/" + run(decoded / (p.stem + ".png"), args.out / name / (p.stem + ".png")))
    index = "\n".join(lines) + "\n"
    (args.out / "INDEX.tsv").write_text(index)
    digest = hashlib.sha256(index.encode()).hexdigest()[:16]
    print(f"wrote {len(lines) - 1} masks under {args.out} (index {digest})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
