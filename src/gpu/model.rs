//! The segmentation model on the GPU: the ONNX graph's operators as WGSL compute shaders
//! (`shaders/model.wgsl`), weights uploaded once, one dispatch per operator.
//!
//! # Why our own kernels
//! Issue 19 weighed three ways. tract's GPU crates reach one vendor each (`tract-cuda` through
//! cudarc, `tract-metal` on Apple), not Vulkan, GL or DX12, and not the software adapters CI tests
//! on. burn 0.22's wgpu backend is on wgpu 30 like us, but its ONNX import (`burn-onnx`) turns the
//! model into Rust source at build time, so a model given at run time
//! ([`crate::Segmenter::from_onnx_path`], the C API's `create_from_file`) could not run on the
//! GPU; and the backend alone is 227 crates, 136 of them not in bokeh's tree, 1043 CPU-seconds
//! of release build (measured here, 2026-12-06) — for a graph of nine operator kinds.
//! MediaPipe's selfie models are 1×1, depthwise and one 3×3 convolution, a depthwise transposed
//! convolution (the bilinear upsampling, see `models/README.md`), HardSwish, ReLU, sigmoid,
//! squeeze-and-excitation pooling, add, multiply and edge padding: a few hundred lines of WGSL
//! run them on every adapter wgpu reaches, in the same storage-buffer style as the pixel stages.
//!
//! # From the ONNX graph
//! [`Graph::from_onnx`] reads the protobuf with tract-onnx's parser (initialisers, `Constant`
//! nodes, attributes) and keeps the nodes as ONNX states them. That, rather than tract's typed
//! and decluttered graph, is the contract: decluttering turns 1×1 convolutions into `EinSum`s of
//! several axis strings, ReLU into `Max` with a constant and pooling into `Reduce` + `Mul`,
//! shapes that move between tract versions. Any model made of the operators below runs; any
//! other operator is refused at load with its name, and the model then stays in tract
//! ([`crate::Pipeline::model_description`] says so).
//!
//! Supported: `Conv` and `ConvTranspose` (any groups, kernel, stride, explicit or `VALID`
//! padding, dilation), `Relu`, `HardSwish`, `HardSigmoid`, `Sigmoid`, `Add` and `Mul` with
//! broadcasting, `GlobalAveragePool`, `Pad` (constant, edge, reflect; on C, H, W), `Reshape`,
//! `Identity`, batch 1, NCHW, float32. 1×1 convolutions (most of the work) have their own
//! kernel, four output channels per invocation.
//!
//! # Plan
//! [`GpuModel::new`] fixes the input size and lays every tensor out in one storage buffer: the
//! constants first (uploaded once), then each operator's output at its own offset (12.5 MB for the
//! landscape model at 256×144, 21.9 MB for the square one; nothing reused, nothing allocated per
//! frame). An activation that is its convolution's only consumer is fused into it (the landscape
//! model: 140 ONNX nodes, 97 dispatches). One uniform block per step, in one buffer at aligned
//! offsets, and one bind group per step are made here too, so a frame records one compute pass
//! of one dispatch per step (wgpu puts a barrier between dispatches that write the same buffer)
//! and one copy out.
//!
//! # Same numbers as tract
//! Each output element sums in ONNX's order (input channel, kernel row, column) in f32, the
//! pooling as a tree: the mask agrees with tract's within 1e-3 (`tests/gpu.rs` measures it on
//! the golden inputs and the shared photos).

use std::collections::HashMap;
use std::sync::Arc;

use tract_onnx::pb::{NodeProto, TensorProto};
use tract_onnx::prelude::*;

use crate::error::{Error, Result};

use super::context::gpu_error;
use super::GpuContext;

/// An activation, applied alone or fused into a convolution (codes as in `model.wgsl`).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Act {
    None,
    Relu,
    HardSwish,
    Sigmoid,
    HardSigmoid { alpha: f32, beta: f32 },
}

impl Act {
    fn code(self) -> u32 {
        match self {
            Act::None => 0,
            Act::Relu => 1,
            Act::HardSwish => 2,
            Act::Sigmoid => 3,
            Act::HardSigmoid { .. } => 4,
        }
    }

    fn alpha_beta(self) -> (u32, u32) {
        match self {
            Act::HardSigmoid { alpha, beta } => (alpha.to_bits(), beta.to_bits()),
            _ => (0, 0),
        }
    }
}

