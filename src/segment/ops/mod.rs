//! Faster convolutions for tract: our ops swapped into the model graph, and a row kernel
//! registered with tract.
//!
//! Profiled per node (tract 0.23.9, landscape model, one thread, 2-core VM), a 5.3 ms model run
//! spent ≈ 1.8 ms in the 1×1 convolutions (matrix products ≈ 1.3 ms, packing their inputs
//! ≈ 0.5 ms), 1.18 ms in eleven depthwise convolutions and 0.92 ms in three depthwise transposed
//! convolutions (the 2× bilinear upsamplings, stored as an edge `Pad` and a depthwise
//! `ConvTranspose`, `models/README.md`). Four things take the model run to ≈ 3.1–3.4 ms:
//!
//! * [`deconv::PhasedDepthwiseDeconv`] replaces tract's depthwise deconvolution, a *scatter* —
//!   one product added into the output per kernel tap and input pixel behind a bounds test, a
//!   pass over the whole output per tap — by a *gather* along rows: an output row takes the
//!   kernel rows whose input row is in range, and every kernel column is one multiply-add over
//!   contiguous slices that the compiler vectorises (compiled for AVX2 too, [`crate::simd`]).
//! * `x86::depthwise_w_f32` (x86-64) is tract's depthwise *row kernel* for AVX2 machines,
//!   registered in tract's kernel registry so tract picks it over its own AVX one: stride 2
//!   vectorised (tract runs it scalar) and a row's last outputs in masked vectors (tract's
//!   scalar tail).
//! * `conv::RowDepthwiseConv` (x86-64 with AVX2) replaces the depthwise convolutions whose rows
//!   are at most 32 outputs wide, where tract's zone-by-zone walk costs more than the sums
//!   (25 zones a channel on a 9×16 plane with a 5×5 kernel): whole output rows in registers,
//!   padding lanes blended out.
//! * `pointwise::PointwiseConv` (x86-64 with AVX2 and FMA) replaces the 1×1 convolutions and the
//!   per-channel bias added after them: NCHW planes are already the rows a product wants, so
//!   the kernel reads them in place (no packing), four output channels × 24 pixels in registers.
//!
//! [`rewrite`] makes the swaps in a decluttered model, before tract's optimiser lowers the nodes.
//!
//! **Same numbers as tract, bit for bit**: a depthwise output starts at its channel's bias and
//! adds its in-range taps' products in kernel order (row, then column), a multiply then an add
//! each, as tract's loops do (no fused multiply-add); a 1×1 output is summed over the input
//! channels in order with fused multiply-adds from zero and then gets its bias, as tract's matrix
//! kernels do. The tests compare each op with tract's on odd shapes, strides, dilations and pads,
//! the row kernel with tract's scalar loop, and whole runs of both embedded models on the sample
//! photo with and without the swaps, by bit pattern. What the ops do not cover (another datum
//! type or layout, a kernel or bias that is not a constant, a grouped convolution that is not
//! depthwise, output channels not a multiple of four, no AVX2 or FMA) keeps tract's lowering.
//!
//! Tried and left out: a gather for the depthwise convolutions with its sums in memory (one pass
//! over the row per tap) lost to tract's AVX kernel at stride 1 (0.19 vs 0.11 ms on the 72×128
//! layer).

#[cfg(target_arch = "x86_64")]
pub(crate) mod conv;
pub(crate) mod deconv;
#[cfg(target_arch = "x86_64")]
pub(crate) mod pointwise;
#[cfg(target_arch = "x86_64")]
mod x86;

use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::cnn::{Deconv, KernelFormat, PoolSpec};
use tract_onnx::tract_core::ops::nn::DataFormat;

/// `TypedOp` for one of our ops: one `f32` input, one `f32` output of the op's `output_shape`
/// (everything else is fixed when the op is built, so there is nothing more to declare).
macro_rules! one_input_f32_op {
    ($op:ty) => {
        impl TypedOp for $op {
            fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
                ensure!(inputs.len() == 1);
                Ok(tvec!(f32::fact(&*self.output_shape)))
            }

            as_op!();
        }
    };
}
use one_input_f32_op;

