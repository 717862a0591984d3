"""Writes small ONNX restoration models in each convention users' downloads come in,
under fixtures/models/conventions/, for the tests of models users bring.

    .venv/bin/python tools/make_convention_models.py

Every model is a 3x3 convolution whose weights copy each input pixel into its s x s
output block (a nearest-neighbour upscale) plus a seeded random blur of up to 5 %, and
a DepthToSpace; so outputs are real pictures the tests can compare, and the variants
of one scale share their weights exactly:

- conv_x{1,2,3,8}.onnx: float32 [N,3,H,W] -> [N,3,sH,sW], everything free
- conv_x2_fp16io.onnx: conv_x2 with float16 input and output (a Cast at each end, as
  chaiNNer and OpenModelDB exports have)
- conv_x2_fp16.onnx: conv_x2 computed in float16 throughout (float16 weights)
- conv_x2_fixed64.onnx: conv_x2 exported with a static input [1,3,64,64] -> [1,3,128,128]
- conv_x2_fixed_batch2_40x48.onnx: static batch 2, height 40, width 48, free output
- conv_x2_multiple8.onnx: conv_x2 after a window partition into 8x8 blocks (a Reshape
  that only works when H and W are multiples of 8, as Swin-style models need)
- gray_x2.onnx / rgba_x2.onnx: 1- and 4-channel models
- noise_level_x1.onnx: a DPIR-style model with a second input `sigma` [N,1,H,W]
  (concatenated to the frame); noise_level_x1_sidecar.onnx is the same model with a
  sidecar giving sigma a constant value
- overflow_fp16.onnx: squares the frame in float16 with a gain of 1.8e5, which
  overflows to Inf for values above ~0.6 (the fp16 failure that shows as black frames)
- fractional_x1_5.onnx: a ×1.5 Resize (no integer scale)
- conv_x16.onnx: a ×16 model (beyond the largest scale, 8)
"""

import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = os.path.join(os.path.dirname(__file__), "..", "fixtures", "models", "conventions")
F32, F16 = TensorProto.FLOAT, TensorProto.FLOAT16


def save(nodes, inputs, outputs, inits, name, opset=17):
    graph = helper.make_graph(nodes, name.replace(".onnx", ""), inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, os.path.join(OUT, name))


def upscale_weights(channels, scale, seed):
    """Conv weights [C*s*s, C, 3, 3]: output channel c*s*s + k copies input channel c
    (DepthToSpace CRD puts it at block offset k), plus a small seeded blur."""
    rng = np.random.default_rng(seed)
    w = rng.uniform(-0.05, 0.05, (channels * scale * scale, channels, 3, 3)).astype(np.float32)
    for c in range(channels):
        for k in range(scale * scale):
            w[c * scale * scale + k, c, 1, 1] += 0.9
    return w


def conv_upscale(x, channels, scale, prefix, inits, nodes, dtype=np.float32, out="y"):
    w = upscale_weights(channels, scale, seed=channels * 100 + scale)
    inits.append(numpy_helper.from_array(w.astype(dtype), prefix + "_w"))
    if scale == 1:
        nodes.append(helper.make_node("Conv", [x, prefix + "_w"], [out], pads=[1, 1, 1, 1]))
        return
    nodes.append(helper.make_node("Conv", [x, prefix + "_w"], [prefix + "_c"], pads=[1, 1, 1, 1]))
    nodes.append(helper.make_node("DepthToSpace", [prefix + "_c"], [out], blocksize=scale, mode="CRD"))


def tensor(name, elem, dims):
    return helper.make_tensor_value_info(name, elem, dims)


def plain(scale, name=None, channels=3):
    nodes, inits = [], []
    conv_upscale("x", channels, scale, "up", inits, nodes)
    save(nodes, [tensor("x", F32, ["N", channels, "H", "W"])],
         [tensor("y", F32, ["N", channels, "H2", "W2"])], inits, name or f"conv_x{scale}.onnx")


def fp16_io():
    nodes, inits = [], []
    nodes.append(helper.make_node("Cast", ["x"], ["x32"], to=F32))
    conv_upscale("x32", 3, 2, "up", inits, nodes, out="y32")
    nodes.append(helper.make_node("Cast", ["y32"], ["y"], to=F16))
    save(nodes, [tensor("x", F16, ["N", 3, "H", "W"])], [tensor("y", F16, ["N", 3, "H2", "W2"])],
         inits, "conv_x2_fp16io.onnx")


def fp16_throughout():
    nodes, inits = [], []
    conv_upscale("x", 3, 2, "up", inits, nodes, dtype=np.float16)
    save(nodes, [tensor("x", F16, ["N", 3, "H", "W"])], [tensor("y", F16, ["N", 3, "H2", "W2"])],
         inits, "conv_x2_fp16.onnx")


def fixed(name, n, h, w, static_output):
    nodes, inits = [], []
    conv_upscale("x", 3, 2, "up", inits, nodes)
    out_dims = [n, 3, 2 * h, 2 * w] if static_output else ["N", 3, "H2", "W2"]
    save(nodes, [tensor("x", F32, [n, 3, h, w])], [tensor("y", F32, out_dims)], inits, name)