/// Padding modes of `Pad`.
#[derive(Debug, Clone, Copy, PartialEq)]
enum PadMode {
    Constant,
    Edge,
    Reflect,
}

/// One operator, with its attributes; operands are tensor indices in [`Node::inputs`].
#[derive(Debug, Clone)]
enum Op {
    /// Inputs: x, weights, optional bias.
    Conv {
        transpose: bool,
        group: usize,
        strides: [usize; 2],
        /// Top, left, bottom, right; `None` for `auto_pad = VALID`.
        pads: [usize; 4],
        dilations: [usize; 2],
        output_padding: [usize; 2],
        act: Act,
    },
    Act(Act),
    /// Add (`false`) or multiply (`true`).
    Binary {
        mul: bool,
    },
    AveragePool,
    /// Inputs: x, then (opset 11+) pads and an optional value, or `pads` from the attribute.
    Pad {
        mode: PadMode,
        pads: Option<Vec<i64>>,
        value: f32,
    },
    /// Inputs: x, shape.
    Reshape,
    Identity,
}

#[derive(Debug, Clone)]
struct Node {
    name: String,
    op: Op,
    inputs: Vec<usize>,
    output: usize,
}

/// A constant tensor of the graph (weights, pads, shapes), as f32 and, for integers, as given.
#[derive(Debug, Clone)]
struct Constant {
    shape: Vec<usize>,
    values: Vec<f32>,
    ints: Option<Vec<i64>>,
}

/// A model's graph as the GPU runs it, independent of the input size: parse once per model
/// ([`Graph::from_onnx`]), plan once per input size ([`GpuModel::new`]).
#[derive(Debug, Clone)]
pub struct Graph {
    names: Vec<String>,
    constants: HashMap<usize, Constant>,
    nodes: Vec<Node>,
    input: usize,
    output: usize,
}

fn onnx_error(what: impl std::fmt::Display, e: impl std::fmt::Display) -> Error {
    Error::model(format!("reading the ONNX graph for the GPU: {what}"), e)
}

fn ints(node: &NodeProto, name: &str) -> Result<Option<Vec<i64>>> {
    node.get_attr_opt_vec::<i64>(name).map_err(|e| onnx_error(format!("node {:?}", node.name), e))
}

fn pair(node: &NodeProto, name: &str, default: usize) -> Result<[usize; 2]> {
    match ints(node, name)? {
        None => Ok([default; 2]),
        Some(v) if v.len() == 2 && v.iter().all(|&x| x >= 0) => Ok([v[0] as usize, v[1] as usize]),
        Some(v) => Err(unsupported(node, format!("{name} = {v:?} (2-D convolutions only)"))),
    }
}

fn unsupported(node: &NodeProto, what: impl std::fmt::Display) -> Error {
    Error::model(
        "reading the ONNX graph for the GPU",
        format!("node {:?} ({}): {what} is not supported on the GPU", node.name, node.op_type),
    )
}

fn load(onnx: &tract_onnx::Onnx, proto: &TensorProto) -> Result<Constant> {
    let t = tract_onnx::tensor::load_tensor(&*onnx.provider, proto, None)
        .map_err(|e| onnx_error(format!("tensor {:?}", proto.name), e))?;
    let shape = t.shape().to_vec();
    let ints = if t.datum_type().is_integer() {
        let v = t.cast_to::<i64>().map_err(|e| onnx_error(&proto.name, e))?;
        Some(v.to_plain_array_view::<i64>().map_err(|e| onnx_error(&proto.name, e))?.iter().copied().collect())
    } else {
        None
    };
    let f = t.cast_to::<f32>().map_err(|e| onnx_error(&proto.name, e))?;
    let values = f.to_plain_array_view::<f32>().map_err(|e| onnx_error(&proto.name, e))?.iter().copied().collect();
    Ok(Constant { shape, values, ints })
}

