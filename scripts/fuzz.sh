#!/usr/bin/env bash
# Fuzzes the decoders + pixel pipeline and the model-spec parser with cargo-fuzz (libFuzzer,
# AddressSanitizer). Not part of the test command. cargo-fuzz needs nightly compiler flags;
# these machines cannot download a nightly toolchain, so the stable one runs with
# RUSTC_BOOTSTRAP=1. Seeds are committed in fuzz/corpus/TARGET; the grown corpus goes to
# fuzz/work/ (ignored), crashes to fuzz/artifacts/.
# Usage: bash scripts/fuzz.sh [RUNS_PER_TARGET (default 1000000)] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-1000000}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(model_spec decode_pipeline c_api)
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
for t in "${targets[@]}"; do
    # libFuzzer adds new inputs to its first corpus folder: run on a working copy so the
    # committed seeds stay as they are.
    mkdir -p "fuzz/work/$t"
    cp -n "fuzz/corpus/$t"/* "fuzz/work/$t"/
    # Comparison tracing helps the parser fuzzer find keywords, but in the pixel loops of the
    # decode target it took 60% of the time (166 executions/s): that target runs without it.
    flags=()
    [ "$t" = decode_pipeline ] && flags=(--no-trace-compares)
    RUSTC_BOOTSTRAP=1 cargo fuzz run -O "${flags[@]}" "$t" "fuzz/work/$t" -- \
        -runs="$runs" -max_len=65536 -rss_limit_mb=4096 -print_final_stats=1
done
