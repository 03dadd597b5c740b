//! The AVX2 kernels of the model ops: tract's depthwise row kernel (registered with tract), the
//! rows of [`RowDepthwiseConv`] and the tiles of [`PointwiseConv`].
//!
//! tract 0.23.9 runs each row of a depthwise convolution through one kernel per machine, chosen
//! from an `inventory` registry by instruction set (`tract_linalg::routines`). Its x86-64 kernel
//! (AVX) vectorises rows whose input step is 1 and leaves the others, and each row's last
//! outputs, to a scalar loop — every stride-2 layer of the selfie models. [`depthwise_w_f32`] is
//! registered for AVX2 machines, so tract picks it over its own: strides 1 and 2 run up to 32
//! outputs at a time, stride-2 inputs read as two overlapping 8-float loads de-interleaved with a
//! shuffle and a permute, the row's last outputs in masked vectors; other strides run the scalar
//! loop. **Same numbers as tract's scalar loop**: each output starts at the bias and adds
//! `tap · input` for the taps in order, a multiply then an add (no FMA), lane by lane.
//!
//! The three kernels share [`load`] and [`store`] (eight outputs' inputs or results, the last of
//! a row masked).
//!
//! `unsafe` is confined here: the intrinsics need AVX2 (FMA too for [`PointwiseConv`]; the
//! registry and the ops' constructors offer them only to a CPU that has them) and the loads and
//! stores take raw pointers within the bounds each kernel's contract states.
#![allow(unsafe_code)]

use std::arch::x86_64::*;

use tract_linalg::isa::{Arch, Isa, IsaReq};
use tract_linalg::routines::{Func, Routine, RoutineFactory};

use super::conv::RowDepthwiseConv;
use super::pointwise::PointwiseConv;
use tract_onnx::tract_core::internal::inventory;
use tract_onnx::tract_core::tract_linalg;

/// The name tract's registry and profiles show for [`depthwise_w_f32`].
pub(crate) const NAME: &str = "bokeh_avx2_depthwise_w_f32";

inventory::submit! {
    Routine {
        func: Func::DepthwiseW,
        arch: Some(Arch::X86_64),
        isa: IsaReq { needs: &[Isa::X86_64Avx2] },
        boost: 0,
        round_trip: false,
        factory: RoutineFactory::DepthwiseWF32 { name: NAME, run: depthwise_w_f32 },
    }
}

/// `len` outputs, output `i` the `bias` plus every `taps[t] · input[offsets[t] + i · in_stride]`
/// in tap order (tract's `DepthwiseWF32` contract).
///
/// # Safety
/// The CPU must support AVX2; `input.offset(offsets[t] + i * in_stride)` must be readable for
/// every tap and every `i < len`, and `len` outputs writable from `output`.
pub(crate) unsafe fn depthwise_w_f32(
    input: *const f32,
    output: *mut f32,
    taps: &[f32],
    offsets: &[isize],
    bias: f32,
    len: usize,
    in_stride: isize,
) {
    // SAFETY: the caller's promises, passed on unchanged.
    unsafe {
        match in_stride {
            1 => vectorised::<1>(input, output, taps, offsets, bias, len),
            2 => vectorised::<2>(input, output, taps, offsets, bias, len),
            _ => scalar(input, output, taps, offsets, bias, 0, len, in_stride),
        }
    }
}

/// Lanes `0..n` set (`n` up to 8), for the masked loads and stores of a row's last outputs.
#[inline]
#[target_feature(enable = "avx2")]
fn first_lanes(n: usize) -> __m256i {
    const TABLE: [i32; 16] = [-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0];
    // SAFETY: 8 - n.min(8) + 8 <= 16 elements of the table.
    unsafe { _mm256_loadu_si256(TABLE.as_ptr().add(8 - n.min(8)).cast()) }
}

