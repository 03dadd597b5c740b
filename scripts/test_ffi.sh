#!/usr/bin/env bash
# The C API from C, as apps use it: builds libbokeh_ffi, compiles ffi/tests/c/bokeh_test.c with
# the system cc, links it statically and dynamically, checks it against the Rust API's output
# on real photos, runs it under valgrind (no invalid access, no definitely-lost memory), then
# cross-compiles for aarch64 Linux and runs it under qemu-aarch64 (tract's NEON kernels and ours
# really execute), and builds the static library for Android and iOS.
#
# Needs: cc, a JDK (javac, java), valgrind, gcc-aarch64-linux-gnu + libc6-dev-arm64-cross, qemu-user, clang, llvm
# (scripts/test.sh installs them) and the rustup targets aarch64-unknown-linux-gnu,
# aarch64-linux-android, aarch64-apple-ios.
# Usage: bash scripts/test_ffi.sh [--no-cross]
set -euo pipefail
cd "$(dirname "$0")/.."
cross=1
[ "${1:-}" = "--no-cross" ] && cross=0

work=target/ffi-test
rm -rf "$work"
mkdir -p "$work"
set -x
cargo build -p bokeh-ffi --locked
cargo run -p bokeh-ffi --example c_fixtures --locked -q -- "$work/fixtures"

# The header compiles as C++ too (extern "C" guards), with all warnings.
c++ -std=c++11 -fsyntax-only -Wall -Wextra -Werror -pedantic -x c++ include/bokeh.h

cflags=(-std=c99 -O2 -g -Wall -Wextra -Werror -pedantic -Iinclude)
# tract's assembly objects carry no .note.GNU-stack section, so a program linking the static
# library must ask for a non-executable stack itself (the cdylib already is).
libs=(-lpthread -ldl -lm -Wl,-z,noexecstack)
cc "${cflags[@]}" ffi/tests/c/bokeh_test.c target/debug/libbokeh_ffi.a "${libs[@]}" -o "$work/test_static"
# The shared library as C users on Linux get it: installed with its SONAME (libbokeh.so.ABI,
# ABI as the header says) and bokeh.pc, the test built with pkg-config's flags only.
abi=$(sed -n 's/^#define BOKEH_ABI_VERSION \([0-9]*\)$/\1/p' include/bokeh.h)
readelf -d target/debug/libbokeh_ffi.so | grep -F "Library soname: [libbokeh.so.$abi]" >/dev/null
bash scripts/install_ffi.sh "$work/prefix" dev
export PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig"
# shellcheck disable=SC2046 # pkg-config's output is meant to be split into arguments
cc -std=c99 -O2 -g -Wall -Wextra -Werror -pedantic ffi/tests/c/bokeh_test.c $(pkg-config --cflags --libs bokeh) \
    -Wl,-rpath,"$work/prefix/lib" -o "$work/test_dynamic"
# Linked dynamically for real, by the SONAME.
readelf -d "$work/test_dynamic" | grep -F "Shared library: [libbokeh.so.$abi]" >/dev/null
ldd "$work/test_dynamic" | grep "$work/prefix/lib/libbokeh.so.$abi" >/dev/null

"$work/test_static" "$work/fixtures"
"$work/test_dynamic" "$work/fixtures"
# Under valgrind, with no suppression file. The worker threads are joined when the last handle
# is destroyed (ffi/tests/threads.rs checks none is left), but crossbeam-epoch (under rayon)
# keeps its record of exited threads in a global list of tagged pointers, which valgrind counts
# as "possibly lost" (2 blocks, 2.3 kB, however many handles came and went); only definite
# leaks and invalid accesses fail the run. Valgrind's emulation
# of some vector float instructions rounds differently (seen: one byte off by 1 in the Gaussian
# blur case), so this run allows 1/255.
valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
    --show-leak-kinds=definite "$work/test_dynamic" "$work/fixtures" 1 0.01

# The Android JNI glue, loaded into a real JVM on the desktop (its YUV_420_888 path; the Bitmap
# path needs the NDK). A desktop stand-in class has the Kotlin class's native methods.
java_home=$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")
cc -std=c99 -O2 -shared -fPIC -Wall -Wextra -Werror -Iinclude -I"$java_home/include" -I"$java_home/include/linux" \
    examples/android/src/main/cpp/bokeh_jni.c target/debug/libbokeh_ffi.a "${libs[@]}" -o "$work/libbokeh_jni.so"
javac -d "$work/java" examples/android/desktop-test/dev/bokeh/Bokeh.java
java -Djava.library.path="$work" -cp "$work/java" dev.bokeh.Bokeh "$work/fixtures"

((cross)) || exit 0

# aarch64 Linux under qemu: the same C test, cross-compiled and statically linked to the
# library. Float kernels (NEON vs AVX) round differently, so the comparison with the x86
# Rust output gets a tolerance: at most 2/255 on any byte, 0.02/255 on average (measured: one
# byte off by 1, in the Gaussian case).
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
cargo rustc -p bokeh-ffi --lib --locked --target aarch64-unknown-linux-gnu --crate-type staticlib
aarch64-linux-gnu-gcc "${cflags[@]}" ffi/tests/c/bokeh_test.c \
    target/aarch64-unknown-linux-gnu/debug/libbokeh_ffi.a "${libs[@]}" -o "$work/test_aarch64"
qemu-aarch64 -L /usr/aarch64-linux-gnu "$work/test_aarch64" "$work/fixtures" 2 0.02

# Android and iOS static libraries (no NDK or Xcode here, so no app link). tract-linalg's
# build script assembles its ARM kernels with the target's C compiler: Debian's clang does
# both; its iOS assembly needs no SDK headers, so an empty SDKROOT stands in for Xcode's.
# A fixed empty folder, so that repeated runs keep the iOS build cached (cc's build scripts
# rebuild when SDKROOT changes).
sdk="$PWD/target/empty-ios-sdkroot"
mkdir -p "$sdk"
export CC_aarch64_linux_android=clang CFLAGS_aarch64_linux_android=--target=aarch64-linux-android21 \
    AR_aarch64_linux_android=llvm-ar CC_aarch64_apple_ios=clang AR_aarch64_apple_ios=llvm-ar
for t in aarch64-linux-android aarch64-apple-ios; do
    SDKROOT="$sdk" cargo rustc -p bokeh-ffi --lib --locked --target "$t" --crate-type staticlib
done
for t in aarch64-linux-android aarch64-apple-ios; do
    lib=target/$t/debug/libbokeh_ffi.a
    # The library exports the API. Debian's llvm-nm (LLVM 14) cannot read the bitcode that
    # Rust's standard library members embed and exits non-zero for them, so its status is
    # ignored and only the symbol list is checked.
    symbols=$(llvm-nm --defined-only "$lib" 2>/dev/null || true)
    grep -E ' T _?bokeh_processor_process$' <<<"$symbols" >/dev/null
done
echo "FFI: static, dynamic, valgrind, qemu-aarch64, Android and iOS static libraries all passed"
