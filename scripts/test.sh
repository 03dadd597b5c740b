#!/usr/bin/env bash
# The whole test suite, from a fresh machine: system packages, formatting, lints, tests.
# Usage: bash scripts/test.sh   (as root, or with sudo available, where packages are missing)
set -euo pipefail
cd "$(dirname "$0")/.."

# System packages the build and tests need; installed only where missing. The GPU backend's
# tests run on Mesa's software adapters: lavapipe (Vulkan: mesa-vulkan-drivers, libvulkan1) and
# llvmpipe (GL through EGL: libegl1, libegl-mesa0, libgl1-mesa-dri). The webcam demo builds
# nokhwa's V4L2 bindings with bindgen (libclang-dev) and is tested in a real X window under Xvfb,
# captured with xwd (x11-apps) after finding it with xwininfo (x11-utils), and reads a video file
# through ffmpeg. The C API test
# (scripts/test_ffi.sh) needs a JDK for the JNI glue, valgrind, an aarch64 cross compiler and qemu, and clang/llvm for
# the Android and iOS static libraries.
packages=(build-essential pkg-config valgrind gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user clang llvm
    openjdk-17-jdk-headless mesa-vulkan-drivers libvulkan1 libegl1 libegl-mesa0 libgl1-mesa-dri
    libclang-dev xvfb x11-apps x11-utils ffmpeg)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${missing[@]}"
fi
for component in rustfmt clippy; do
    cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1 || rustup component add "$component"
done
targets=(aarch64-unknown-linux-gnu aarch64-linux-android aarch64-apple-ios)
installed=$(rustup target list --installed)
for t in "${targets[@]}"; do
    grep -qx "$t" <<<"$installed" || rustup target add "$t"
done

if [ ! -d ../shared/testdata ] && [ -z "${BOKEH_SHARED:-}" ]; then
    echo "*** ../shared is absent: the golden-model and photo-quality tests will be SKIPPED ***" >&2
fi

# Mesa wants a private runtime directory (else it prints warnings on every adapter it opens).
if [ -z "${XDG_RUNTIME_DIR:-}" ] || [ ! -w "${XDG_RUNTIME_DIR}" ]; then
    XDG_RUNTIME_DIR=$(mktemp -d)
    export XDG_RUNTIME_DIR
fi

set -x
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
bash scripts/test_ffi.sh
