#!/usr/bin/env python3
"""Convert an ncnn model (.param + .bin) into an ONNX model.

    python tools/ncnn2onnx.py MODEL.param MODEL.bin OUT.onnx [--prelu FORM]

Covers the layers the Real-ESRGAN (SRVGGNetCompact, RRDBNet), RealSR
(RRDBNet) and SPAN ncnn models use: Input, Split, Convolution (with fused
activation), PReLU, ReLU (leaky), Sigmoid, Swish, PixelShuffle, Interp,
BinaryOp (two blobs, scalar, or a MemoryData constant broadcast the way ncnn
does), Eltwise, Concat and MemoryData. Anything else, or a .bin that is not
consumed exactly, is an error: a silently wrong model is worse than none.

The ONNX graph takes `input` (float32 NCHW [N,C,H,W], N/H/W symbolic) and
returns `output`, whatever the ncnn blobs are called (the Input layer's blob
and the one blob no layer reads). ncnn blobs are CHW without a batch axis, so
ncnn channel axis 0 becomes ONNX axis 1.
"""

import argparse
import struct
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17

# ncnn's ModelBin tags the start of every "type 0" weight blob.
TAG_FP16 = 0x01306B47
TAG_FP32 = 0x0002C056
TAG_INT8 = 0x000D4B38

# PReLU graph forms; see Converter.prelu() for what each one emits. "dwconv"
# was the fastest in ONNX Runtime 1.31 CPU (animev3-x4, 128x128, 2 threads:
# dwconv 44 ms, relu 50 ms, maxmin 50 ms, prelu 61 ms).
PRELU_FORMS = ("prelu", "maxmin", "relu", "dwconv")
DEFAULT_PRELU = "dwconv"


class ConversionError(Exception):
    pass


def parse_value(text):
    """ncnn writes ints bare and floats with a '.' or an exponent."""
    if any(c in text for c in ".eE"):
        return float(text)
    return int(text)


def parse_param(path):
    """Return [(type, name, inputs, outputs, params)], one per layer.

    params maps the integer id to a scalar or, for array params (written
    as `-233xx=n,v1,...,vn`), to a list.
    """
    with open(path, "r", encoding="ascii") as f:
        tokens_per_line = [ln.split() for ln in f if ln.strip()]
    if not tokens_per_line or tokens_per_line[0] != ["7767517"]:
        raise ConversionError(f"{path}: not an ncnn param file (magic 7767517 missing)")
    n_layers, _n_blobs = map(int, tokens_per_line[1])
    layers = []
    for tok in tokens_per_line[2:]:
        ltype, name, n_in, n_out = tok[0], tok[1], int(tok[2]), int(tok[3])
        inputs = tok[4:4 + n_in]
        outputs = tok[4 + n_in:4 + n_in + n_out]
        params = {}
        for kv in tok[4 + n_in + n_out:]:
            key, val = kv.split("=", 1)
            key = int(key)
            if key <= -23300:
                values = [parse_value(v) for v in val.split(",")]
                if values[0] != len(values) - 1:
                    raise ConversionError(f"layer {name}: bad array param {kv}")
                params[-key - 23300] = values[1:]
            else:
                params[key] = parse_value(val)
        layers.append((ltype, name, inputs, outputs, params))
    if len(layers) != n_layers:
        raise ConversionError(f"{path}: header says {n_layers} layers, found {len(layers)}")
    return layers