/// The inputs of `valid` consecutive outputs (1 to 8) at stride `S` (1 or 2) from `p`, in lane
/// order: element `S·j` in lane `j`. Lanes past `valid` are zero, and nothing past element
/// `S·(valid − 1)` is read (masked loads never touch masked-off memory). At stride 2 the eight
/// come from `p[0..8]` and `p[7..15]`: per 128-bit lane a shuffle takes the first's elements 0
/// and 2 and the second's 1 and 3 (inputs [0 2 8 10 | 4 6 12 14]), a 64-bit permute orders them.
///
/// # Safety
/// AVX2; elements `0..=S·(valid − 1)` readable at `p`.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn load<const S: usize>(p: *const f32, valid: usize) -> __m256 {
    // SAFETY (all loads): within elements 0..=S·(valid − 1) at `p`, the caller's promise; the
    // masked ones read only their set lanes.
    if S == 1 {
        if valid == 8 {
            unsafe { _mm256_loadu_ps(p) }
        } else {
            unsafe { _mm256_maskload_ps(p, first_lanes(valid)) }
        }
    } else {
        let (a, b) = if valid == 8 {
            unsafe { (_mm256_loadu_ps(p), _mm256_loadu_ps(p.add(7))) }
        } else {
            // Element j of the first load is needed for j <= 2·(valid − 1); element 7 + j of the
            // second for j <= 2·valid − 9.
            let last = 2 * valid - 1;
            unsafe {
                (
                    _mm256_maskload_ps(p, first_lanes(last)),
                    _mm256_maskload_ps(p.add(7), first_lanes(last.saturating_sub(7))),
                )
            }
        };
        pair_evens(a, b)
    }
}

/// Stores the first `valid` lanes of `a` (1 to 8) at `o`: a plain store for eight, a masked one
/// for fewer (nothing past them is touched).
///
/// # Safety
/// AVX2; `valid` floats writable at `o`.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn store(o: *mut f32, a: __m256, valid: usize) {
    // SAFETY: `valid` floats writable at `o` (the caller's promise); the masked store writes only
    // its set lanes.
    unsafe {
        if valid == 8 {
            _mm256_storeu_ps(o, a);
        } else {
            _mm256_maskstore_ps(o, first_lanes(valid), a);
        }
    }
}

/// Outputs `i..i + n` (`8·(V − 1) < n <= 8·V`) at stride `S`, in `V` accumulators summed tap
/// by tap (independent chains for the adder), the last vector masked when `n` is short of it.
///
/// # Safety
/// As [`depthwise_w_f32`], with `i + n <= len`.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn block<const V: usize, const S: usize>(
    input: *const f32,
    output: *mut f32,
    taps: &[f32],
    offsets: &[isize],
    bias: f32,
    i: usize,
    n: usize,
) {
    let mut acc = [_mm256_set1_ps(bias); V];
    let valid = |v: usize| (n - 8 * v).min(8);
    for (&tap, &offset) in taps.iter().zip(offsets) {
        let k = _mm256_set1_ps(tap);
        // SAFETY: output i + 8v + j reads input offset + S·(i + 8v + j), readable for every
        // output below len (the caller's promise); `load` reads no further than its last valid.
        let p = unsafe { input.offset(offset).add(S * i) };
        for (v, a) in acc.iter_mut().enumerate() {
            let x = unsafe { load::<S>(p.add(S * 8 * v), valid(v)) };
            *a = _mm256_add_ps(*a, _mm256_mul_ps(x, k));
        }
    }
    for (v, a) in acc.iter().enumerate() {
        // SAFETY: outputs i..i + n are writable (i + n <= len).
        unsafe { store(output.add(i + 8 * v), *a, valid(v)) };
    }
}

/// Strides 1 and 2: up to 32 outputs at a time in up to four accumulators, the row's last ones
/// in masked vectors (tract's own AVX kernel leaves up to 7 a row to its scalar loop, a third of
/// the row on the selfie models' 9×16 planes).
///
/// # Safety
/// As [`depthwise_w_f32`] with `in_stride == S`.
#[target_feature(enable = "avx2")]
unsafe fn vectorised<const S: usize>(
    input: *const f32,
    output: *mut f32,
    taps: &[f32],
    offsets: &[isize],
    bias: f32,
    len: usize,
) {
    let mut i = 0;
    while i < len {
        let n = (len - i).min(32);
        // SAFETY: the caller's promises, for outputs i..i + n <= len.
        unsafe {
            match n.div_ceil(8) {
                4 => block::<4, S>(input, output, taps, offsets, bias, i, n),
                3 => block::<3, S>(input, output, taps, offsets, bias, i, n),
                2 => block::<2, S>(input, output, taps, offsets, bias, i, n),
                _ => block::<1, S>(input, output, taps, offsets, bias, i, n),
            }
        }
        i += n;
    }
}

