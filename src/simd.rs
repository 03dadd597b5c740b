//! Portable loops compiled a second time for AVX2.
//!
//! The default x86-64 target has SSE2 only, so the compiler vectorises the pixel stages' plain
//! loops four `f32` (two `f64`) wide. [`avx2_twin!`] defines a function whose body is compiled
//! twice — as the build has it and with AVX2 enabled — and runs the AVX2 copy where the CPU has
//! it (checked at run time; elsewhere, and on other architectures, the portable copy). Both
//! copies perform the same IEEE operations in the same order (Rust never fuses a multiply and
//! an add, and enabling AVX2 does not enable FMA), so they give the same numbers bit for bit;
//! only the vector width differs. Hand-written kernels for what the compiler cannot vectorise
//! (table lookups, gathers, transposes) live in the stages' own `x86` modules.

/// Defines `fn NAME(ARGS) BODY` compiled twice, running the AVX2 copy where the CPU has it (see
/// the module docs). The function returns nothing; its arguments are passed through unchanged.
macro_rules! avx2_twin {
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $body:block) => {
        $(#[$meta])*
        $vis fn $name($($arg: $ty),*) {
            #[inline(always)]
            fn portable($($arg: $ty),*) $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2")]
                fn avx2($($arg: $ty),*) {
                    portable($($arg),*)
                }
                if std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: the CPU has AVX2 (checked just above), all `avx2` requires.
                    #[allow(unsafe_code)]
                    unsafe {
                        avx2($($arg),*)
                    };
                    return;
                }
            }
            portable($($arg),*)
        }
    };
}

pub(crate) use avx2_twin;
