#!/usr/bin/env python3
"""Checks the exported captioner with a plain onnxruntime loop; times it.

    check_onnx.py ONNX_DIR MODEL_DIR FIXTURE_DIR [--speed N]

Decodes every image in FIXTURE_DIR/reference.json greedily with numpy +
onnxruntime + tokenizers only (no torch, no transformers), once through
decoder_model_merged.onnx and once through the split pair
(decoder_model.onnx for the first step, decoder_with_past_model.onnx after),
and compares the token ids with the recorded generate() output. Exits 1 on
any mismatch. This loop is also the reference for a port: it shows which
tensors go in and come out at each step.

With --speed N it then times N held-out scenes at batch 1 on 2 threads:
generate() on PyTorch against the two ORT loops (captions per second,
preprocessed pixels in, token ids out).
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image
from tokenizers import Tokenizer

THREADS = 2


def session(path, spin=False):
    """An ORT session on 2 threads; it does not spin unless asked (the machine is shared,
    but ORT's default spins, which helps a tiny model's many short kernels)."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = THREADS
    opts.inter_op_num_threads = 1
    opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def preprocess(img, prep):
    """What preprocessor_config.json says, in numpy: resize, /255, normalise, NCHW."""
    img = img.convert("RGB")
    size = (prep["size"]["width"], prep["size"]["height"])
    if img.size != size:
        img = img.resize(size, Image.Resampling(prep["resample"]))
    x = np.asarray(img, np.float32) * np.float32(prep["rescale_factor"])
    x = (x - np.array(prep["image_mean"], np.float32)) / np.array(prep["image_std"], np.float32)
    return x.transpose(2, 0, 1)[None].copy()


class OrtCaptioner:
    """Greedy decoding over the Optimum layout, merged or split."""

    def __init__(self, onnx_dir, merged, spin=False):
        self.merged = merged
        self.encoder = session(onnx_dir / "encoder_model.onnx", spin)
        if merged:
            self.first = self.rest = session(onnx_dir / "decoder_model_merged.onnx", spin)
        else:
            self.first = session(onnx_dir / "decoder_model.onnx", spin)
            self.rest = session(onnx_dir / "decoder_with_past_model.onnx", spin)
        gen = json.loads((onnx_dir / "generation_config.json").read_text())
        self.start, self.eos = gen["decoder_start_token_id"], gen["eos_token_id"]
        self.max_length = gen["max_length"]
        self.past_names = [i.name for i in self.rest.get_inputs() if i.name.startswith("past_key_values.")]
        # [batch, heads, past, head_dim]: heads and head_dim are fixed in the graph.
        shape = self.rest.get_inputs()[[i.name for i in self.rest.get_inputs()].index(self.past_names[0])].shape
        self.heads, self.head_dim = shape[1], shape[3]

    def caption_ids(self, pixel_values):
        """Token ids (start token first, </s> last when reached) for one image."""
        enc = self.encoder.run(["last_hidden_state"], {"pixel_values": pixel_values})[0]
        ids = [self.start]
        feeds = {"input_ids": np.array([[self.start]], np.int64), "encoder_hidden_states": enc}
        if self.merged:
            # First step: empty cache, the If node takes the no-cache branch.
            empty = np.zeros((1, self.heads, 0, self.head_dim), np.float32)
            feeds.update({n: empty for n in self.past_names})
            feeds["use_cache_branch"] = np.array([False])
        sess = self.first
        while len(ids) < self.max_length:
            names = [o.name for o in sess.get_outputs()]
            outs = dict(zip(names, sess.run(None, feeds)))
            token = int(np.argmax(outs["logits"][0, -1]))
            ids.append(token)
            if token == self.eos:
                break
            # Later steps: only the new token; each present.* comes back as past_key_values.*.
            feeds = {"input_ids": np.array([[token]], np.int64), "encoder_hidden_states": enc}
            feeds.update({n: outs[n.replace("past_key_values.", "present.")] for n in self.past_names})
            if self.merged:
                feeds["use_cache_branch"] = np.array([True])
            sess = self.rest
        return ids


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("onnx_dir", type=Path)
    ap.add_argument("model_dir", type=Path)
    ap.add_argument("fixture_dir", type=Path)
    ap.add_argument("--speed", type=int, default=0, help="also time N held-out scenes")
    args = ap.parse_args()

    prep = json.loads((args.onnx_dir / "preprocessor_config.json").read_text())
    tok = Tokenizer.from_file(str(args.onnx_dir / "tokenizer.json"))
    ref = json.loads((args.fixture_dir / "reference.json").read_text())
    loops = {"merged": OrtCaptioner(args.onnx_dir, True), "split": OrtCaptioner(args.onnx_dir, False)}

    bad = 0
    for name, loop in loops.items():
        same = 0
        for rec in ref["images"]:
            with Image.open(args.fixture_dir / rec["file"]) as img:
                x = preprocess(img, prep)
            ids = loop.caption_ids(x)
            if ids == rec["greedy"]["ids"] and tok.decode(ids, skip_special_tokens=True) == rec["greedy"]["text"]:
                same += 1
            else:
                print(f"MISMATCH {name} {rec['file']}: ort {ids} generate {rec['greedy']['ids']}")
        print(f"ORT {name}: {same}/{len(ref['images'])} token-identical to generate()")
        bad += len(ref["images"]) - same

    if args.speed:
        speed(args, loops, prep, args.speed)
    raise SystemExit(1 if bad else 0)


def speed(args, loops, prep, n):
    """Captions per second, batch 1, 2 threads: generate() vs both ORT loops."""
    import sys

    import torch
    from transformers import VisionEncoderDecoderModel

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import scenes

    torch.set_num_threads(THREADS)
    model = VisionEncoderDecoderModel.from_pretrained(args.model_dir).eval()
    xs = [preprocess(scenes.render(s), prep) for s, _ in scenes.scenes(2, n)]
    agree = {name: 0 for name in loops}
    results = {}

    def torch_ids(x):
        with torch.no_grad():
            return model.generate(pixel_values=torch.from_numpy(x), num_beams=1)[0].tolist()

    spinning = OrtCaptioner(args.onnx_dir, False, spin=True)
    runners = {
        "generate (PyTorch)": torch_ids,
        **{f"ORT {k}": v.caption_ids for k, v in loops.items()},
        "ORT split, spinning threads": spinning.caption_ids,
    }
    outputs = {}
    for name, fn in runners.items():
        fn(xs[0])  # warm-up
        t = time.perf_counter()
        outputs[name] = [fn(x) for x in xs]
        results[name] = n / (time.perf_counter() - t)
    for name in loops:
        agree[name] = sum(a == b for a, b in zip(outputs[f"ORT {name}"], outputs["generate (PyTorch)"]))
    for name, rate in results.items():
        print(f"speed {name}: {rate:.1f} captions/s")
    for name, same in agree.items():
        print(f"ORT {name} vs generate on {n} held-out scenes: {same}/{n} identical")


if __name__ == "__main__":
    main()