/// Replaces every depthwise 2-D `Deconv` and `Conv` node and every 1×1 convolution (`EinSum`)
/// of `model` our ops cover; returns how many it replaced (a 1×1 convolution fused with its bias
/// counts once). Call it on a decluttered model, before `into_optimized`.
pub(crate) fn rewrite(model: &mut TypedModel) -> TractResult<usize> {
    let mut replaced = 0;
    for id in model.eval_order()? {
        if let Some(patch) = swap(model, model.node(id))? {
            patch.apply(model)?;
            replaced += 1;
        }
    }
    Ok(replaced)
}

/// The patch that swaps `node` for one of our ops, if one covers it.
fn swap(model: &TypedModel, node: &TypedNode) -> TractResult<Option<TypedModelPatch>> {
    if let Some(d) = node.op_as::<Deconv>() {
        let Some(dw) = Depthwise::of(model, node, &d.pool_spec, d.group, d.kernel_format)? else {
            return Ok(None);
        };
        return match deconv::PhasedDepthwiseDeconv::new(dw, model, node, d)? {
            Some(op) => Ok(Some(TypedModelPatch::replace_single_op(model, node, &[node.inputs[0]], op)?)),
            None => Ok(None),
        };
    }
    x86_swap(model, node)
}

/// The x86-64 ops: a 1×1 convolution (`EinSum`), with the per-channel bias its only consumer adds
/// fused in where it does; a depthwise `Conv` with narrow rows.
#[cfg(target_arch = "x86_64")]
fn x86_swap(model: &TypedModel, node: &TypedNode) -> TractResult<Option<TypedModelPatch>> {
    if let Some(e) = node.op_as::<tract_onnx::tract_core::ops::einsum::EinSum>() {
        let Some(mut op) = pointwise::PointwiseConv::new(model, node, e)? else {
            return Ok(None);
        };
        let conv = OutletId::new(node.id, 0);
        let add = match &*node.outputs[0].successors {
            [next] => Some(model.node(next.node)),
            _ => None,
        };
        let bias = match add {
            Some(add) => pointwise::channel_bias(model, add, conv, op.outputs)?,
            None => None,
        };
        // The last node the op stands for: the bias `Add` where it is fused, else the `EinSum`.
        let last = match (add, bias) {
            (Some(add), Some(bias)) => {
                op.bias = Some(bias);
                OutletId::new(add.id, 0)
            }
            _ => conv,
        };
        let mut patch = TypedModelPatch::default();
        let x = patch.tap_model(model, node.inputs[0])?;
        let y = patch.wire_node(&node.name, op, &[x])?;
        patch.shunt_outside(model, last, y[0])?;
        return Ok(Some(patch));
    }
    let Some(c) = node.op_as::<tract_onnx::tract_core::ops::cnn::Conv>() else {
        return Ok(None);
    };
    if c.q_params.is_some() {
        return Ok(None);
    }
    let Some(dw) = Depthwise::of(model, node, &c.pool_spec, c.group, c.kernel_fmt)? else {
        return Ok(None);
    };
    match conv::RowDepthwiseConv::new(dw, model, node, c)? {
        Some(op) => Ok(Some(TypedModelPatch::replace_single_op(model, node, &[node.inputs[0]], op)?)),
        None => Ok(None),
    }
}

/// Elsewhere tract keeps its 1×1 and depthwise convolutions.
#[cfg(not(target_arch = "x86_64"))]
fn x86_swap(_model: &TypedModel, _node: &TypedNode) -> TractResult<Option<TypedModelPatch>> {
    Ok(None)
}

