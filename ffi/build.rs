//! Gives the shared library a SONAME on Linux, `libbokeh.so.ABI` (ABI as `BOKEH_ABI_VERSION`
//! in `src/lib.rs`; `scripts/test_ffi.sh` checks the two agree), so programs linked against it
//! record that name and a future incompatible library can be installed beside it.
//! `scripts/install_ffi.sh` installs it under that name with `bokeh.pc`. Android loads
//! libraries by file name from the APK, so there the library keeps its own name.

/// Must equal `BOKEH_ABI_VERSION`.
const ABI_VERSION: u32 = 1;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os == "linux" {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libbokeh.so.{ABI_VERSION}");
    }
}