/// Lanes whose bit is set in `bits` set (all ones), the others clear.
#[inline]
#[target_feature(enable = "avx2")]
fn lanes_of(bits: u8) -> __m256i {
    let each = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32(i32::from(bits)), each), each)
}

/// One channel plane of a [`RowDepthwiseConv`] (see `conv.rs`): `input` (`in_h × in_w`) into
/// `output` (`out_h × out_w`) with the channel's `kernel` (`kh × kw`) and `bias`.
pub(crate) fn conv_plane(op: &RowDepthwiseConv, kernel: &[f32], bias: f32, input: &[f32], output: &mut [f32]) {
    assert!(input.len() == op.dw.input[0] * op.dw.input[1] && output.len() == op.output[0] * op.output[1]);
    assert!(kernel.len() == op.dw.kernel_size[0] * op.dw.kernel_size[1]);
    // SAFETY: a RowDepthwiseConv exists only where the CPU has AVX2 (`RowDepthwiseConv::new`);
    // the planes have the sizes its geometry was built for (checked above).
    unsafe { conv_plane_avx2(op, kernel, bias, input, output) }
}

/// # Safety
/// AVX2; the planes of the sizes `op` was built for.
#[target_feature(enable = "avx2")]
unsafe fn conv_plane_avx2(op: &RowDepthwiseConv, kernel: &[f32], bias: f32, input: &[f32], output: &mut [f32]) {
    let kh = op.dw.kernel_size[0];
    let vectors = op.output[1].div_ceil(8);
    for (out_row, rows) in output.chunks_exact_mut(op.output[1]).zip(op.rows.chunks_exact(kh)) {
        let mut v = 0;
        while v < vectors {
            let n = (vectors - v).min(4);
            // SAFETY: AVX2 and the planes' sizes (the caller's promises).
            unsafe {
                match n {
                    4 => row_vectors::<4>(op, kernel, bias, input, rows, out_row, v),
                    3 => row_vectors::<3>(op, kernel, bias, input, rows, out_row, v),
                    2 => row_vectors::<2>(op, kernel, bias, input, rows, out_row, v),
                    _ => row_vectors::<1>(op, kernel, bias, input, rows, out_row, v),
                }
            }
            v += n;
        }
    }
}

/// The `V` vectors of eight outputs from vector `v0` of one output row: per in-range kernel
/// row and kernel column, each lane that reads the input adds `tap · input` to its sum (the
/// others keep theirs, by a blend): tract's taps in tract's order.
///
/// # Safety
/// AVX2; `input` the plane `op` was built for, `rows` the output row's input rows, `out_row` of
/// the output width, `v0 + V` at most its vectors.
#[inline]
#[target_feature(enable = "avx2")]
#[allow(clippy::too_many_arguments)]
unsafe fn row_vectors<const V: usize>(
    op: &RowDepthwiseConv,
    kernel: &[f32],
    bias: f32,
    input: &[f32],
    rows: &[Option<usize>],
    out_row: &mut [f32],
    v0: usize,
) {
    let [_, in_w] = op.dw.input;
    let kw = op.dw.kernel_size[1];
    let vectors = op.output[1].div_ceil(8);
    let stride_two = op.dw.stride[1] == 2;
    let mut acc = [_mm256_set1_ps(bias); V];
    for (ky, iy) in rows.iter().enumerate() {
        let Some(iy) = *iy else {
            continue;
        };
        let row = &input[iy * in_w..][..in_w];
        for (kx, &tap) in kernel[ky * kw..][..kw].iter().enumerate() {
            let k = _mm256_set1_ps(tap);
            for (u, a) in acc.iter_mut().enumerate() {
                let Some(c) = op.columns[kx * vectors + v0 + u] else {
                    continue;
                };
                // The window from `start` may begin before the row; only its masked-in elements,
                // all inside the row (`Columns`), are read, so the pointer is only formed.
                let p = row.as_ptr().wrapping_offset(c.start);
                // SAFETY: full loads where every element of the window is in the row (lane
                // mask 0xFF); masked loads read only their set elements, inside the row.
                let x = unsafe {
                    match (stride_two, c.lanes == 0xFF) {
                        (false, true) => load::<1>(p, 8),
                        (false, false) => _mm256_maskload_ps(p, lanes_of(c.loads[0])),
                        (true, true) => load::<2>(p, 8),
                        (true, false) => pair_evens(
                            _mm256_maskload_ps(p, lanes_of(c.loads[0])),
                            _mm256_maskload_ps(p.wrapping_add(7), lanes_of(c.loads[1])),
                        ),
                    }
                };
                let sum = _mm256_add_ps(*a, _mm256_mul_ps(x, k));
                *a = if c.lanes == 0xFF {
                    sum
                } else {
                    _mm256_blendv_ps(*a, sum, _mm256_castsi256_ps(lanes_of(c.lanes)))
                };
            }
        }
    }
    for (u, a) in acc.iter().enumerate() {
        let out = &mut out_row[8 * (v0 + u)..];
        // SAFETY: min(8, out.len()) floats writable at `out`.
        unsafe { store(out.as_mut_ptr(), *a, out.len().min(8)) };
    }
}