impl Graph {
    /// Reads an ONNX model's graph; an operator or attribute the GPU kernels do not cover is an
    /// error naming the node.
    pub fn from_onnx(bytes: &[u8]) -> Result<Graph> {
        let onnx = tract_onnx::onnx();
        let model =
            onnx.proto_model_for_read(&mut std::io::Cursor::new(bytes)).map_err(|e| onnx_error("the protobuf", e))?;
        let graph = model.graph.as_ref().ok_or_else(|| onnx_error("the model", "it has no graph"))?;
        let mut g = Graph { names: Vec::new(), constants: HashMap::new(), nodes: Vec::new(), input: 0, output: 0 };
        let mut ids: HashMap<String, usize> = HashMap::new();
        let mut id = |g: &mut Graph, name: &str| -> usize {
            *ids.entry(name.to_string()).or_insert_with(|| {
                g.names.push(name.to_string());
                g.names.len() - 1
            })
        };
        for init in &graph.initializer {
            let c = load(&onnx, init)?;
            let i = id(&mut g, &init.name);
            g.constants.insert(i, c);
        }
        let inputs: Vec<&str> = graph
            .input
            .iter()
            .map(|i| i.name.as_str())
            .filter(|n| !graph.initializer.iter().any(|t| t.name == *n))
            .collect();
        let [input] = inputs[..] else {
            return Err(onnx_error("inputs", format!("one input expected, found {inputs:?}")));
        };
        g.input = id(&mut g, input);
        let output = graph.output.first().ok_or_else(|| onnx_error("outputs", "the graph has none"))?;
        g.output = id(&mut g, &output.name);
        for node in &graph.node {
            let out = node.output.first().ok_or_else(|| unsupported(node, "a node without output"))?;
            if node.op_type == "Constant" {
                let t = node.get_attr::<&TensorProto>("value").map_err(|_| unsupported(node, "a non-tensor value"))?;
                let c = load(&onnx, t)?;
                let i = id(&mut g, out);
                g.constants.insert(i, c);
                continue;
            }
            if !node.domain.is_empty() && node.domain != "ai.onnx" {
                return Err(unsupported(node, format!("domain {:?}", node.domain)));
            }
            let op = match node.op_type.as_str() {
                "Conv" | "ConvTranspose" => {
                    let transpose = node.op_type == "ConvTranspose";
                    let auto_pad = node.get_attr_opt::<&str>("auto_pad").ok().flatten().unwrap_or("NOTSET");
                    let pads = match (auto_pad, ints(node, "pads")?) {
                        ("VALID", _) | ("NOTSET", None) => [0; 4],
                        ("NOTSET", Some(p)) if p.len() == 4 && p.iter().all(|&x| x >= 0) => {
                            [p[0] as usize, p[1] as usize, p[2] as usize, p[3] as usize]
                        }
                        (mode, p) => return Err(unsupported(node, format!("padding {mode} {p:?}"))),
                    };
                    if transpose && ints(node, "output_shape")?.is_some() {
                        return Err(unsupported(node, "output_shape"));
                    }
                    let group = node.get_attr_opt::<i64>("group").ok().flatten().unwrap_or(1);
                    Op::Conv {
                        transpose,
                        group: usize::try_from(group).map_err(|_| unsupported(node, "a negative group"))?.max(1),
                        strides: pair(node, "strides", 1)?,
                        pads,
                        dilations: pair(node, "dilations", 1)?,
                        output_padding: pair(node, "output_padding", 0)?,
                        act: Act::None,
                    }
                }
                "Relu" => Op::Act(Act::Relu),
                "HardSwish" => Op::Act(Act::HardSwish),
                "Sigmoid" => Op::Act(Act::Sigmoid),
                "HardSigmoid" => Op::Act(Act::HardSigmoid {
                    alpha: node.get_attr_opt::<f32>("alpha").ok().flatten().unwrap_or(0.2),
                    beta: node.get_attr_opt::<f32>("beta").ok().flatten().unwrap_or(0.5),
                }),
                "Add" => Op::Binary { mul: false },
                "Mul" => Op::Binary { mul: true },
                "GlobalAveragePool" => Op::AveragePool,
                "Pad" => {
                    let mode = match node.get_attr_opt::<&str>("mode").ok().flatten().unwrap_or("constant") {
                        "constant" => PadMode::Constant,
                        "edge" => PadMode::Edge,
                        "reflect" => PadMode::Reflect,
                        other => return Err(unsupported(node, format!("mode {other:?}"))),
                    };
                    let value = node.get_attr_opt::<f32>("value").ok().flatten().unwrap_or(0.0);
                    Op::Pad { mode, pads: ints(node, "pads")?, value }
                }
                "Reshape" => Op::Reshape,
                "Identity" | "Dropout" => Op::Identity,
                other => return Err(unsupported(node, format!("operator {other}"))),
            };
            let inputs = node.input.iter().filter(|n| !n.is_empty()).map(|n| id(&mut g, n)).collect();
            let output = id(&mut g, out);
            g.nodes.push(Node { name: node.name.clone(), op, inputs, output });
        }
        g.fuse_activations();
        Ok(g)
    }