def multiple8():
    """x -> [N,C,H/8,8,W/8,8] -> back to [N,C,H,W] -> conv_x2. Integer division makes
    the first Reshape's element count wrong unless H and W are multiples of 8."""
    nodes, inits = [], []
    i64 = lambda name, values: inits.append(numpy_helper.from_array(np.array(values, np.int64), name))
    i64("eight", [8])
    i64("idx_n", [0]); i64("idx_c", [1]); i64("idx_h", [2]); i64("idx_w", [3])
    nodes.append(helper.make_node("Shape", ["x"], ["shape"]))
    for axis in "nchw":
        nodes.append(helper.make_node("Gather", ["shape", f"idx_{axis}"], [f"d_{axis}"], axis=0))
    nodes.append(helper.make_node("Div", ["d_h", "eight"], ["h8"]))
    nodes.append(helper.make_node("Div", ["d_w", "eight"], ["w8"]))
    nodes.append(helper.make_node("Concat", ["d_n", "d_c", "h8", "eight", "w8", "eight"], ["win"], axis=0))
    nodes.append(helper.make_node("Reshape", ["x", "win"], ["windows"]))
    nodes.append(helper.make_node("Reshape", ["windows", "shape"], ["joined"]))
    conv_upscale("joined", 3, 2, "up", inits, nodes)
    save(nodes, [tensor("x", F32, ["N", 3, "H", "W"])], [tensor("y", F32, ["N", 3, "H2", "W2"])],
         inits, "conv_x2_multiple8.onnx")


def noise_level(name, sidecar):
    """DPIR's convention: the noise level as a map concatenated to the frame."""
    nodes, inits = [], []
    nodes.append(helper.make_node("Concat", ["input", "sigma"], ["stacked"], axis=1))
    rng = np.random.default_rng(7)
    w = rng.uniform(-0.05, 0.05, (3, 4, 3, 3)).astype(np.float32)
    for c in range(3):
        w[c, c, 1, 1] += 0.9
    w[:, 3, 1, 1] = -0.5  # the noise level darkens: a wrong or missing value shows
    inits.append(numpy_helper.from_array(w, "w"))
    nodes.append(helper.make_node("Conv", ["stacked", "w"], ["output"], pads=[1, 1, 1, 1]))
    save(nodes, [tensor("input", F32, ["N", 3, "H", "W"]), tensor("sigma", F32, ["N", 1, "H", "W"])],
         [tensor("output", F32, ["N", 3, "H", "W"])], inits, name)
    if sidecar:
        with open(os.path.join(OUT, name.replace(".onnx", ".yaml")), "w") as f:
            f.write("# The noise level DPIR-style models take as a second input (0..1 of 255).\n"
                    "constants:\n  sigma: 0.1\n")


def overflow_fp16():
    """x*x*1.8e5 stored in float16 (ONNX Runtime's CPU computes float16 arithmetic in
    float32, so the overflow is the Cast into float16, as when activations are kept in
    float16), then scaled back."""
    nodes, inits = [], []
    inits.append(numpy_helper.from_array(np.array(1.8e5, np.float32), "gain"))
    inits.append(numpy_helper.from_array(np.array(1 / 1.8e5, np.float32), "undo"))
    nodes.append(helper.make_node("Mul", ["x", "x"], ["sq"]))
    nodes.append(helper.make_node("Mul", ["sq", "gain"], ["big"]))
    nodes.append(helper.make_node("Cast", ["big"], ["h"], to=F16))
    nodes.append(helper.make_node("Cast", ["h"], ["big32"], to=F32))
    nodes.append(helper.make_node("Mul", ["big32", "undo"], ["y"]))
    save(nodes, [tensor("x", F32, ["N", 3, "H", "W"])], [tensor("y", F32, ["N", 3, "H", "W"])],
         inits, "overflow_fp16.onnx")


def fractional():
    inits = [numpy_helper.from_array(np.array([1, 1, 1.5, 1.5], np.float32), "scales")]
    nodes = [helper.make_node("Resize", ["x", "", "scales"], ["y"], mode="linear")]
    save(nodes, [tensor("x", F32, ["N", 3, "H", "W"])], [tensor("y", F32, ["N", 3, "H2", "W2"])],
         inits, "fractional_x1_5.onnx")


def main():
    os.makedirs(OUT, exist_ok=True)
    for scale in (1, 2, 3, 8):
        plain(scale)
    plain(16, "conv_x16.onnx")
    fp16_io()
    fp16_throughout()
    fixed("conv_x2_fixed64.onnx", 1, 64, 64, static_output=True)
    fixed("conv_x2_fixed_batch2_40x48.onnx", 2, 40, 48, static_output=False)
    multiple8()
    plain(2, "gray_x2.onnx", channels=1)
    plain(2, "rgba_x2.onnx", channels=4)
    noise_level("noise_level_x1.onnx", sidecar=False)
    noise_level("noise_level_x1_sidecar.onnx", sidecar=True)
    overflow_fp16()
    fractional()


if __name__ == "__main__":
    main()