/// Elements 0, 2, …, 14 of a 15-float window given as its elements 0..8 and 7..15.
#[inline]
#[target_feature(enable = "avx2")]
fn pair_evens(a: __m256, b: __m256) -> __m256 {
    let mixed = _mm256_shuffle_ps::<0b11_01_10_00>(a, b);
    _mm256_castpd_ps(_mm256_permute4x64_pd::<0b11_01_10_00>(_mm256_castps_pd(mixed)))
}

/// A [`PointwiseConv`] (see `pointwise.rs`): `input` (`[I, P]`) into `output` (`[O, P]`) with
/// `weights` (`[I, O]`).
pub(crate) fn pointwise(op: &PointwiseConv, weights: &[f32], bias: Option<&[f32]>, input: &[f32], output: &mut [f32]) {
    let (ni, no, np) = (op.inputs, op.outputs, op.pixels);
    assert!(weights.len() == ni * no && input.len() == ni * np && output.len() == no * np && no % 4 == 0);
    assert!(bias.is_none_or(|b| b.len() == no));
    // SAFETY: a PointwiseConv exists only where the CPU has AVX2 and FMA
    // (`PointwiseConv::new`); the sizes are checked above.
    unsafe { pointwise_fma(ni, no, np, weights, bias, input, output) }
}

/// # Safety
/// AVX2 and FMA; `weights` `ni·no`, `bias` `no`, `input` `ni·np`, `output` `no·np` floats,
/// `no % 4 == 0`.
#[target_feature(enable = "avx2,fma")]
unsafe fn pointwise_fma(
    ni: usize,
    no: usize,
    np: usize,
    weights: &[f32],
    bias: Option<&[f32]>,
    input: &[f32],
    output: &mut [f32],
) {
    let shape = Shape { ni, no, np };
    let mut p = 0;
    while p < np {
        let n = (np - p).min(24);
        for o in (0..no).step_by(4) {
            // SAFETY: the caller's promises; o + 4 <= no and p + n <= np.
            unsafe {
                match n.div_ceil(8) {
                    3 => pointwise_tile::<3>(shape, weights, bias, input, output, o, p, n),
                    2 => pointwise_tile::<2>(shape, weights, bias, input, output, o, p, n),
                    _ => pointwise_tile::<1>(shape, weights, bias, input, output, o, p, n),
                }
            }
        }
        p += n;
    }
}

/// Input channels, output channels and pixels of a [`PointwiseConv`].
#[derive(Clone, Copy)]
struct Shape {
    ni: usize,
    no: usize,
    np: usize,
}

/// Output channels `o..o + 4` at pixels `p..p + n` (`8·(V − 1) < n <= 8·V`): `4·V` accumulators
/// from zero, one fused multiply-add per input channel in order, then the channel's bias added;
/// the last vector of pixels masked when `n` is short of it.
///
/// # Safety
/// As [`pointwise_fma`], with `o + 4 <= no` and `p + n <= np`.
#[inline]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn pointwise_tile<const V: usize>(
    Shape { ni, no, np }: Shape,
    weights: &[f32],
    bias: Option<&[f32]>,
    input: &[f32],
    output: &mut [f32],
    o: usize,
    p: usize,
    n: usize,
) {
    let valid = |v: usize| (n - 8 * v).min(8);
    let mut acc = [[_mm256_setzero_ps(); V]; 4];
    for i in 0..ni {
        let mut x = [_mm256_setzero_ps(); V];
        for (v, x) in x.iter_mut().enumerate() {
            // SAFETY: pixels p + 8v .. p + 8v + valid(v) of input row i, inside `input`.
            unsafe { *x = load::<1>(input.as_ptr().add(i * np + p + 8 * v), valid(v)) };
        }
        let w = &weights[i * no + o..][..4];
        for (row, &w) in acc.iter_mut().zip(w) {
            let w = _mm256_set1_ps(w);
            for (a, x) in row.iter_mut().zip(&x) {
                *a = _mm256_fmadd_ps(w, *x, *a);
            }
        }
    }
    if let Some(bias) = bias {
        for (row, &b) in acc.iter_mut().zip(&bias[o..o + 4]) {
            for a in row.iter_mut() {
                *a = _mm256_add_ps(*a, _mm256_set1_ps(b));
            }
        }
    }
    for (r, row) in acc.iter().enumerate() {
        for (v, a) in row.iter().enumerate() {
            // SAFETY: pixels p + 8v .. p + 8v + valid(v) of output row o + r, inside `output`.
            unsafe { store(output.as_mut_ptr().add((o + r) * np + p + 8 * v), *a, valid(v)) };
        }
    }
}

