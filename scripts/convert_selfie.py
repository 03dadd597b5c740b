#!/usr/bin/env python3
"""Convert MediaPipe's selfie segmentation TFLite models to the ONNX files in models/.

Reproduces models/selfie_segmentation{,_landscape}{,_nchw}.onnx byte for byte from the PyPI
package mediapipe==0.10.14 and checks every sha256 on the way: the wheel's .tflite files, then
the ONNX files written (three variants each: plain, `_tract` = resizes rewritten as depthwise
deconvolutions, `_nchw` = `_tract` fed NCHW; see resize_as_deconv and nchw_io). Run it through scripts/reproduce_models.sh,
which makes a virtual environment with the pinned converters (tflite==2.18.0, onnx==1.22.0).

usage: convert_selfie.py WHEEL_OR_TFLITE_DIR OUT_DIR

The conversion, op by op (TFLite runs NHWC; the ONNX graph runs NCHW inside, with one Transpose
at each end so the interface stays NHWC like MediaPipe's):
  DEQUANTIZE (fp16 weights)      -> float32 initializers (W_n, B_n)
  CONV_2D / DEPTHWISE_CONV_2D    -> Conv with explicit pads for TF "SAME" (extra pad at the end)
  HARD_SWISH                     -> x * HardSigmoid(x; alpha=1/6, beta=0.5)
  RELU, LOGISTIC, ADD, MUL       -> Relu, Sigmoid, Add, Mul
  AVERAGE_POOL_2D over all of HxW, MEAN over H,W -> GlobalAveragePool
  RESIZE_BILINEAR (half-pixel)   -> Resize(linear, half_pixel) with constant scales
  custom Convolution2DTransposeBias -> ConvTranspose(kernel 2x2, stride 2, pads 0) + bias
Tensors keep their TFLite index as their name (t<index>); initializers and helper tensors are
numbered by one counter in creation order.
"""
import hashlib
import io
import os
import sys
import zipfile

import numpy as np
import onnx
import tflite
from onnx import TensorProto, helper, numpy_helper

TFLITE_SHA256 = {
    "selfie_segmentation.tflite": "9ee168ec7c8f2a16c56fe8e1cfbc514974cbbb7e434051b455635f1bd1462f5c",
    "selfie_segmentation_landscape.tflite": "a77d03f4659b9f6b6c1f5106947bf40e99d7655094b6527f214ea7d451106edd",
}
ONNX_SHA256 = {
    "selfie_segmentation.onnx": "7f04d478e2b6013ca1a02c4033f8cebe5a76f2e0129a33e2de016e5127106aba",
    "selfie_segmentation_landscape.onnx": "30de8d7536149aaa9709f5ec78e9185615410a957c6bc0df71a20b91432c6ed8",
    "selfie_segmentation_tract.onnx": "6270050ba1960b133df3d57408a96cf54ffcd6528a8354f099d0f865e3c00a52",
    "selfie_segmentation_landscape_tract.onnx": "5d4363285245e0b40e1df78e8bb1067c7acbed2d8e49e268580845a0286a7726",
    "selfie_segmentation_landscape_nchw.onnx": "18cf9a4c26460b6d33c9eb49a77c75ba22a2f5d63688e4feeb92e38cd990a193",
    # Ours (not in the shared set); pinned when it was first committed to models/.
    "selfie_segmentation_nchw.onnx": "560de228f316edd222ae13413fe5975b5ebde5a7971c3b3dfff2a758533d445f",
}
WHEEL_DIR = "mediapipe/modules/selfie_segmentation/"

