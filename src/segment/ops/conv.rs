//! Depthwise convolution by whole output rows in AVX2 registers (x86-64 with AVX2 only).
//!
//! tract walks a depthwise convolution zone by zone (a zone per combination of the kernel taps
//! that fall inside the padded input), calling its row kernel once per row of a zone. On the
//! selfie models' 9×16 planes with 5×5 kernels that is 25 zones a channel, most of them one or
//! two outputs wide: the four such layers took 0.51 ms of the landscape model's 0.94 ms of
//! depthwise convolutions, at about 8 ns an output.
//!
//! [`RowDepthwiseConv`] computes an output row in registers instead, up to four vectors of
//! eight outputs at a time: for every kernel row whose input row is in range and every kernel
//! column, one (masked) load of the eight inputs, a multiply and an add; a lane whose input is in
//! the padding keeps its sum (a blend), so it adds exactly the taps tract adds, in the same
//! order — the same numbers bit for bit. The load masks and offsets of each (kernel column,
//! vector) pair are worked out once, when the op is built ([`Columns`]); the kernel is in
//! `x86.rs`. Stride 2 reads its eight inputs as the registered row kernel there does (two loads,
//! a shuffle and a permute).

use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::cnn::Conv;

use super::Depthwise;

/// One kernel column's reads for one vector of eight outputs of a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Columns {
    /// Input column of the vector's first lane (may be negative or past the row: padding).
    pub(crate) start: isize,
    /// The input elements read from `start` on, as bit masks of the (up to) two 8-float loads:
    /// elements 0..8 and, at stride 2, 7..15. At stride 2 the odd elements between two read ones
    /// are read too (they lie inside the row).
    pub(crate) loads: [u8; 2],
    /// Bit `j` set when lane `j` reads the input (an output of the row and not padding).
    pub(crate) lanes: u8,
}

/// A depthwise 2-D convolution over an NCHW (or CHW) `f32` tensor of a fixed shape, stride 1 or
/// 2 along the row. See the module docs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RowDepthwiseConv {
    pub(crate) dw: Depthwise,
    /// Output height and width.
    pub(crate) output: [usize; 2],
    pad_before: [usize; 2],
    output_shape: TVec<usize>,
    /// The input row kernel row `ky` reads for output row `oy`, at `[oy * kh + ky]`.
    pub(crate) rows: Vec<Option<usize>>,
    /// `[kx * vectors + v]`: kernel column `kx`'s reads for the row's vector `v` (`vectors` =
    /// `ceil(out_w / 8)`); `None` where no lane reads the input.
    pub(crate) columns: Vec<Option<Columns>>,
}

impl RowDepthwiseConv {
    /// Output rows this wide or narrower run here; wider ones stay with tract, whose zone walk
    /// costs little against a long row and whose row kernel (ours, `x86.rs`) was faster there:
    /// 72×128 at stride 1 0.107 ms in tract vs 0.183 ms here, 36×64 0.037–0.042 vs 0.048, 36×64
    /// at stride 2 0.050 vs 0.058; 32 wide and narrower this op won (18×32: 0.063–0.067 vs
    /// 0.070; 9×16 with 5×5 kernels 0.057–0.079 vs 0.106–0.146 ms).
    pub(crate) const MAX_WIDTH: usize = 32;

    /// The op for `node`, a `Conv` whose shared part is `dw`, or `None` where it does not apply
    /// (no AVX2 here, a stride other than 1 or 2 along the row, rows wider than
    /// [`Self::MAX_WIDTH`]).
    pub(crate) fn new(dw: Depthwise, model: &TypedModel, node: &TypedNode, conv: &Conv) -> TractResult<Option<Self>> {
        if !std::arch::is_x86_feature_detected!("avx2") || !(1..=2).contains(&dw.stride[1]) {
            return Ok(None);
        }
        let spec = &conv.pool_spec;
        let details = spec.padding.compute(&dw.input, &spec.kernel_shape, &dw.dilation, &dw.stride);
        let output = [details[0].convoluted, details[1].convoluted];
        if output[1] > Self::MAX_WIDTH {
            return Ok(None);
        }
        let output_shape = dw.output_shape(output);
        if !Depthwise::node_outputs(model, node, &output_shape)? {
            return Ok(None);
        }
        let pad_before = [details[0].pad_before, details[1].pad_before];
        let [in_h, in_w] = dw.input;
        let [kh, kw] = dw.kernel_size;
        let (sy, sx) = (dw.stride[0] as isize, dw.stride[1] as isize);
        let rows = (0..output[0])
            .flat_map(|oy| (0..kh).map(move |ky| (oy, ky)))
            .map(|(oy, ky)| {
                let iy = oy as isize * sy + (ky * dw.dilation[0]) as isize - pad_before[0] as isize;
                (0..in_h as isize).contains(&iy).then_some(iy as usize)
            })
            .collect();
        let vectors = output[1].div_ceil(8);
        let mut columns = Vec::with_capacity(kw * vectors);
        for kx in 0..kw {
            for v in 0..vectors {
                let start = (8 * v) as isize * sx + (kx * dw.dilation[1]) as isize - pad_before[1] as isize;
                let reads = |j: usize| 8 * v + j < output[1] && (0..in_w as isize).contains(&(start + sx * j as isize));
                let lanes = (0..8).filter(|&j| reads(j)).fold(0u8, |bits, j| bits | 1 << j);
                columns.push((lanes != 0).then(|| {
                    // Elements first..=last of the window from `start`, in the two loads' lanes.
                    let first = lanes.trailing_zeros() * sx as u32;
                    let last = (7 - lanes.leading_zeros()) * sx as u32;
                    let span = |from: u32| {
                        (0..8u32).filter(|e| (first..=last).contains(&(e + from))).fold(0u8, |b, e| b | 1 << e)
                    };
                    Columns { start, loads: [span(0), if sx == 2 { span(7) } else { 0 }], lanes }
                }));
            }
        }
        Ok(Some(Self { dw, output, pad_before, output_shape, rows, columns }))
    }
}