    /// Folds each activation into the convolution before it when it is that convolution's only
    /// reader (and the convolution's output is not the graph's).
    fn fuse_activations(&mut self) {
        let mut readers = vec![0usize; self.names.len()];
        for n in &self.nodes {
            for &i in &n.inputs {
                readers[i] += 1;
            }
        }
        let mut i = 0;
        while i + 1 < self.nodes.len() {
            let (head, tail) = self.nodes.split_at_mut(i + 1);
            let (conv, next) = (&mut head[i], &tail[0]);
            if let (Op::Conv { act: act @ Act::None, .. }, Op::Act(a)) = (&mut conv.op, &next.op) {
                if next.inputs == [conv.output] && readers[conv.output] == 1 && conv.output != self.output {
                    *act = *a;
                    conv.output = next.output;
                    self.nodes.remove(i + 1);
                }
            }
            i += 1;
        }
    }

    /// The number of operator steps (after fusion).
    pub fn steps(&self) -> usize {
        self.nodes.len()
    }
}

/// Which shader entry point a step runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Entry {
    Conv,
    Pointwise,
    ConvTranspose,
    Unary,
    Binary,
    Pool,
    Pad,
}

/// One recorded dispatch: entry point, its uniform block, its workgroup counts.
struct Step {
    entry: Entry,
    params: [u32; 24],
    groups: (u32, u32),
}

/// Where a tensor lives in the data buffer, and its NCHW shape (batch 1).
#[derive(Debug, Clone, Copy)]
struct Place {
    offset: usize,
    shape: [usize; 3],
}

impl Place {
    fn len(&self) -> usize {
        self.shape.iter().product()
    }
}

/// Workgroups for `n` invocations of 64: (x, y), x at most 65535.
fn groups_for(n: usize) -> (u32, u32) {
    let g = n.div_ceil(64).max(1);
    let x = g.min(65535);
    (x as u32, g.div_ceil(x) as u32)
}

/// The last three of a shape, padded with ones in front; an error if the batch is not 1.
fn chw(shape: &[usize], what: &str) -> Result<[usize; 3]> {
    if shape.len() > 4 || shape.len() == 4 && shape[0] != 1 {
        return Err(onnx_error(what, format!("shape {shape:?}: batch 1, at most 4 axes")));
    }
    let mut s = [1usize; 3];
    for (d, &v) in s.iter_mut().rev().zip(shape.iter().rev()) {
        *d = v;
    }
    Ok(s)
}

fn u(v: usize, what: &str) -> Result<u32> {
    u32::try_from(v).map_err(|_| onnx_error(what, format!("{v} does not fit the shaders' 32-bit indices")))
}

/// A [`Graph`] planned for one input size on one device: buffers, uniform blocks and bind
/// groups made once; [`GpuModel::run`] records and submits a frame's work.
pub struct GpuModel {
    ctx: Arc<GpuContext>,
    data: wgpu::Buffer,
    readback: wgpu::Buffer,
    steps: Vec<(Entry, wgpu::BindGroup, (u32, u32))>,
    input: Place,
    output: Place,
}

impl std::fmt::Debug for GpuModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpuModel").field("steps", &self.steps.len()).field("output", &self.output).finish()
    }
}