/// What a depthwise (de)convolution node holds: a fixed NCHW (or CHW) `f32` input, one kernel
/// plane and one bias per channel, both constants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Depthwise {
    /// Images (1 for CHW).
    pub(crate) batch: usize,
    pub(crate) channels: usize,
    /// Input height and width.
    pub(crate) input: [usize; 2],
    pub(crate) kernel_size: [usize; 2],
    pub(crate) stride: [usize; 2],
    pub(crate) dilation: [usize; 2],
    /// `[channel, 1, ky, kx]`.
    pub(crate) kernel: Arc<Tensor>,
    /// `[channel]`.
    pub(crate) bias: Arc<Tensor>,
    /// Whether the tensors have the batch axis (NCHW rather than CHW).
    pub(crate) has_n: bool,
}

impl Depthwise {
    /// The shared part of `node` (inputs: data, kernel, bias), or `None` where it is not a
    /// depthwise 2-D (de)convolution over a layout the gather covers.
    fn of(
        model: &TypedModel,
        node: &TypedNode,
        spec: &PoolSpec,
        group: usize,
        kernel_format: KernelFormat,
    ) -> TractResult<Option<Self>> {
        let channels = spec.input_channels;
        let depthwise = group > 1 && group == channels && spec.output_channels == channels;
        let layout_ok = matches!(spec.data_format, DataFormat::NCHW | DataFormat::CHW)
            && kernel_format == KernelFormat::OIHW
            && spec.rank() == 2;
        if !depthwise || !layout_ok || node.inputs.len() != 3 {
            return Ok(None);
        }
        let input_fact = model.outlet_fact(node.inputs[0])?;
        let (Some(kernel), Some(bias)) =
            (model.outlet_fact(node.inputs[1])?.konst.clone(), model.outlet_fact(node.inputs[2])?.konst.clone())
        else {
            return Ok(None);
        };
        let Some(input_shape) = input_fact.shape.as_concrete() else {
            return Ok(None);
        };
        let f32_type = f32::datum_type();
        if input_fact.datum_type != f32_type || kernel.datum_type() != f32_type || bias.datum_type() != f32_type {
            return Ok(None);
        }
        let has_n = spec.data_format == DataFormat::NCHW;
        let (batch, spatial) = if has_n { (input_shape[0], &input_shape[2..]) } else { (1, &input_shape[1..]) };
        let [kh, kw] = [spec.kernel_shape[0], spec.kernel_shape[1]];
        let (strides, dilations) = (spec.strides(), spec.dilations());
        if kernel.shape() != [channels, 1, kh, kw]
            || !(bias.len() == channels || bias.len() == 1)
            || strides.contains(&0)
            || dilations.contains(&0)
        {
            return Ok(None);
        }
        let bias = bias.try_as_plain_ram()?.as_slice::<f32>()?;
        let bias =
            Tensor::from_shape(&[channels], &if bias.len() == 1 { vec![bias[0]; channels] } else { bias.to_vec() })?;
        Ok(Some(Self {
            batch,
            channels,
            input: [spatial[0], spatial[1]],
            kernel_size: [kh, kw],
            stride: [strides[0], strides[1]],
            dilation: [dilations[0], dilations[1]],
            kernel,
            bias: Arc::new(bias),
            has_n,
        }))
    }

    /// The output shape for output planes of `output` (height, width).
    pub(crate) fn output_shape(&self, output: [usize; 2]) -> TVec<usize> {
        if self.has_n {
            tvec![self.batch, self.channels, output[0], output[1]]
        } else {
            tvec![self.channels, output[0], output[1]]
        }
    }

    /// One line for tract's dumps and profiles.
    pub(crate) fn describe(&self, pad_before: [usize; 2], output: [usize; 2]) -> String {
        let [kh, kw] = self.kernel_size;
        format!(
            "{kh}x{kw} kernel, stride {:?}, dilation {:?}, pad {pad_before:?}, {:?} -> {output:?}",
            self.stride, self.dilation, self.input
        )
    }