OPS = {v: k for k, v in tflite.BuiltinOperator.__dict__.items() if not k.startswith("_")}


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def same_pads(in_size, k, s, d=1):
    """TF 'SAME' padding as (begin, end): the odd pixel goes at the end."""
    out = -(-in_size // s)
    total = max((out - 1) * s + (k - 1) * d + 1 - in_size, 0)
    return total // 2, total - total // 2


class Converter:
    def __init__(self, buf, opset=13):
        self.opset = opset
        self.model = tflite.Model.GetRootAsModel(buf, 0)
        self.g = self.model.Subgraphs(0)
        self.counter = 0
        self.nodes, self.inits = [], []
        self.consts = {}  # tensor index -> float32 array (dequantized weights)

    def fresh(self, prefix):
        self.counter += 1
        return f"{prefix}_{self.counter}"

    def tensor(self, i):
        return self.g.Tensors(int(i))

    def shape(self, i):
        return [int(v) for v in self.tensor(i).ShapeAsNumpy()]

    def buffer(self, i):
        t = self.tensor(i)
        return self.model.Buffers(t.Buffer()).DataAsNumpy().tobytes()

    def init(self, prefix, arr):
        name = self.fresh(prefix)
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(arr, dtype=np.float32), name))
        return name

    def options(self, op, cls):
        o = cls()
        o.Init(op.BuiltinOptions().Bytes, op.BuiltinOptions().Pos)
        return o

    def conv(self, op, depthwise):
        x, w, b = op.InputsAsNumpy()
        out = op.OutputsAsNumpy()[0]
        opt = self.options(op, tflite.DepthwiseConv2DOptions if depthwise else tflite.Conv2DOptions)
        assert opt.FusedActivationFunction() == 0
        wt = self.consts[int(w)]  # OHWI, or 1HWC for depthwise
        _, in_h, in_w, in_c = self.shape(x)
        kh, kw = wt.shape[1], wt.shape[2]
        sh, sw = opt.StrideH(), opt.StrideW()
        dh, dw = opt.DilationHFactor(), opt.DilationWFactor()
        if opt.Padding() == tflite.Padding.SAME:
            (pt, pb), (pl, pr) = same_pads(in_h, kh, sh, dh), same_pads(in_w, kw, sw, dw)
        else:
            pt = pb = pl = pr = 0
        if depthwise:
            weight = wt.transpose(3, 0, 1, 2)  # C,1... -> [C, 1, kh, kw]
            group = in_c
        else:
            weight = wt.transpose(0, 3, 1, 2)  # OHWI -> OIHW
            group = 1
        wn = self.init("W", weight)
        bn = self.init("B", self.consts[int(b)])
        self.nodes.append(helper.make_node(
            "Conv", [f"t{x}", wn, bn], [f"t{out}"], dilations=[dh, dw], group=group,
            kernel_shape=[kh, kw], pads=[pt, pl, pb, pr], strides=[sh, sw]))

    def convert(self, name, doc):
        g = self.g
        (inp,) = g.InputsAsNumpy()
        (outp,) = g.OutputsAsNumpy()
        self.nodes.append(helper.make_node("Transpose", ["input"], [f"t{inp}"], perm=[0, 3, 1, 2]))
        for i in range(g.OperatorsLength()):
            op = g.Operators(i)
            code = self.model.OperatorCodes(op.OpcodeIndex())
            kind = OPS.get(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()))
            ins = [int(v) for v in op.InputsAsNumpy()]
            outs = [int(v) for v in op.OutputsAsNumpy()]
            t = [f"t{v}" for v in ins]
            o = f"t{outs[0]}"
            if kind == "DEQUANTIZE":
                src = self.tensor(ins[0])
                assert src.Type() == tflite.TensorType.FLOAT16
                arr = np.frombuffer(self.buffer(ins[0]), dtype=np.float16).astype(np.float32)
                self.consts[outs[0]] = arr.reshape(self.shape(ins[0]))
            elif kind == "CONV_2D":
                self.conv(op, depthwise=False)
            elif kind == "DEPTHWISE_CONV_2D":
                self.conv(op, depthwise=True)
            elif kind == "HARD_SWISH" and self.opset >= 14:
                self.nodes.append(helper.make_node("HardSwish", [t[0]], [o]))
            elif kind == "HARD_SWISH":
                h = self.fresh("hsig")
                self.nodes.append(helper.make_node("HardSigmoid", [t[0]], [h], alpha=1.0 / 6.0, beta=0.5))
                self.nodes.append(helper.make_node("Mul", [t[0], h], [o]))
            elif kind in ("RELU", "LOGISTIC", "ADD", "MUL"):
                if kind in ("ADD", "MUL"):
                    opt = self.options(op, tflite.AddOptions if kind == "ADD" else tflite.MulOptions)
                    assert opt.FusedActivationFunction() == 0
                onnx_op = {"RELU": "Relu", "LOGISTIC": "Sigmoid", "ADD": "Add", "MUL": "Mul"}[kind]
                self.nodes.append(helper.make_node(onnx_op, t, [o]))
            elif kind == "AVERAGE_POOL_2D":
                opt = self.options(op, tflite.Pool2DOptions)
                _, h, w, _ = self.shape(ins[0])
                assert (opt.FilterHeight(), opt.FilterWidth()) == (h, w), "only global pooling"
                self.nodes.append(helper.make_node("GlobalAveragePool", [t[0]], [o]))
            elif kind == "MEAN":
                opt = self.options(op, tflite.ReducerOptions)
                axes = sorted(np.frombuffer(self.buffer(ins[1]), dtype=np.int32).tolist())
                assert axes == [1, 2] and opt.KeepDims(), "only a mean over H and W"
                self.nodes.append(helper.make_node("GlobalAveragePool", [t[0]], [o]))
            elif kind == "RESIZE_BILINEAR":
                opt = self.options(op, tflite.ResizeBilinearOptions)
                assert opt.HalfPixelCenters() and not opt.AlignCorners()
                _, ih, iw, _ = self.shape(ins[0])
                _, oh, ow, _ = self.shape(outs[0])
                scales = self.init("scales", np.array([1, 1, oh / ih, ow / iw], dtype=np.float32))
                self.nodes.append(helper.make_node(
                    "Resize", [t[0], "", scales], [o], coordinate_transformation_mode="half_pixel",
                    mode="linear"))
            elif kind == "CUSTOM" and code.CustomCode() == b"Convolution2DTransposeBias":
                w = self.consts[ins[1]]  # [O, kh, kw, I]
                wn = self.init("WT", w.transpose(3, 0, 1, 2))  # -> [I, O, kh, kw]
                bn = self.init("BT", self.consts[ins[2]])
                self.nodes.append(helper.make_node(
                    "ConvTranspose", [t[0], wn, bn], [o], kernel_shape=[w.shape[1], w.shape[2]],
                    pads=[0, 0, 0, 0], strides=[2, 2]))
            else:
                raise SystemExit(f"op {i}: unsupported {kind} {code.CustomCode()}")
        self.nodes.append(helper.make_node("Transpose", [f"t{outp}"], ["mask"], perm=[0, 2, 3, 1]))
        graph = helper.make_graph(
            self.nodes, "selfie_segmentation",
            [helper.make_tensor_value_info("input", TensorProto.FLOAT, self.shape(inp))],
            [helper.make_tensor_value_info("mask", TensorProto.FLOAT, self.shape(outp))],
            initializer=self.inits)
        model = helper.make_model(graph, producer_name="tflite_selfie_to_onnx.py",
                                  opset_imports=[helper.make_opsetid("", self.opset)])
        model.ir_version = 8
        model.doc_string = doc
        return model


