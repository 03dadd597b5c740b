//! sRGB ⇄ linear-light conversion.
//!
//! Blur and blending happen in linear light: that is what makes a small bright point bloom into
//! a bright disc instead of a dull grey smudge, and what keeps soft mask edges from darkening.
//! Both directions are lookup tables built once: decoding is exact (256 entries) and encoding
//! quantises linear values to 14 bits, which round-trips every 8-bit value exactly and is
//! within 0.2 code values of the exact curve elsewhere.

use std::sync::LazyLock;

const ENCODE_BITS: u32 = 14;
const ENCODE_MAX: f32 = ((1 << ENCODE_BITS) - 1) as f32;

/// The exact sRGB electro-optical transfer function, `v` in 0..=1.
pub(crate) fn srgb_to_linear_exact(v: f32) -> f32 {
    if v <= 0.04045 {
        v / 12.92
    } else {
        ((v + 0.055) / 1.055).powf(2.4)
    }
}

/// The exact inverse of [`srgb_to_linear_exact`].
pub(crate) fn linear_to_srgb_exact(l: f32) -> f32 {
    if l <= 0.003_130_8 {
        l * 12.92
    } else {
        1.055 * l.powf(1.0 / 2.4) - 0.055
    }
}

static DECODE: LazyLock<[f32; 256]> = LazyLock::new(|| {
    let mut t = [0.0; 256];
    for (i, v) in t.iter_mut().enumerate() {
        *v = srgb_to_linear_exact(i as f32 / 255.0);
    }
    t
});

/// Bytes after the encoding table's last entry, so that a SIMD gather of a 32-bit word at any
/// entry stays inside the table (`composite`'s AVX2 kernel keeps the low byte).
pub(crate) const ENCODE_PADDING: usize = 3;

static ENCODE: LazyLock<Vec<u8>> = LazyLock::new(|| {
    (0..=(1u32 << ENCODE_BITS) - 1)
        .map(|i| (linear_to_srgb_exact(i as f32 / ENCODE_MAX) * 255.0).round() as u8)
        .chain([0; ENCODE_PADDING])
        .collect()
});

/// The number of entries in the encoding table.
pub(crate) const ENCODE_LEN: usize = 1 << ENCODE_BITS;

/// The sRGB decoding table: `lut[v]` is the linear value of the 8-bit code `v`.
pub(crate) fn decode_lut() -> &'static [f32; 256] {
    &DECODE
}

/// The encoding table: entry `i` is the 8-bit sRGB code of linear `i / 16383` (the GPU
/// backend uploads it, so both backends round the same way).
#[cfg(feature = "gpu")]
pub(crate) fn encode_lut() -> &'static [u8] {
    &ENCODE[..ENCODE_LEN]
}

/// The encoding table followed by [`ENCODE_PADDING`] zero bytes (for gathers of 32-bit words).
#[cfg(target_arch = "x86_64")]
pub(crate) fn encode_lut_padded() -> &'static [u8] {
    &ENCODE
}

/// Converts a linear value (clamped to 0..=1) to an 8-bit sRGB code through a lookup table.
pub(crate) struct Encoder {
    lut: &'static [u8],
}

impl Encoder {
    /// The shared encoding table.
    pub(crate) fn new() -> Self {
        Encoder { lut: &ENCODE[..ENCODE_LEN] }
    }

    /// Encodes one linear value.
    #[inline(always)]
    pub(crate) fn encode(&self, l: f32) -> u8 {
        // `as i32` saturates (NaN gives 0) and is a single instruction on x86-64, unlike a
        // conversion to usize; the clamp keeps the index in range.
        let i = ((l * ENCODE_MAX + 0.5) as i32).clamp(0, ENCODE_MAX as i32);
        self.lut[i as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_8bit_value_round_trips() {
        let enc = Encoder::new();
        for v in 0..=255u8 {
            assert_eq!(enc.encode(decode_lut()[v as usize]), v, "code {v}");
        }
    }

    #[test]
    fn encoding_is_close_to_the_exact_curve_and_clamps() {
        let enc = Encoder::new();
        for i in 0..=1000 {
            let l = i as f32 / 1000.0;
            let exact = linear_to_srgb_exact(l) * 255.0;
            assert!((enc.encode(l) as f32 - exact).abs() <= 0.7, "linear {l}");
        }
        assert_eq!(enc.encode(-1.0), 0);
        assert_eq!(enc.encode(f32::NAN), 0);
        assert_eq!(enc.encode(7.0), 255);
        assert!((decode_lut()[128] - 0.2158605).abs() < 1e-6);
    }
}