class WeightReader:
    """Reads the .bin in the order ncnn's layers load it."""

    def __init__(self, path):
        with open(path, "rb") as f:
            self.data = f.read()
        self.pos = 0

    def _take(self, nbytes, what):
        if self.pos + nbytes > len(self.data):
            raise ConversionError(f"{what}: .bin ends at {len(self.data)}, need {self.pos + nbytes}")
        chunk = self.data[self.pos:self.pos + nbytes]
        self.pos += nbytes
        return chunk

    def tagged(self, count, what):
        """A type-0 blob: 4-byte tag, then data padded to 4 bytes.

        fp16 data is returned as float16 so it can be stored unchanged.
        """
        (tag,) = struct.unpack("<I", self._take(4, what))
        if tag == TAG_FP16:
            raw = self._take((count * 2 + 3) // 4 * 4, what)
            return np.frombuffer(raw[:count * 2], dtype="<f2").astype(np.float16)
        if tag in (0, TAG_FP32):
            return np.frombuffer(self._take(count * 4, what), dtype="<f4").astype(np.float32)
        if tag == TAG_INT8:
            raise ConversionError(f"{what}: int8-quantized weights are not supported")
        raise ConversionError(f"{what}: unknown weight tag 0x{tag:08x} (quantization tables not supported)")

    def raw_f32(self, count, what):
        """A type-1 blob (biases, slopes): raw fp32, no tag."""
        return np.frombuffer(self._take(count * 4, what), dtype="<f4").astype(np.float32)

    def blob(self, count, load_type, what):
        """ModelBin::load(..., type): 0 is tagged, 1 is raw fp32."""
        if load_type == 0:
            return self.tagged(count, what)
        if load_type == 1:
            return self.raw_f32(count, what)
        raise ConversionError(f"{what}: unknown load type {load_type}")

    def finish(self):
        if self.pos != len(self.data):
            raise ConversionError(f".bin has {len(self.data) - self.pos} unread bytes "
                                  f"(read {self.pos} of {len(self.data)})")


class Converter:
    def __init__(self, layers, weights, prelu_form):
        self.layers = layers
        self.w = weights
        self.prelu_form = prelu_form
        self.nodes = []
        self.inits = []
        self.alias = {}      # ncnn blob -> ONNX tensor name
        self.channels = {}   # ONNX tensor name -> channel count (for output shape)
        self.scale = {}      # ONNX tensor name -> spatial scale vs. the input
        self.parent = {}     # ONNX tensor -> the tensor of the same shape it was computed from
        self.consts = {}     # ncnn blob -> MemoryData array, in ncnn's (c, h, w) / (h, w) / (w,) order
        self.input_channels = None
        self.input_blob = None
        self.output_blob = self._find_output(layers)

    @staticmethod
    def _find_output(layers):
        produced, consumed = [], set()
        for _, _, ins, outs, _ in layers:
            consumed.update(ins)
            produced.extend(outs)
        dangling = [b for b in produced if b not in consumed]
        if len(dangling) != 1:
            raise ConversionError(f"expected one graph output, found {dangling}")
        return dangling[0]

    # -- helpers -----------------------------------------------------------

    def src(self, blob):
        if blob in self.consts:
            raise ConversionError(f"MemoryData blob {blob} is read by a layer other than BinaryOp")
        if blob not in self.alias:
            raise ConversionError(f"blob {blob} is read before any layer writes it")
        return self.alias[blob]

    def dst(self, blob, channels, scale, parent=None):
        """The ONNX tensor for an ncnn output blob. `parent` names the tensor
        it was computed from element by element (same shape), so a channel
        count found later (at the next Convolution) can be carried back up to
        the input."""
        if blob == self.output_blob:
            name = "output"
        elif blob in ("input", "output"):
            name = "blob_" + blob  # keep the graph's own names for its input and output
        else:
            name = blob
        self.alias[blob] = name
        self.channels[name] = channels
        self.scale[name] = scale
        if parent is not None:
            self.parent[name] = parent
        return name

    def learn_channels(self, tensor, c, who):
        """Record that `tensor` has `c` channels, and so has every tensor it
        was computed from element by element, up to the graph input."""
        while tensor is not None:
            known = self.channels.get(tensor)
            if known is not None and known != c:
                raise ConversionError(f"layer {who}: expects {c} channels, {tensor} has {known}")
            self.channels[tensor] = c
            if tensor == "input":
                self.input_channels = c
            tensor = self.parent.get(tensor)

    def const(self, name, array):
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def node(self, op, inputs, outputs, name, **attrs):
        self.nodes.append(helper.make_node(op, inputs, outputs, name=name, **attrs))

    def float_weight(self, name, array):
        """fp16 weights stay fp16 in the file (half the size, same values);
        a Cast turns them into the float tensor Conv needs. ORT folds the
        Cast away when the session is created."""
        if array.dtype == np.float16:
            self.const(name + "_fp16", array)
            self.node("Cast", [name + "_fp16"], [name], name + "_cast", to=TensorProto.FLOAT)
            return name
        return self.const(name, array)

    # -- layers ------------------------------------------------------------

    def convert(self):
        for ltype, name, ins, outs, p in self.layers:
            handler = getattr(self, "layer_" + ltype, None)
            if handler is None:
                raise ConversionError(f"layer {name}: unsupported type {ltype}")
            handler(name, ins, outs, p)
        self.w.finish()
        return self.build()

    def layer_Input(self, name, ins, outs, p):
        if self.input_blob is not None:
            raise ConversionError("more than one Input layer")
        self.input_blob = outs[0]
        self.alias[outs[0]] = "input"
        self.scale["input"] = 1
        if p.get(2, 0) > 0:
            self.input_channels = self.channels["input"] = p[2]

    def layer_Split(self, name, ins, outs, p):
        # A Split only fans a blob out; ONNX tensors can have many readers.
        if ins[0] in self.consts:
            for o in outs:
                self.consts[o] = self.consts[ins[0]]
            return
        src = self.src(ins[0])
        for o in outs:
            if o == self.output_blob:
                self.node("Identity", [src], [self.dst(o, self.channels.get(src), self.scale[src])], name)
            else:
                self.alias[o] = src

    def layer_Convolution(self, name, ins, outs, p):
        out_c = p.get(0, 0)
        kw = p.get(1, 0)
        kh = p.get(11, kw)
        dw, dh = p.get(2, 1), p.get(12, p.get(2, 1))
        sw, sh = p.get(3, 1), p.get(13, p.get(3, 1))
        pl = p.get(4, 0)
        pt, pr = p.get(14, pl), p.get(15, pl)
        pb = p.get(16, p.get(14, pl))
        bias_term = p.get(5, 0)
        wsize = p.get(6, 0)
        act, act_params = p.get(9, 0), p.get(10, [])
        if min(pl, pt, pr, pb) < 0:
            raise ConversionError(f"layer {name}: SAME-style padding ({pl}) not supported")
        if p.get(8, 0) or p.get(19, 0) or p.get(18, 0.0) != 0.0:
            raise ConversionError(f"layer {name}: int8 / dynamic weight / pad value not supported")
        if wsize % (out_c * kh * kw):
            raise ConversionError(f"layer {name}: weight size {wsize} does not divide by {out_c}x{kh}x{kw}")
        in_c = wsize // (out_c * kh * kw)
        src = self.src(ins[0])
        self.learn_channels(src, in_c, name)

        w = self.w.tagged(wsize, name + " weights").reshape(out_c, in_c, kh, kw)  # OIHW
        conv_in = [src, self.float_weight(name + "_W", w)]
        if bias_term:
            conv_in.append(self.const(name + "_B", self.w.raw_f32(out_c, name + " bias")))

        out = self.dst(outs[0], out_c, self.scale[src] / max(sw, sh))
        conv_out = out if act == 0 else name + "_conv"
        self.node("Conv", conv_in, [conv_out], name, kernel_shape=[kh, kw],
                  pads=[pt, pl, pb, pr], strides=[sh, sw], dilations=[dh, dw])
        if act == 1:
            self.node("Relu", [conv_out], [out], name + "_relu")
        elif act == 2:
            slope = float(act_params[0]) if act_params else 0.0
            self.node("LeakyRelu", [conv_out], [out], name + "_lrelu", alpha=slope)
        elif act == 3:
            lo = self.const(name + "_min", np.array(act_params[0], np.float32))
            hi = self.const(name + "_max", np.array(act_params[1], np.float32))
            self.node("Clip", [conv_out, lo, hi], [out], name + "_clip")
        elif act == 4:
            self.node("Sigmoid", [conv_out], [out], name + "_sigmoid")
        elif act != 0:
            raise ConversionError(f"layer {name}: activation type {act} not supported")

    def layer_PReLU(self, name, ins, outs, p):
        n = p.get(0, 0)
        slope = self.w.raw_f32(n, name + " slope")
        src = self.src(ins[0])
        c = self.channels.get(src, n)
        if n == 1:
            slope = np.full(c, slope[0], np.float32)
        elif n != c:
            raise ConversionError(f"layer {name}: {n} slopes for {c} channels")
        self.prelu(name, src, self.dst(outs[0], c, self.scale[src], parent=src), slope)

    def layer_ReLU(self, name, ins, outs, p):
        slope = float(p.get(0, 0.0))
        src = self.src(ins[0])
        out = self.dst(outs[0], self.channels.get(src), self.scale[src], parent=src)
        if slope == 0.0:
            self.node("Relu", [src], [out], name)
        else:
            self.node("LeakyRelu", [src], [out], name, alpha=slope)

    def layer_Sigmoid(self, name, ins, outs, p):
        src = self.src(ins[0])
        self.node("Sigmoid", [src], [self.dst(outs[0], self.channels.get(src), self.scale[src], parent=src)],
                  name)

    def layer_Swish(self, name, ins, outs, p):
        # ncnn: x / (1 + exp(-x)); opset 17 has no Swish, so x * Sigmoid(x).
        src = self.src(ins[0])
        out = self.dst(outs[0], self.channels.get(src), self.scale[src], parent=src)
        self.node("Sigmoid", [src], [name + "_sigmoid"], name + "_sigmoid")
        self.node("Mul", [src, name + "_sigmoid"], [out], name)

    def layer_MemoryData(self, name, ins, outs, p):
        """A constant blob. ncnn reads it with ModelBin::load(w[, h[, c]], type)
        (src/layer/memorydata.cpp): w*h*c values, channel by channel, raw fp32
        unless `21=` says otherwise. It becomes an initializer only where a
        BinaryOp reads it, shaped the way ncnn broadcasts it there."""
        w, h, c, d = p.get(0, 0), p.get(1, 0), p.get(2, 0), p.get(11, 0)
        if d:
            raise ConversionError(f"layer {name}: 4-D MemoryData not supported")
        if c:
            shape = (c, h, w)
        elif h:
            shape = (h, w)
        elif w:
            shape = (w,)
        else:
            raise ConversionError(f"layer {name}: MemoryData without a size (ncnn leaves it uninitialised)")
        if min(shape) <= 0:
            raise ConversionError(f"layer {name}: bad MemoryData size w={w} h={h} c={c}")
        data = self.w.blob(int(np.prod(shape)), p.get(21, 1), name + " data")
        self.consts[outs[0]] = data.astype(np.float32).reshape(shape)

    def broadcast_const(self, name, blob, feature):
        """The initializer for MemoryData `blob` as a BinaryOp operand next to
        the CHW feature map `feature`, following ncnn's broadcasting rules
        (src/layer/binaryop.cpp): a 1-D blob of one value is a scalar; a
        [c,1,1] blob, or a 1-D blob of c values, is one value per channel of
        a c-channel feature map. A constant with a spatial extent would tie
        the model to one input size: refused."""
        arr = self.consts[blob]
        if arr.shape == (1,):
            return self.const(f"{name}_{blob}", arr.reshape(()))
        if (arr.ndim == 3 and arr.shape[1:] == (1, 1)) or arr.ndim == 1:
            c = arr.shape[0]
            self.learn_channels(feature, c, name)
            return self.const(f"{name}_{blob}", arr.reshape(1, c, 1, 1))
        raise ConversionError(f"layer {name}: constant of shape {arr.shape} (c,h,w) would fix the input size")

    def prelu(self, name, x, out, slope):
        """Emit PReLU in the chosen form. All are exact up to float rounding.

        prelu:  PRelu(x, slope[C,1,1]) -- the plain op. ORT's CPU NCHWc
                layout has no PRelu, so it reorders to NCHW and back around
                every one.
        maxmin: Max(x,0) + slope*Min(x,0).
        relu:   Relu(x) - slope*Relu(-x).
        dwconv: slope*x + (1-slope)*Relu(x), with both per-channel products
                as 1x1 depthwise convolutions, so everything stays in ORT's
                NCHWc layout and the Add fuses into a conv. When every
                slope <= 1, (1-s)*Relu(x) == Relu((1-s)*x) and the Relu
                fuses into the conv as well.
        """
        c = slope.size
        form = self.prelu_form
        if form == "prelu":
            s = self.const(name + "_slope", slope.reshape(c, 1, 1))
            self.node("PRelu", [x, s], [out], name)
        elif form == "maxmin":
            zero = self.const(name + "_zero", np.array(0, np.float32))
            s = self.const(name + "_slope", slope.reshape(c, 1, 1))
            self.node("Max", [x, zero], [name + "_pos"], name + "_max")
            self.node("Min", [x, zero], [name + "_neg"], name + "_min")
            self.node("Mul", [name + "_neg", s], [name + "_negs"], name + "_mul")
            self.node("Add", [name + "_pos", name + "_negs"], [out], name + "_add")
        elif form == "relu":
            s = self.const(name + "_slope", slope.reshape(c, 1, 1))
            self.node("Relu", [x], [name + "_pos"], name + "_relu_pos")
            self.node("Neg", [x], [name + "_negx"], name + "_negate")
            self.node("Relu", [name + "_negx"], [name + "_neg"], name + "_relu_neg")
            self.node("Mul", [name + "_neg", s], [name + "_negs"], name + "_mul")
            self.node("Sub", [name + "_pos", name + "_negs"], [out], name + "_sub")
        elif form == "dwconv":
            dw = dict(kernel_shape=[1, 1], group=c)
            ws = self.const(name + "_s", slope.reshape(c, 1, 1, 1))
            w1 = self.const(name + "_1ms", (1 - slope).reshape(c, 1, 1, 1))
            if np.all(slope <= 1):
                self.node("Conv", [x, w1], [name + "_lin"], name + "_conv_pos", **dw)
                self.node("Relu", [name + "_lin"], [name + "_pos"], name + "_relu")
            else:
                self.node("Relu", [x], [name + "_relu"], name + "_relu")
                self.node("Conv", [name + "_relu", w1], [name + "_pos"], name + "_conv_pos", **dw)
            self.node("Conv", [x, ws], [name + "_neg"], name + "_conv_neg", **dw)
            self.node("Add", [name + "_neg", name + "_pos"], [out], name + "_add")
        else:
            raise ConversionError(f"unknown PReLU form {form}")

    def layer_PixelShuffle(self, name, ins, outs, p):
        r, mode = p.get(0, 1), p.get(1, 0)
        src = self.src(ins[0])
        c = self.channels[src] // (r * r) if src in self.channels else None
        # mode 0 is PyTorch's pixel_shuffle (channel, then block offsets).
        self.node("DepthToSpace", [src], [self.dst(outs[0], c, self.scale[src] * r)], name,
                  blocksize=r, mode="CRD" if mode == 0 else "DCR")

    def layer_Interp(self, name, ins, outs, p):
        rtype = p.get(0, 0)
        hs, ws = float(p.get(1, 1.0)), float(p.get(2, 1.0))
        if p.get(3, 0) or p.get(4, 0) or p.get(5, 0):
            raise ConversionError(f"layer {name}: fixed/dynamic output size not supported")
        align = p.get(6, 0)
        src = self.src(ins[0])
        if hs != ws:
            raise ConversionError(f"layer {name}: anisotropic scale not supported")
        if rtype == 1:
            # ncnn nearest: src = floor(dst / scale)
            attrs = dict(mode="nearest", coordinate_transformation_mode="asymmetric",
                         nearest_mode="floor")
        elif rtype == 2:
            attrs = dict(mode="linear",
                         coordinate_transformation_mode="align_corners" if align else "half_pixel")
        elif rtype == 3 and hs == 0.5 and not align and src in self.channels:
            self.halve_bicubic(name, src, outs[0])
            return
        elif rtype == 3:
            # ncnn bicubic: Keys a=-0.75, border samples clamped, no antialias.
            attrs = dict(mode="cubic", cubic_coeff_a=-0.75, exclude_outside=0,
                         coordinate_transformation_mode="align_corners" if align else "half_pixel")
        else:
            raise ConversionError(f"layer {name}: resize type {rtype} not supported")
        scales = self.const(name + "_scales", np.array([1, 1, hs, ws], np.float32))
        out = self.dst(outs[0], self.channels.get(src), self.scale[src] * hs)
        self.node("Resize", [src, "", scales], [out], name, **attrs)

    def halve_bicubic(self, name, src, out_blob):
        """A bicubic ×0.5 (Keys a=-0.75, half-pixel centres, borders clamped) as
        an edge Pad and a stride-2 depthwise 4×4 Conv.

        Output pixel i samples input 2i+0.5, so its taps are 2i-1..2i+2 at
        distances 1.5, 0.5, 0.5, 1.5, with weights -0.09375, 0.59375, 0.59375,
        -0.09375; clamping the outermost taps is padding by one edge pixel.
        Same values as ONNX Resize, but ORT's generic cubic Resize over the ×4
        image cost about a third of the whole x2 model; this costs a few %.
        """
        c = self.channels[src]
        taps = np.array([-0.09375, 0.59375, 0.59375, -0.09375], np.float32)
        kernel = np.outer(taps, taps).astype(np.float32)
        weights = self.const(name + "_w", np.tile(kernel, (c, 1, 1, 1)))
        pads = self.const(name + "_pads", np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64))
        self.node("Pad", [src, pads], [name + "_padded"], name + "_pad", mode="edge")
        out = self.dst(out_blob, c, self.scale[src] * 0.5)
        self.node("Conv", [name + "_padded", weights], [out], name, kernel_shape=[4, 4],
                  strides=[2, 2], group=c)

    BINARY_OPS = {0: "Add", 1: "Sub", 2: "Mul", 3: "Div", 4: "Max", 5: "Min", 6: "Pow",
                  7: "Sub", 8: "Div"}  # 7/8 are reversed Sub/Div

    def layer_BinaryOp(self, name, ins, outs, p):
        op = p.get(0, 0)
        if op not in self.BINARY_OPS:
            raise ConversionError(f"layer {name}: BinaryOp type {op} not supported")
        if p.get(1, 0):
            if len(ins) != 1:
                raise ConversionError(f"layer {name}: scalar BinaryOp with {len(ins)} inputs")
            a = self.src(ins[0])
            b = self.const(name + "_b", np.array(p.get(2, 0.0), np.float32))
            ref = a
        else:
            if len(ins) != 2:
                raise ConversionError(f"layer {name}: BinaryOp with {len(ins)} inputs")
            const = [blob in self.consts for blob in ins]
            if all(const):
                raise ConversionError(f"layer {name}: BinaryOp of two constants not supported")
            if const[0]:
                b = self.src(ins[1])
                a, ref = self.broadcast_const(name, ins[0], b), b
            elif const[1]:
                a = self.src(ins[0])
                b, ref = self.broadcast_const(name, ins[1], a), a
            else:
                # Two feature maps: ONNX's numpy broadcasting covers ncnn's
                # [c,1,1]-against-[c,h,w] cases; equal shapes are the rule here.
                a, b = self.src(ins[0]), self.src(ins[1])
                ref = a
        if op in (7, 8):
            a, b = b, a
        self.node(self.BINARY_OPS[op], [a, b],
                  [self.dst(outs[0], self.channels.get(ref), self.scale[ref], parent=ref)], name)

    def layer_Eltwise(self, name, ins, outs, p):
        op, coeffs = p.get(0, 1), p.get(1, [])
        srcs = [self.src(b) for b in ins]
        out = self.dst(outs[0], self.channels.get(srcs[0]), self.scale[srcs[0]], parent=srcs[0])
        if op in (0, 2):
            self._fold(name, "Mul" if op == 0 else "Max", srcs, out)
            return
        if op != 1:
            raise ConversionError(f"layer {name}: Eltwise type {op} not supported")
        terms = []
        for i, s in enumerate(srcs):
            k = float(coeffs[i]) if coeffs else 1.0
            if k == 1.0:
                terms.append(s)
            else:
                kc = self.const(f"{name}_k{i}", np.array(k, np.float32))
                self.node("Mul", [s, kc], [f"{name}_t{i}"], f"{name}_mul{i}")
                terms.append(f"{name}_t{i}")
        # Add (not Sum): ORT can fuse a two-input Add into the preceding Conv.
        self._fold(name, "Add", terms, out)

    def _fold(self, name, op, terms, out):
        acc = terms[0]
        for i, t in enumerate(terms[1:], 1):
            dst = out if i == len(terms) - 1 else f"{name}_acc{i}"
            self.node(op, [acc, t], [dst], name if dst == out else f"{name}_{i}")
            acc = dst

    def layer_Concat(self, name, ins, outs, p):
        axis = p.get(0, 0)
        if axis < 0:
            axis += 3  # ncnn blobs here are CHW
        if axis != 0:
            raise ConversionError(f"layer {name}: only channel concat is supported")
        srcs = [self.src(b) for b in ins]
        cs = [self.channels.get(s) for s in srcs]
        c = None if None in cs else sum(cs)
        self.node("Concat", srcs, [self.dst(outs[0], c, self.scale[srcs[0]])], name, axis=1)

    # -- graph -------------------------------------------------------------

    def build(self):
        if self.input_channels is None:
            raise ConversionError("cannot infer input channels: no Convolution reads the input")

        def dim(scale, base):
            if scale == 1:
                return base
            if float(scale).is_integer():
                return f"{base}*{int(scale)}"
            return f"{base}_out"

        s = self.scale["output"]
        inp = helper.make_tensor_value_info("input", TensorProto.FLOAT,
                                            ["N", self.input_channels, "H", "W"])
        out = helper.make_tensor_value_info("output", TensorProto.FLOAT,
                                            ["N", self.channels.get("output") or "C", dim(s, "H"), dim(s, "W")])
        graph = helper.make_graph(self.nodes, "ncnn2onnx", [inp], [out], self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                  producer_name="ncnn2onnx")
        model.ir_version = 8  # readable by every ORT from 1.10 on
        onnx.checker.check_model(model, full_check=True)
        return model


def convert(param_path, bin_path, prelu_form=DEFAULT_PRELU):
    layers = parse_param(param_path)
    return Converter(layers, WeightReader(bin_path), prelu_form).convert()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("param")
    ap.add_argument("bin")
    ap.add_argument("out")
    ap.add_argument("--prelu", choices=PRELU_FORMS, default=DEFAULT_PRELU,
                    help=f"graph form for PReLU (default {DEFAULT_PRELU})")
    args = ap.parse_args()
    try:
        model = convert(args.param, args.bin, args.prelu)
    except ConversionError as e:
        sys.exit(f"ncnn2onnx: {e}")
    onnx.save(model, args.out)
    n_params = sum(int(np.prod(t.dims)) for t in model.graph.initializer)
    print(f"{args.out}: {len(model.graph.node)} nodes, {n_params} parameters")


if __name__ == "__main__":
    main()