/// Outputs `from..len` one at a time, as tract's scalar loop computes them.
///
/// # Safety
/// As [`depthwise_w_f32`].
#[allow(clippy::too_many_arguments)]
unsafe fn scalar(
    input: *const f32,
    output: *mut f32,
    taps: &[f32],
    offsets: &[isize],
    bias: f32,
    from: usize,
    len: usize,
    in_stride: isize,
) {
    for i in from..len {
        let mut sum = bias;
        for (&tap, &offset) in taps.iter().zip(offsets) {
            // SAFETY: readable for every i < len (the caller's promise).
            sum += tap * unsafe { *input.offset(offset + i as isize * in_stride) };
        }
        // SAFETY: output i < len is writable.
        unsafe { *output.add(i) = sum };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tract_onnx::prelude::Datum;

    /// Tract's scalar loop, in safe code.
    fn reference(input: &[f32], taps: &[f32], offsets: &[isize], bias: f32, len: usize, stride: isize) -> Vec<u32> {
        (0..len)
            .map(|i| {
                let mut sum = bias;
                for (&tap, &offset) in taps.iter().zip(offsets) {
                    sum += tap * input[(offset + i as isize * stride) as usize];
                }
                sum.to_bits()
            })
            .collect()
    }

    #[test]
    fn the_kernel_gives_the_scalar_loops_numbers_bit_for_bit() {
        if !is_x86_feature_detected!("avx2") {
            eprintln!("skipped: no AVX2 here");
            return;
        }
        for stride in 1..=3isize {
            for len in [1, 7, 8, 9, 31, 32, 33, 64, 100] {
                for ntaps in [1, 2, 3, 4, 9, 25] {
                    let offsets: Vec<isize> = (0..ntaps).map(|t| (t % 5 + (t / 5) * 300) as isize).collect();
                    let taps: Vec<f32> = (0..ntaps).map(|t| ((t * 37 % 23) as f32 - 11.0) / 7.0).collect();
                    // Exactly as long as the contract asks: the last output's last tap is the
                    // last element, so a read past it would be caught by the bounds of `input`
                    // … in the reference; the kernel's reads are checked by the sizes below.
                    let size = (offsets.iter().max().copied().unwrap_or(0) + (len as isize - 1) * stride + 1) as usize;
                    let input: Vec<f32> = (0..size).map(|i| ((i * 7919 % 1009) as f32 - 500.0) / 77.0).collect();
                    let mut out = vec![f32::NAN; len];
                    // SAFETY: AVX2 checked above; `input` holds every element the contract
                    // names, `out` holds `len`.
                    unsafe { depthwise_w_f32(input.as_ptr(), out.as_mut_ptr(), &taps, &offsets, 0.25, len, stride) };
                    let got: Vec<u32> = out.iter().map(|v| v.to_bits()).collect();
                    assert_eq!(got, reference(&input, &taps, &offsets, 0.25, len, stride), "{stride} {len} {ntaps}");
                }
            }
        }
    }

    #[test]
    fn tract_runs_this_kernel_on_avx2_machines() {
        let name = tract_linalg::routines::best_for(Func::DepthwiseW, f32::datum_type(), &tract_linalg::isa::native())
            .map(|r| r.name());
        if is_x86_feature_detected!("avx2") {
            assert_eq!(name, Some(NAME));
        } else {
            assert_ne!(name, Some(NAME));
        }
    }
}