impl GpuModel {
    /// Plans `graph` for an input of `shape` (`[1, C, H, W]`) on `ctx` and uploads its weights.
    pub fn new(ctx: Arc<GpuContext>, graph: &Graph, shape: [usize; 4]) -> Result<Self> {
        let mut places: HashMap<usize, Place> = HashMap::new();
        let mut words: Vec<f32> = Vec::new();
        // Constants first, in a fixed order.
        let mut consts: Vec<_> = graph.constants.iter().collect();
        consts.sort_by_key(|(i, _)| **i);
        for (&i, c) in consts {
            // Weights keep only their offset; small constants their shape too (broadcast operands).
            let shape = chw(&c.shape, &graph.names[i]).unwrap_or([c.values.len(), 1, 1]);
            places.insert(i, Place { offset: words.len(), shape });
            words.extend_from_slice(&c.values);
            // Keep each tensor 16-byte aligned.
            words.resize(words.len().next_multiple_of(4), 0.0);
        }
        let constant_words = words.len();
        let mut next = constant_words;
        let mut alloc = |shape: [usize; 3]| {
            let p = Place { offset: next, shape };
            next += p.len().next_multiple_of(4);
            p
        };
        let input = alloc(chw(&shape, "the input")?);
        places.insert(graph.input, input);
        let mut steps: Vec<Step> = Vec::new();
        for node in &graph.nodes {
            let at = |i: usize| -> Result<Place> {
                places.get(&i).copied().ok_or_else(|| {
                    onnx_error(format!("node {:?}", node.name), format!("operand {:?} is unknown", graph.names[i]))
                })
            };
            let constant = |i: usize| graph.constants.get(&i);
            let what = format!("node {:?}", node.name);
            let x = at(*node.inputs.first().ok_or_else(|| onnx_error(&what, "it has no input"))?)?;
            let (out, step) = match &node.op {
                Op::Conv { transpose, group, strides, pads, dilations, output_padding, act } => {
                    let w = node
                        .inputs
                        .get(1)
                        .and_then(|&i| constant(i))
                        .ok_or_else(|| onnx_error(&what, "the weights must be a constant of the model (4 axes)"))?;
                    let [a, b, kh, kw] = w.shape[..] else {
                        return Err(onnx_error(&what, format!("weights of shape {:?}", w.shape)));
                    };
                    let wplace = at(node.inputs[1])?;
                    let bias = match node.inputs.get(2) {
                        Some(&i) => u(at(i)?.offset, &what)?,
                        None => u32::MAX,
                    };
                    let [cin, hin, win] = x.shape;
                    let (cout, ok) = if *transpose { (b * group, a == cin) } else { (a, b * group == cin) };
                    if !ok || *group == 0 || cin % group != 0 || cout % group != 0 {
                        return Err(onnx_error(
                            &what,
                            format!("weights {:?} do not fit {cin} input channels in {group} groups", w.shape),
                        ));
                    }
                    let span = |k: usize, d: usize| d * (k.max(1) - 1) + 1;
                    let (hout, wout) = if *transpose {
                        let o = |i: usize, s: usize, k: usize, d: usize, p0: usize, p1: usize, op: usize| {
                            ((i.max(1) - 1) * s + span(k, d) + op).checked_sub(p0 + p1)
                        };
                        (
                            o(hin, strides[0], kh, dilations[0], pads[0], pads[2], output_padding[0]),
                            o(win, strides[1], kw, dilations[1], pads[1], pads[3], output_padding[1]),
                        )
                    } else {
                        let o = |i: usize, s: usize, k: usize, d: usize, p0: usize, p1: usize| {
                            (i + p0 + p1).checked_sub(span(k, d)).map(|v| v / s.max(1) + 1)
                        };
                        (
                            o(hin, strides[0], kh, dilations[0], pads[0], pads[2]),
                            o(win, strides[1], kw, dilations[1], pads[1], pads[3]),
                        )
                    };
                    let (Some(hout), Some(wout)) = (hout, wout) else {
                        return Err(onnx_error(&what, format!("kernel larger than the padded {hin}x{win} input")));
                    };
                    let out = alloc([cout, hout, wout]);
                    let (alpha, beta) = act.alpha_beta();
                    let total = out.len();
                    let p = [
                        u(x.offset, &what)?,
                        u(wplace.offset, &what)?,
                        bias,
                        u(out.offset, &what)?,
                        u(cin, &what)?,
                        u(hin, &what)?,
                        u(win, &what)?,
                        u(cout, &what)?,
                        u(hout, &what)?,
                        u(wout, &what)?,
                        u(kh, &what)?,
                        u(kw, &what)?,
                        u(strides[0].max(1), &what)?,
                        u(strides[1].max(1), &what)?,
                        u(pads[0], &what)?,
                        u(pads[1], &what)?,
                        u(dilations[0].max(1), &what)?,
                        u(dilations[1].max(1), &what)?,
                        u(*group, &what)?,
                        act.code(),
                        u(total, &what)?,
                        alpha,
                        beta,
                        0,
                    ];
                    let pointwise = !*transpose
                        && (kh, kw) == (1, 1)
                        && *group == 1
                        && strides.iter().all(|&s| s <= 1)
                        && *pads == [0; 4];
                    let (entry, invocations) = match (transpose, pointwise) {
                        (true, _) => (Entry::ConvTranspose, total),
                        (false, true) => (Entry::Pointwise, hout * wout * cout.div_ceil(4)),
                        (false, false) => (Entry::Conv, total),
                    };
                    let mut p = p;
                    p[20] = u(invocations, &what)?;
                    (out, Some(Step { entry, params: p, groups: groups_for(invocations) }))
                }
                Op::Act(act) => {
                    let out = alloc(x.shape);
                    let (alpha, beta) = act.alpha_beta();
                    let mut p = [0u32; 24];
                    p[..6].copy_from_slice(&[
                        u(x.offset, &what)?,
                        u(out.offset, &what)?,
                        u(out.len(), &what)?,
                        act.code(),
                        alpha,
                        beta,
                    ]);
                    (out, Some(Step { entry: Entry::Unary, params: p, groups: groups_for(out.len()) }))
                }
                Op::Binary { mul } => {
                    let y = at(*node.inputs.get(1).ok_or_else(|| onnx_error(&what, "one operand"))?)?;
                    let mut shape = [0usize; 3];
                    for (k, d) in shape.iter_mut().enumerate() {
                        let (p, q) = (x.shape[k], y.shape[k]);
                        *d = match (p, q) {
                            _ if p == q => p,
                            (1, q) => q,
                            (p, 1) => p,
                            _ => {
                                return Err(onnx_error(&what, format!("shapes {:?} and {:?}", x.shape, y.shape)));
                            }
                        };
                    }
                    let strides = |pl: Place| -> [usize; 3] {
                        let [_, h, w] = pl.shape;
                        let full = [h * w, w, 1];
                        std::array::from_fn(|k| if pl.shape[k] == 1 { 0 } else { full[k] })
                    };
                    let out = alloc(shape);
                    let (sx, sy) = (strides(x), strides(y));
                    let mut p = [0u32; 24];
                    let vals = [
                        x.offset,
                        y.offset,
                        out.offset,
                        usize::from(*mul),
                        shape[0],
                        shape[1],
                        shape[2],
                        out.len(),
                        sx[0],
                        sx[1],
                        sx[2],
                        0,
                        sy[0],
                        sy[1],
                        sy[2],
                        0,
                    ];
                    for (d, v) in p.iter_mut().zip(vals) {
                        *d = u(v, &what)?;
                    }
                    (out, Some(Step { entry: Entry::Binary, params: p, groups: groups_for(out.len()) }))
                }
                Op::AveragePool => {
                    let [c, h, w] = x.shape;
                    let out = alloc([c, 1, 1]);
                    let mut p = [0u32; 24];
                    p[..3].copy_from_slice(&[u(x.offset, &what)?, u(out.offset, &what)?, u(h * w, &what)?]);
                    if c > 65535 {
                        return Err(onnx_error(&what, format!("{c} channels (at most 65535)")));
                    }
                    (out, Some(Step { entry: Entry::Pool, params: p, groups: (c as u32, 1) }))
                }
                Op::Pad { mode, pads, value } => {
                    let pads = match pads {
                        Some(p) => p.clone(),
                        None => node
                            .inputs
                            .get(1)
                            .and_then(|&i| constant(i))
                            .and_then(|c| c.ints.clone())
                            .ok_or_else(|| onnx_error(&what, "the pads must be a constant of the model"))?,
                    };
                    let value = match node.inputs.get(2).map(|&i| constant(i)) {
                        Some(Some(c)) => c.values.first().copied().unwrap_or(0.0),
                        Some(None) => return Err(onnx_error(&what, "the pad value must be a constant")),
                        None => *value,
                    };
                    let rank = pads.len() / 2;
                    if pads.len() % 2 != 0 || !(1..=4).contains(&rank) || pads.iter().any(|&p| p < 0) {
                        return Err(onnx_error(&what, format!("pads {pads:?} (non-negative, up to 4 axes)")));
                    }
                    // Begins and ends of (C, H, W), ones in front for smaller ranks.
                    let mut before = [0usize; 3];
                    let mut after = [0usize; 3];
                    for k in 0..rank.min(3) {
                        before[2 - k] = pads[rank - 1 - k] as usize;
                        after[2 - k] = pads[2 * rank - 1 - k] as usize;
                    }
                    if rank == 4 && (pads[0] != 0 || pads[4] != 0) {
                        return Err(onnx_error(&what, "padding the batch axis"));
                    }
                    let shape: [usize; 3] = std::array::from_fn(|k| x.shape[k] + before[k] + after[k]);
                    if *mode != PadMode::Constant && x.len() == 0 {
                        return Err(onnx_error(&what, "edge or reflect padding of an empty tensor"));
                    }
                    let out = alloc(shape);
                    let code = match mode {
                        PadMode::Constant => 0,
                        PadMode::Edge => 1,
                        PadMode::Reflect => 2,
                    };
                    let mut p = [0u32; 24];
                    let vals = [
                        x.offset,
                        out.offset,
                        code,
                        0,
                        x.shape[0],
                        x.shape[1],
                        x.shape[2],
                        out.len(),
                        shape[0],
                        shape[1],
                        shape[2],
                        0,
                        before[0],
                        before[1],
                        before[2],
                        0,
                    ];
                    for (d, v) in p.iter_mut().zip(vals) {
                        *d = u(v, &what)?;
                    }
                    p[3] = value.to_bits();
                    (out, Some(Step { entry: Entry::Pad, params: p, groups: groups_for(out.len()) }))
                }
                Op::Reshape => {
                    let target = node
                        .inputs
                        .get(1)
                        .and_then(|&i| constant(i))
                        .and_then(|c| c.ints.clone())
                        .ok_or_else(|| onnx_error(&what, "the shape must be a constant of the model"))?;
                    let full = [1, x.shape[0], x.shape[1], x.shape[2]];
                    let mut dims: Vec<usize> = Vec::new();
                    for (k, &d) in target.iter().enumerate() {
                        dims.push(match d {
                            0 => *full.get(k + 4 - target.len().max(4)).unwrap_or(&1),
                            -1 => 0,
                            d if d > 0 => d as usize,
                            _ => return Err(onnx_error(&what, format!("shape {target:?}"))),
                        });
                    }
                    let known: usize = dims.iter().filter(|&&d| d != 0).product();
                    if let Some(free) = dims.iter_mut().find(|d| **d == 0) {
                        *free = x.len().checked_div(known).unwrap_or(0);
                    }
                    let shape = chw(&dims, &what)?;
                    if shape.iter().product::<usize>() != x.len() {
                        return Err(onnx_error(&what, format!("reshaping {:?} to {target:?}", x.shape)));
                    }
                    (Place { offset: x.offset, shape }, None)
                }
                Op::Identity => (x, None),
            };
            places.insert(node.output, out);
            if let Some(step) = step {
                steps.push(step);
            }
        }
        let output = *places
            .get(&graph.output)
            .ok_or_else(|| onnx_error("the output", format!("{:?} is never computed", graph.names[graph.output])))?;
        let bytes = (next.max(4) * 4) as u64;
        let limits = ctx.device.limits();
        if bytes > limits.max_storage_buffer_binding_size || bytes > limits.max_buffer_size {
            return Err(gpu_error(
                "planning the model",
                format!("{bytes} bytes of tensors exceed the adapter's storage buffer limit"),
            ));
        }
        Self::build(ctx, steps, &words[..constant_words], bytes, input, output)
    }

