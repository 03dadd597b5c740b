#!/usr/bin/env bash
# Installs the C library for C/C++ users on Linux: PREFIX/lib/libbokeh.so.ABI (its SONAME) with
# the libbokeh.so link, PREFIX/lib/libbokeh.a, PREFIX/include/bokeh.h and
# PREFIX/lib/pkgconfig/bokeh.pc, so that `pkg-config --cflags --libs bokeh` builds a program
# (add `--static` for the static library).
#
# Usage: bash scripts/install_ffi.sh PREFIX [PROFILE]   (PROFILE: release (default), dev, or
#        any cargo profile; the library is built with it first)
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=${1:?usage: install_ffi.sh PREFIX [PROFILE]}
profile=${2:-release}
dir=$profile
[ "$profile" = dev ] && dir=debug
cargo build -p bokeh-ffi --locked --profile "$profile"
abi=$(sed -n 's/^#define BOKEH_ABI_VERSION \([0-9]*\)$/\1/p' include/bokeh.h)
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' ffi/Cargo.toml | head -1)
mkdir -p "$prefix/lib/pkgconfig" "$prefix/include"
prefix=$(cd "$prefix" && pwd)
install -m 755 "target/$dir/libbokeh_ffi.so" "$prefix/lib/libbokeh.so.$abi"
ln -sf "libbokeh.so.$abi" "$prefix/lib/libbokeh.so"
install -m 644 "target/$dir/libbokeh_ffi.a" "$prefix/lib/libbokeh.a"
install -m 644 include/bokeh.h "$prefix/include/bokeh.h"
sed -e "s|@PREFIX@|$prefix|" -e "s|@VERSION@|$version|" ffi/pkgconfig/bokeh.pc.in >"$prefix/lib/pkgconfig/bokeh.pc"
echo "installed bokeh $version (ABI $abi) in $prefix"