def resize_as_deconv(model):
    """The `_tract` variant: every 2x half-pixel bilinear Resize becomes Pad(edge, 1) and a
    depthwise ConvTranspose (kernel outer([.25,.75,.75,.25]), stride 2, pads 3), which is the
    same function (tract runs Resize slowly). New initializers go at the end."""
    g = model.graph
    inits = {i.name: i for i in g.initializer}
    channels = {}  # tensor name -> channel count, from the Conv weights producing it
    for n in g.node:
        if n.op_type == "Conv":
            channels[n.output[0]] = inits[n.input[1]].dims[0]
        elif n.op_type in ("Relu", "HardSwish", "Sigmoid") or (n.op_type in ("Add", "Mul") and n.input[0] in channels):
            channels[n.output[0]] = channels.get(n.input[0])
    k1 = np.array([0.25, 0.75, 0.75, 0.25], dtype=np.float32)
    kernel = np.outer(k1, k1)
    nodes, extra = [], []
    for n in g.node:
        if n.op_type != "Resize":
            nodes.append(n)
            continue
        x, out = n.input[0], n.output[0]
        scales = onnx.numpy_helper.to_array(inits[n.input[2]])
        assert scales.tolist() == [1, 1, 2, 2], scales
        g.initializer.remove(inits[n.input[2]])
        c = channels[x]
        pads, padded, w = f"{out}_rz_pads", f"{out}_rz_padded", f"{out}_rz_w"
        extra.append(numpy_helper.from_array(np.array([0, 0, 1, 1, 0, 0, 1, 1], dtype=np.int64), pads))
        extra.append(numpy_helper.from_array(np.tile(kernel, (c, 1, 1, 1)).reshape(c, 1, 4, 4), w))
        nodes.append(helper.make_node("Pad", [x, pads], [padded], mode="edge"))
        nodes.append(helper.make_node("ConvTranspose", [padded, w], [out], group=c, kernel_shape=[4, 4],
                                      pads=[3, 3, 3, 3], strides=[2, 2]))
    del g.node[:]
    g.node.extend(nodes)
    g.initializer.extend(extra)
    return model