impl Op for RowDepthwiseConv {
    fn name(&self) -> StaticName {
        "RowDepthwiseConv".into()
    }

    fn info(&self) -> TractResult<Vec<String>> {
        Ok(vec![self.dw.describe(self.pad_before, self.output)])
    }

    op_as_typed_op!();
}

impl EvalOp for RowDepthwiseConv {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = args_1!(inputs);
        let output = self.dw.planes(input, &self.output_shape, |kernel, bias, src, dst| {
            super::x86::conv_plane(self, kernel, bias, src, dst)
        })?;
        Ok(tvec!(output))
    }
}

super::one_input_f32_op!(RowDepthwiseConv);

#[cfg(test)]
mod tests {
    use super::super::tests::{assert_same_as_tract, one_op};
    use super::super::{rewrite, KernelFormat};
    use super::*;
    use tract_onnx::tract_core::ops::cnn::PoolSpec;
    use tract_onnx::tract_core::ops::nn::DataFormat;

    fn conv(spec: PoolSpec) -> Conv {
        let group = spec.input_channels;
        Conv { pool_spec: spec, kernel_fmt: KernelFormat::OIHW, group, q_params: None }
    }

    #[test]
    fn the_rows_give_tracts_numbers_bit_for_bit() {
        if !std::arch::is_x86_feature_detected!("avx2") {
            eprintln!("skipped: no AVX2 here");
            return;
        }
        // The models' shapes up to 32 wide (3×3 and 5×5, strides 1 and 2, 9×16 and 18×32) and odd
        // ones: dilation 2, non-square kernels, pads wider than the kernel reaches, rows of 1 to
        // 32 outputs (whole, partial and masked vectors).
        let cases = [
            (16, (18, 32), (3, 3), 1, 1, (1, 1)),
            (8, (37, 63), (3, 3), 2, 1, (1, 1)),
            (8, (18, 32), (5, 5), 2, 1, (2, 2)),
            (8, (9, 16), (5, 5), 1, 1, (2, 2)),
            (3, (7, 9), (3, 2), 2, 1, (0, 1)),
            (3, (8, 7), (3, 3), 2, 2, (2, 0)),
            (2, (5, 5), (3, 3), 1, 1, (4, 3)),
            (2, (3, 3), (1, 1), 2, 1, (0, 0)),
            (2, (6, 30), (3, 3), 1, 2, (2, 2)),
            (2, (4, 1), (3, 3), 1, 1, (1, 1)),
        ];
        assert_same_as_tract(&cases, conv);
    }

    #[test]
    fn what_the_rows_do_not_cover_is_left_to_tract() {
        let mut model = one_op(2, (6, 6), (3, 3), 3, 1, (1, 1), conv);
        assert_eq!(rewrite(&mut model).expect("rewrite"), 0, "stride 3");
        let mut model = one_op(2, (6, 33), (3, 3), 1, 1, (1, 1), conv);
        assert_eq!(rewrite(&mut model).expect("rewrite"), 0, "rows wider than MAX_WIDTH");
        let mut model = one_op(2, (6, 6), (3, 3), 1, 1, (1, 1), conv);
        let id = model.node_by_name("op").expect("node").id;
        model.node_mut(id).op_as_mut::<Conv>().expect("conv").pool_spec.data_format = DataFormat::NHWC;
        assert_eq!(rewrite(&mut model).expect("rewrite"), 0, "channels last");
        let mut model = one_op(2, (6, 6), (3, 3), 1, 1, (1, 1), conv);
        model.node_mut(id).op_as_mut::<Conv>().expect("conv").group = 1;
        assert_eq!(rewrite(&mut model).expect("rewrite"), 0, "not depthwise");
    }
}
