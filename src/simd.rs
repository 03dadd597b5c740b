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

/// Defines `fn NAME(ARGS) BODY` (or `fn NAME<const N: usize>(ARGS) BODY`) compiled twice,
/// running the AVX2 copy where the CPU has it (see the module docs). The function returns
/// nothing; its arguments are passed through unchanged.
macro_rules! avx2_twin {
    ($(#[$meta:meta])* $vis:vis fn $name:ident $(<const $n:ident: usize>)? ($($arg:ident: $ty:ty),* $(,)?) $body:block) => {
        $(#[$meta])*
        $vis fn $name $(<const $n: usize>)? ($($arg: $ty),*) {
            #[inline(always)]
            fn portable $(<const $n: usize>)? ($($arg: $ty),*) $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2")]
                fn avx2 $(<const $n: usize>)? ($($arg: $ty),*) {
                    portable $(::<$n>)? ($($arg),*)
                }
                if std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: the CPU has AVX2 (checked just above), all `avx2` requires.
                    #[allow(unsafe_code)]
                    unsafe {
                        avx2 $(::<$n>)? ($($arg),*)
                    };
                    return;
                }
            }
            portable $(::<$n>)? ($($arg),*)
        }
    };
}

pub(crate) use avx2_twin;

/// AVX2 pieces the stages' kernels share: eight pixels' bytes as 32-bit words, and one channel's
/// codes out of them.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
pub(crate) mod x86 {
    use std::arch::x86_64::*;

    /// Bytes [`pixel_words`] reads from a block's first pixel: RGBA/BGRA 32, RGB 28 (two 16-byte
    /// halves 12 bytes apart).
    pub(crate) const fn block_span(bpp: usize) -> usize {
        if bpp == 4 {
            32
        } else {
            28
        }
    }

    /// Eight 3- or 4-byte pixels from `src` as eight 32-bit words, a pixel's byte `k` in the
    /// word's byte `k` (RGB's fourth byte 0): RGBA/BGRA in one load, RGB's 24 bytes spread with a
    /// byte shuffle per 128-bit lane.
    ///
    /// # Safety
    /// The CPU must support AVX2, and [`block_span`]`(bpp)` bytes must be readable at `src`.
    #[inline]
    #[target_feature(enable = "avx2")]
    pub(crate) unsafe fn pixel_words(src: *const u8, bpp: usize) -> __m256i {
        if bpp == 4 {
            // SAFETY: 32 bytes readable at `src` (the caller's promise).
            unsafe { _mm256_loadu_si256(src.cast()) }
        } else {
            let spread = _mm256_setr_epi8(
                0, 1, 2, -1, 3, 4, 5, -1, 6, 7, 8, -1, 9, 10, 11, -1, 0, 1, 2, -1, 3, 4, 5, -1, 6, 7, 8, -1, 9, 10, 11,
                -1,
            );
            // SAFETY: 28 bytes readable at `src` (the caller's promise): 0..16 and 12..28.
            let (lo, hi) = unsafe { (_mm_loadu_si128(src.cast()), _mm_loadu_si128(src.add(12).cast())) };
            _mm256_shuffle_epi8(_mm256_set_m128i(hi, lo), spread)
        }
    }

    /// The shifts that bring the colour channels at byte `offsets` of a pixel word down to its
    /// low byte (made once per row, outside the kernels' loops).
    #[inline]
    #[target_feature(enable = "avx2")]
    pub(crate) fn channel_shifts(offsets: [usize; 3]) -> [__m256i; 3] {
        offsets.map(|o| _mm256_set1_epi32(8 * o as i32))
    }

    /// The codes of one channel of each of [`pixel_words`]' eight words (`shift` from
    /// [`channel_shifts`]).
    #[inline]
    #[target_feature(enable = "avx2")]
    pub(crate) fn channel(words: __m256i, shift: __m256i) -> __m256i {
        _mm256_and_si256(_mm256_srlv_epi32(words, shift), _mm256_set1_epi32(0xFF))
    }
}