    /// Whether `node`'s output is `shape`.
    pub(crate) fn node_outputs(model: &TypedModel, node: &TypedNode, shape: &[usize]) -> TractResult<bool> {
        let fact = model.outlet_fact(OutletId::new(node.id, 0))?;
        Ok(fact.shape.as_concrete() == Some(shape))
    }

    /// Runs `plane(kernel, bias, input plane, output plane)` over every (image, channel) plane
    /// of `input` into a new tensor of `shape`.
    pub(crate) fn planes(
        &self,
        input: TValue,
        shape: &[usize],
        mut plane: impl FnMut(&[f32], f32, &[f32], &mut [f32]),
    ) -> TractResult<TValue> {
        let input = input.try_as_plain_ram()?;
        let input = input.as_slice::<f32>()?;
        let in_plane = self.input[0] * self.input[1];
        let out_plane = shape[shape.len() - 2] * shape[shape.len() - 1];
        ensure!(input.len() == self.batch * self.channels * in_plane, "input of an unexpected size");
        let mut output = Tensor::zero::<f32>(shape)?;
        let mut view = output.try_as_plain_ram_mut()?;
        let out = view.as_slice_mut::<f32>()?;
        let kernel = self.kernel.try_as_plain_ram()?;
        let kernel = kernel.as_slice::<f32>()?;
        let bias = self.bias.try_as_plain_ram()?;
        let bias = bias.as_slice::<f32>()?;
        let taps = self.kernel_size[0] * self.kernel_size[1];
        for (index, (src, dst)) in input.chunks_exact(in_plane).zip(out.chunks_exact_mut(out_plane)).enumerate() {
            let c = index % self.channels;
            plane(&kernel[c * taps..][..taps], bias[c], src, dst);
        }
        Ok(output.into_tvalue())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use tract_onnx::tract_core::ops::cnn::PaddingSpec;

    /// A `[1, c, h, w]` input of varied values.
    pub(crate) fn input(c: usize, (h, w): (usize, usize)) -> Tensor {
        let values: Vec<f32> = (0..c * h * w).map(|i| ((i * 7919 % 1009) as f32 - 500.0) / 123.0).collect();
        Tensor::from_shape(&[1, c, h, w], &values).expect("input")
    }

    /// A model of one depthwise op (`make(spec)` builds it) over a `[1, c, h, w]` input.
    pub(crate) fn one_op<O: Into<Box<dyn TypedOp>>>(
        c: usize,
        (h, w): (usize, usize),
        k: (usize, usize),
        stride: usize,
        dil: usize,
        pad: (usize, usize),
        make: impl FnOnce(PoolSpec) -> O,
    ) -> TypedModel {
        let mut model = TypedModel::default();
        let x = model.add_source("x", f32::fact([1, c, h, w])).expect("source");
        let kernel: Vec<f32> = (0..c * k.0 * k.1).map(|i| ((i * 37 % 101) as f32 - 50.0) / 37.0).collect();
        let kernel = model.add_const("k", Tensor::from_shape(&[c, 1, k.0, k.1], &kernel).expect("kernel")).expect("k");
        let bias: Vec<f32> = (0..c).map(|i| i as f32 * 0.3 - 0.7).collect();
        let bias = model.add_const("b", Tensor::from_shape(&[c], &bias).expect("bias")).expect("const");
        let spec = PoolSpec {
            data_format: DataFormat::NCHW,
            kernel_shape: tvec![k.0, k.1],
            padding: PaddingSpec::Explicit(tvec![pad.0, pad.1], tvec![pad.0, pad.1]),
            dilations: Some(tvec![dil, dil]),
            strides: Some(tvec![stride, stride]),
            input_channels: c,
            output_channels: c,
        };
        let y = model.wire_node("op", make(spec).into(), &[x, kernel, bias]).expect("wire");
        model.select_output_outlets(&y).expect("outputs");
        model
    }

    /// A one-op case: channels, input height and width, kernel size, stride, dilation, padding.
    pub(crate) type Case = (usize, (usize, usize), (usize, usize), usize, usize, (usize, usize));

    /// Asserts, for every case, that [`rewrite`] swaps the one op `make` builds and that the
    /// swapped model gives tract's output bit for bit.
    pub(crate) fn assert_same_as_tract<O: Into<Box<dyn TypedOp>>>(cases: &[Case], make: impl Fn(PoolSpec) -> O + Copy) {
        for &(c, hw, k, stride, dil, pad) in cases {
            let x = input(c, hw);
            let theirs = run(one_op(c, hw, k, stride, dil, pad, make), &x);
            let mut ours = one_op(c, hw, k, stride, dil, pad, make);
            let case = (c, hw, k, stride, dil, pad);
            assert_eq!(rewrite(&mut ours).expect("rewrite"), 1, "case {case:?}");
            assert_eq!(run(ours, &x), theirs, "case {case:?}");
        }
    }

    /// The model's output for `input`, as bit patterns.
    pub(crate) fn run(model: TypedModel, input: &Tensor) -> Vec<u32> {
        let plan = model.into_optimized().and_then(|m| m.into_runnable()).expect("plan");
        let out = plan.run(tvec!(input.clone().into())).expect("run");
        out[0].to_plain_array_view::<f32>().expect("f32").iter().map(|v| v.to_bits()).collect()
    }

    /// The bundled sample photo stretched to `w × h`, as the models' `[1, 3, h, w]` input (unit
    /// range, as the embedded models take it).
    fn sample_photo(w: u32, h: u32) -> Tensor {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data/grace_hopper.jpg");
        let photo = image::open(path).expect("sample photo").into_rgb8();
        let photo = image::imageops::resize(&photo, w, h, image::imageops::FilterType::Triangle);
        let (w, h) = (w as usize, h as usize);
        let mut values = vec![0f32; 3 * h * w];
        for (x, y, p) in photo.enumerate_pixels() {
            for c in 0..3 {
                values[(c * h + y as usize) * w + x as usize] = f32::from(p[c]) / 255.0;
            }
        }
        Tensor::from_shape(&[1, 3, h, w], &values).expect("input")
    }

    #[test]
    fn the_embedded_models_give_the_same_masks_bit_for_bit() {
        let models =
            [(super::super::SELFIE_LANDSCAPE_ONNX, (256, 144)), (super::super::SELFIE_SQUARE_ONNX, (256, 256))];
        for (bytes, (w, h)) in models {
            let model = tract_onnx::onnx()
                .model_for_read(&mut std::io::Cursor::new(bytes))
                .and_then(|m| m.with_input_fact(0, f32::fact([1, 3, h as usize, w as usize]).into()))
                .and_then(|m| m.into_typed())
                .and_then(|m| m.into_decluttered())
                .expect("model");
            let input = sample_photo(w, h);
            let theirs = run(model.clone(), &input);
            let mask: Vec<f32> = theirs.iter().map(|b| f32::from_bits(*b)).collect();
            let person = mask.iter().filter(|&&p| p > 0.5).count();
            assert!(person > mask.len() / 10 && person < mask.len() * 9 / 10, "the photo shows a person: {person}");
            let mut ours = model;
            // The three upsamplings; with AVX2 the eight depthwise convolutions 32 wide or
            // narrower, with FMA too the 24 1×1 convolutions.
            #[cfg(target_arch = "x86_64")]
            let (avx2, fma) = (std::arch::is_x86_feature_detected!("avx2"), std::arch::is_x86_feature_detected!("fma"));
            #[cfg(not(target_arch = "x86_64"))]
            let (avx2, fma) = (false, false);
            let expected = 3 + if avx2 { 8 } else { 0 } + if avx2 && fma { 24 } else { 0 };
            assert_eq!(rewrite(&mut ours).expect("rewrite"), expected);
            assert_eq!(run(ours, &input), theirs);
        }
    }
}
