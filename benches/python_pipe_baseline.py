"""The typical user script FrameForge is measured against: ffmpeg decodes to a pipe,
Python runs the ONNX model with onnxruntime frame by frame, ffmpeg encodes from a pipe.

    python benches/python_pipe_baseline.py CLIP MODEL.onnx OUT.mkv --threads 2 --scale 2
        [--cuda] [--fp16] [--preset medium]

Same model, same intra-op threads, whole frames, x264 crf 18 at `--preset` like the
FrameForge run it is compared with; `--cuda` runs the model with the CUDA execution
provider, as a user with a GPU would, and `--fp16` first converts it to float16 the way
such a user does (onnxruntime's own converter, float32 inputs and outputs kept). Prints
the wall time and frames per second.
"""

import argparse
import json
import subprocess
import sys
import time

import numpy as np
import onnxruntime as ort


def probe(clip):
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
         "stream=width,height,r_frame_rate", "-of", "json", clip],
        check=True, capture_output=True, text=True).stdout
    s = json.loads(out)["streams"][0]
    return s["width"], s["height"], s["r_frame_rate"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("clip")
    ap.add_argument("model")
    ap.add_argument("out")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--scale", type=int, default=2)
    ap.add_argument("--cuda", action="store_true")
    ap.add_argument("--fp16", action="store_true")
    ap.add_argument("--preset", default="medium")
    a = ap.parse_args()
    w, h, rate = probe(a.clip)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = a.threads
    opts.inter_op_num_threads = 1
    providers = ["CUDAExecutionProvider"] if a.cuda else ["CPUExecutionProvider"]
    model = a.model
    if a.fp16:
        import onnx
        from onnxruntime.transformers.float16 import convert_float_to_float16
        model = convert_float_to_float16(onnx.load(a.model), keep_io_types=True).SerializeToString()
    sess = ort.InferenceSession(model, opts, providers=providers)
    if sess.get_providers()[0] != providers[0]:
        sys.exit(f"{providers[0]} is not available: {sess.get_providers()}")
    name = sess.get_inputs()[0].name
    started = time.perf_counter()
    dec = subprocess.Popen(["ffmpeg", "-v", "error", "-i", a.clip, "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                           stdout=subprocess.PIPE)
    ow, oh = w * a.scale, h * a.scale
    enc = subprocess.Popen(["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{ow}x{oh}",
                            "-r", rate, "-i", "-", "-c:v", "libx264", "-crf", "18", "-preset", a.preset,
                            "-pix_fmt", "yuv420p", a.out], stdin=subprocess.PIPE)
    frames = 0
    size = w * h * 3
    while True:
        raw = dec.stdout.read(size)
        if len(raw) < size:
            break
        x = np.frombuffer(raw, np.uint8).reshape(h, w, 3).transpose(2, 0, 1)[None].astype(np.float32) / 255.0
        y = sess.run(None, {name: x})[0][0]
        out = (np.clip(y, 0, 1) * 255.0 + 0.5).astype(np.uint8).transpose(1, 2, 0)
        enc.stdin.write(out.tobytes())
        frames += 1
    enc.stdin.close()
    enc.wait()
    dec.wait()
    seconds = time.perf_counter() - started
    print(f"python pipe: {frames} frames in {seconds:.2f} s, {frames / seconds:.2f} frames/s")
    return 0 if frames else 1


if __name__ == "__main__":
    sys.exit(main())
