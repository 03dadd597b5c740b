//! The shaders' uniform parameters as `#[repr(C)]` structs, one per WGSL `Params`, with the
//! same field names in the same order. A unit test parses each shader with naga and checks every
//! field's name and offset and the struct's size against its Rust twin, so a field added on one
//! side only fails the tests instead of shifting every value after it.

use bytemuck::{Pod, Zeroable};

/// `Params` of `shaders/resample.wgsl` (preprocess and mask upsampling).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, Pod, Zeroable)]
pub(super) struct ResampleParams {
    pub(super) src_w: u32,
    pub(super) src_h: u32,
    pub(super) dst_w: u32,
    pub(super) dst_h: u32,
    pub(super) taps_x: u32,
    pub(super) taps_y: u32,
    pub(super) bpp: u32,
    pub(super) nchw: u32,
    pub(super) off_r: u32,
    pub(super) off_g: u32,
    pub(super) off_b: u32,
    pub(super) pad0: u32,
    pub(super) scale: [f32; 4],
    pub(super) offset: [f32; 4],
}

/// `Params` of `shaders/refine.wgsl`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, Pod, Zeroable)]
pub(super) struct RefineParams {
    pub(super) fw: u32,
    pub(super) fh: u32,
    pub(super) bpp: u32,
    pub(super) off_r: u32,
    pub(super) off_g: u32,
    pub(super) off_b: u32,
    pub(super) factor: u32,
    pub(super) lw: u32,
    pub(super) lh: u32,
    pub(super) radius: u32,
    pub(super) groups: u32,
    pub(super) temporal: u32,
    pub(super) eps: f32,
    pub(super) threshold: f32,
    pub(super) inv_feather: f32,
    pub(super) flags: u32,
    pub(super) min_weight: f32,
    pub(super) inv_full: f32,
    pub(super) pad0: u32,
    pub(super) pad1: u32,
}

/// `Params` of `shaders/blur.wgsl`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, Pod, Zeroable)]
pub(super) struct BlurShaderParams {
    pub(super) fw: u32,
    pub(super) fh: u32,
    pub(super) bpp: u32,
    pub(super) off_r: u32,
    pub(super) off_g: u32,
    pub(super) off_b: u32,
    pub(super) factor: u32,
    pub(super) lw: u32,
    pub(super) lh: u32,
    pub(super) count: u32,
    pub(super) bloom: f32,
    pub(super) background_only: u32,
    pub(super) falloff: u32,
    pub(super) table_len: u32,
    pub(super) pad0: u32,
    pub(super) pad1: u32,
}

/// `Params` of `shaders/composite.wgsl`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, Pod, Zeroable)]
pub(super) struct CompositeParams {
    pub(super) w: u32,
    pub(super) h: u32,
    pub(super) bpp: u32,
    pub(super) ch0: u32,
    pub(super) ch1: u32,
    pub(super) ch2: u32,
    pub(super) ch3: u32,
    pub(super) off_r: u32,
    pub(super) off_g: u32,
    pub(super) off_b: u32,
    pub(super) off_a: u32,
    pub(super) lw: u32,
    pub(super) lh: u32,
    pub(super) factor: u32,
    pub(super) decontaminate: u32,
    pub(super) pad1: u32,
}

#[cfg(test)]
mod tests {
    use std::mem::{offset_of, size_of};

    use super::*;

    /// (name, offset) of each field of the struct `Params` in `source`, and its size, as naga
    /// lays it out.
    fn wgsl_layout(source: &str) -> (Vec<(String, u32)>, u32) {
        let module =
            naga::front::wgsl::parse_str(&crate::gpu::shaders::with_common(source)).expect("the shader parses");
        let ty = module.types.iter().find(|(_, t)| t.name.as_deref() == Some("Params")).expect("a Params struct");
        match &ty.1.inner {
            naga::TypeInner::Struct { members, span } => {
                (members.iter().map(|m| (m.name.clone().unwrap_or_default(), m.offset)).collect(), *span)
            }
            other => panic!("Params is not a struct: {other:?}"),
        }
    }

    macro_rules! layout {
        ($t:ty { $($field:ident),* $(,)? }) => {
            (vec![$((stringify!($field).to_string(), offset_of!($t, $field) as u32)),*], size_of::<$t>() as u32)
        };
    }

    #[test]
    fn every_params_struct_matches_its_shader() {
        use crate::gpu::shaders;
        let cases = [
            (
                "resample.wgsl",
                shaders::RESAMPLE,
                layout!(ResampleParams {
                    src_w,
                    src_h,
                    dst_w,
                    dst_h,
                    taps_x,
                    taps_y,
                    bpp,
                    nchw,
                    off_r,
                    off_g,
                    off_b,
                    pad0,
                    scale,
                    offset
                }),
            ),
            (
                "refine.wgsl",
                shaders::REFINE,
                layout!(RefineParams {
                    fw,
                    fh,
                    bpp,
                    off_r,
                    off_g,
                    off_b,
                    factor,
                    lw,
                    lh,
                    radius,
                    groups,
                    temporal,
                    eps,
                    threshold,
                    inv_feather,
                    flags,
                    min_weight,
                    inv_full,
                    pad0,
                    pad1
                }),
            ),
            (
                "blur.wgsl",
                shaders::BLUR,
                layout!(BlurShaderParams {
                    fw,
                    fh,
                    bpp,
                    off_r,
                    off_g,
                    off_b,
                    factor,
                    lw,
                    lh,
                    count,
                    bloom,
                    background_only,
                    falloff,
                    table_len,
                    pad0,
                    pad1
                }),
            ),
            (
                "composite.wgsl",
                shaders::COMPOSITE,
                layout!(CompositeParams {
                    w,
                    h,
                    bpp,
                    ch0,
                    ch1,
                    ch2,
                    ch3,
                    off_r,
                    off_g,
                    off_b,
                    off_a,
                    lw,
                    lh,
                    factor,
                    decontaminate,
                    pad1
                }),
            ),
        ];
        for (name, source, rust) in cases {
            assert_eq!(wgsl_layout(source), rust, "{name}: WGSL Params vs its Rust struct (fields, offsets; size)");
        }
    }
}