def nchw_io(model):
    """The `_nchw` variant: the input is fed NCHW (the leading Transpose goes) and the trailing
    one-channel Transpose becomes a free Reshape."""
    g = model.graph
    first, last = g.node[0], g.node[-1]
    assert first.op_type == "Transpose" and last.op_type == "Transpose"
    inner_in, inner_out = first.output[0], last.input[0]
    n, h, w, c = [d.dim_value for d in g.input[0].type.tensor_type.shape.dim]
    out_dims = [d.dim_value for d in g.output[0].type.tensor_type.shape.dim]
    nodes = list(g.node)[1:-1]
    for node in nodes:
        for i, name in enumerate(node.input):
            if name == inner_in:
                node.input[i] = "input"
    nodes.append(helper.make_node("Reshape", [inner_out, "mask_shape"], ["mask"]))
    del g.node[:]
    g.node.extend(nodes)
    g.initializer.append(numpy_helper.from_array(np.array(out_dims, dtype=np.int64), "mask_shape"))
    g.input[0].CopyFrom(helper.make_tensor_value_info("input", TensorProto.FLOAT, [n, c, h, w]))
    return model


def read_tflite(src, name):
    if os.path.isdir(src):
        return open(os.path.join(src, name), "rb").read()
    with zipfile.ZipFile(src) as z:
        return z.read(WHEEL_DIR + name)


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    src, out_dir = sys.argv[1], sys.argv[2]
    os.makedirs(out_dir, exist_ok=True)
    ok = True
    for base in ["selfie_segmentation", "selfie_segmentation_landscape"]:
        tfl = base + ".tflite"
        buf = read_tflite(src, tfl)
        got = sha256(buf)
        if got != TFLITE_SHA256[tfl]:
            raise SystemExit(f"{tfl}: sha256 {got} is not the pinned {TFLITE_SHA256[tfl]}")
        print(f"{tfl}: sha256 ok ({len(buf)} bytes)")
        doc = (f"Converted from MediaPipe {tfl} (Apache-2.0). input: NHWC RGB float32 in [0,1]; "
               "output: NHWC person probability.")
        variants = {
            base + ".onnx": Converter(buf).convert(base, doc),
            base + "_tract.onnx": resize_as_deconv(Converter(buf, opset=14).convert(base, doc)),
            base + "_nchw.onnx": nchw_io(resize_as_deconv(Converter(buf, opset=14).convert(base, doc))),
        }
        for onnx_name, model in variants.items():
            onnx.checker.check_model(model)
            data = model.SerializeToString()
            path = os.path.join(out_dir, onnx_name)
            with open(path, "wb") as f:
                f.write(data)
            got = sha256(data)
            want = ONNX_SHA256.get(onnx_name)
            verdict = "(no published sha256)" if want is None else "matches" if got == want else "DIFFERS from " + want
            ok &= want is None or got == want
            print(f"{path}: sha256 {got} {verdict}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