    fn build(
        ctx: Arc<GpuContext>,
        steps: Vec<Step>,
        constants: &[f32],
        bytes: u64,
        input: Place,
        output: Place,
    ) -> Result<Self> {
        let device = &ctx.device;
        let data = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("bokeh model tensors"),
            size: bytes,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        if !constants.is_empty() {
            ctx.queue.write_buffer(&data, 0, bytemuck::cast_slice(constants));
        }
        let readback = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("bokeh model output"),
            size: ((output.len() * 4) as u64).max(16).next_multiple_of(wgpu::COPY_BUFFER_ALIGNMENT),
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let stride = (device.limits().min_uniform_buffer_offset_alignment as u64).max(96);
        let stride = stride.next_multiple_of(16);
        let params = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("bokeh model steps"),
            size: (stride * steps.len().max(1) as u64),
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut block = vec![0u8; (stride as usize) * steps.len()];
        for (k, s) in steps.iter().enumerate() {
            let at = k * stride as usize;
            block[at..at + 96].copy_from_slice(bytemuck::cast_slice(&s.params));
        }
        if !block.is_empty() {
            ctx.queue.write_buffer(&params, 0, &block);
        }
        let mut made = Vec::with_capacity(steps.len());
        for (k, s) in steps.iter().enumerate() {
            let pipeline = ctx.kernels.model(s.entry);
            let group = device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: None,
                layout: &pipeline.get_bind_group_layout(0),
                entries: &[
                    wgpu::BindGroupEntry {
                        binding: 0,
                        resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                            buffer: &params,
                            offset: k as u64 * stride,
                            size: wgpu::BufferSize::new(96),
                        }),
                    },
                    wgpu::BindGroupEntry { binding: 1, resource: data.as_entire_binding() },
                ],
            });
            made.push((s.entry, group, s.groups));
        }
        ctx.check("planning the model")?;
        Ok(GpuModel { ctx, data, readback, steps: made, input, output })
    }

    /// The input's element count (C·H·W).
    pub fn input_len(&self) -> usize {
        self.input.len()
    }

    /// The output's element count.
    pub fn output_len(&self) -> usize {
        self.output.len()
    }

    /// The bytes of the tensor buffer on the GPU (weights and every activation).
    pub fn tensor_bytes(&self) -> u64 {
        self.data.size()
    }

    /// The number of dispatches a frame records.
    pub fn steps(&self) -> usize {
        self.steps.len()
    }

    /// Runs the model on `input` (NCHW, [`GpuModel::input_len`] values) and writes its output
    /// into `out` (resized), waiting for the GPU.
    pub fn run(&self, input: &[f32], out: &mut Vec<f32>) -> Result<()> {
        if input.len() != self.input.len() {
            return Err(gpu_error(
                "running the model",
                format!("input of {} values; the plan takes {}", input.len(), self.input.len()),
            ));
        }
        self.ctx.queue.write_buffer(&self.data, (self.input.offset * 4) as u64, bytemuck::cast_slice(input));
        self.run_on_device(None, out)
    }

    /// Like [`GpuModel::run`] with the input already on the GPU, in the first
    /// [`GpuModel::input_len`] floats of `input` (e.g. from
    /// [`GpuPixels::preprocess_on_device`](super::GpuPixels::preprocess_on_device)): copied on the
    /// device, in the same submission as the model; only the output comes back.
    pub fn run_from(&self, input: &wgpu::Buffer, out: &mut Vec<f32>) -> Result<()> {
        let len = (self.input.len() * 4) as u64;
        if input.size() < len {
            return Err(gpu_error(
                "running the model",
                format!("input buffer of {} bytes; the plan takes {len}", input.size()),
            ));
        }
        self.run_on_device(Some(input), out)
    }

    fn run_on_device(&self, input: Option<&wgpu::Buffer>, out: &mut Vec<f32>) -> Result<()> {
        let mut encoder = self.ctx.device.create_command_encoder(&Default::default());
        if let Some(src) = input {
            let len = (self.input.len() * 4) as u64;
            encoder.copy_buffer_to_buffer(src, 0, &self.data, (self.input.offset * 4) as u64, len);
        }
        self.record(&mut encoder);
        let len = ((self.output.len() * 4) as u64).next_multiple_of(wgpu::COPY_BUFFER_ALIGNMENT);
        encoder.copy_buffer_to_buffer(&self.data, (self.output.offset * 4) as u64, &self.readback, 0, len);
        self.ctx.queue.submit([encoder.finish()]);
        let slice = self.readback.slice(..len);
        let (tx, rx) = std::sync::mpsc::channel();
        slice.map_async(wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
        let context = "reading the model's output back";
        self.ctx.wait(context)?;
        rx.recv().map_err(|e| gpu_error(context, e))?.map_err(|e| gpu_error(context, e))?;
        {
            let view = slice.get_mapped_range().map_err(|e| gpu_error(context, e))?;
            let values: &[f32] = bytemuck::cast_slice(&view[..self.output.len() * 4]);
            out.clear();
            out.extend_from_slice(values);
        }
        self.readback.unmap();
        Ok(())
    }

    /// Records every step in one compute pass: wgpu puts a barrier between dispatches that
    /// write the same buffer (each dispatch is its own usage scope), so each step sees the last
    /// one's output.
    fn record(&self, encoder: &mut wgpu::CommandEncoder) {
        let mut pass = encoder.begin_compute_pass(&Default::default());
        for (entry, group, (x, y)) in &self.steps {
            pass.set_pipeline(self.ctx.kernels.model(*entry));
            pass.set_bind_group(0, group, &[]);
            pass.dispatch_workgroups(*x, *y, 1);
        }
    }
}
