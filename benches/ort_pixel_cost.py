"""Cost per pixel of the restoration model in ONNX Runtime by input size and intra-op
threads: what one frame costs as a single-threaded session sees it (FrameForge's
workers, whole frames or tiles) and as one two-threaded session sees it (the typical
script). Core-microseconds per pixel = wall time x threads / pixels.

    python benches/ort_pixel_cost.py models/realesr-animevideov3-x2.onnx
"""

import sys
import time

import numpy as np
import onnxruntime as ort

SIZES = [(240, 320), (260, 340), (148, 148), (196, 196), (276, 276), (576, 720), (596, 740)]


def session(model, threads):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])


def main():
    model = sys.argv[1]
    rng = np.random.default_rng(0)
    for threads in (1, 2):
        sess = session(model, threads)
        name = sess.get_inputs()[0].name
        for h, w in SIZES:
            x = rng.random((1, 3, h, w), dtype=np.float32)
            sess.run(None, {name: x})
            reps = max(2, 600_000 // (h * w))
            start = time.perf_counter()
            for _ in range(reps):
                sess.run(None, {name: x})
            seconds = (time.perf_counter() - start) / reps
            print(f"threads {threads}  {w}x{h}: {seconds * 1000:7.1f} ms/frame, "
                  f"{seconds * threads / (h * w) * 1e6:.2f} core-us/px")


if __name__ == "__main__":
    main()
