#!/usr/bin/env python3
"""Writes models/captioner/captioner.yaml, the sidecar of the exported captioner.

    sidecar.py ONNX_DIR METRICS_JSON

Records where the model comes from, its license, the sha256 of every .onnx
file, the tensors each graph takes and gives (from the graphs themselves),
what it can describe, and the held-out metrics that train.py measured.
Also spells out the decoding defaults in ONNX_DIR/generation_config.json.
"""

import hashlib
import json
import sys
from pathlib import Path

import onnx

GRAPHS = ["encoder_model.onnx", "decoder_model_merged.onnx",
          "decoder_model.onnx", "decoder_with_past_model.onnx"]


def sha256(path):
    """Hex sha256 of a file."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tensors(values):
    """'name: type [dims]' for each graph input or output; symbolic dims by name."""
    out = []
    for v in values:
        t = v.type.tensor_type
        dims = [d.dim_param or str(d.dim_value) for d in t.shape.dim]
        kind = onnx.helper.tensor_dtype_to_np_dtype(t.elem_type).name
        out.append(f"{v.name}: {kind} [{', '.join(dims)}]")
    return out


def io_summary(graph):
    """Inputs and outputs, with the 3 per-layer cache tensors folded into one line each."""
    lines = []
    for name, vals in (("inputs", graph.input), ("outputs", graph.output)):
        items = [t for t in tensors(vals) if ".0." in t or not t.startswith(("past_key_values.", "present."))]
        items = [t.replace(".0.", ".{0,1,2}.") for t in items]
        lines.append((name, items))
    return lines


def explicit_generation_config(onnx_dir):
    """Spells out the decoding defaults that transformers leaves out of the file.

    A reader that does not know transformers' defaults then still decodes
    greedily without n-gram blocking, as generate() does.
    """
    path = onnx_dir / "generation_config.json"
    gen = json.loads(path.read_text())
    for key, value in (("num_beams", 1), ("do_sample", False), ("no_repeat_ngram_size", 0),
                       ("length_penalty", 1.0), ("early_stopping", False)):
        gen.setdefault(key, value)
    path.write_text(json.dumps(dict(sorted(gen.items())), indent=2) + "\n")


def main():
    onnx_dir, metrics = Path(sys.argv[1]), json.loads(Path(sys.argv[2]).read_text())
    explicit_generation_config(onnx_dir)
    config = json.loads((onnx_dir / "config.json").read_text())
    dec = config["decoder"]
    lines = [
        "kind: caption",
        "layout: optimum  # VisionEncoderDecoder, optimum-cli export onnx --task image-to-text-with-past",
        "architecture: >-",
        "  ViT encoder (64x64 input, patch 8, hidden 128, 4 layers, 4 heads) +",
        f"  GPT-2 decoder ({dec['n_embd']} wide, {dec['n_layer']} layers, {dec['n_head']} heads,",
        f"  cross-attention), vocabulary {dec['vocab_size']}, byte-level BPE tokenizer",
        "tokens: {pad: 0, bos: 1, eos: 2, decoder_start: 1}",
        "input: {width: 64, height: 64}  # fixed: resize first, as preprocessor_config.json says",
        'source: "tools/caption/make_captioner.sh (trained from scratch on procedural scenes '
        'from tools/caption/scenes.py by tools/caption/train.py, exported with optimum-cli)"',
        "license: MIT OR Apache-2.0",
        "sha256:",
    ]
    lines += [f"  {g}: {sha256(onnx_dir / g)}" for g in GRAPHS]
    lines.append("graphs:")
    for g in GRAPHS:
        lines.append(f"  {g}:")
        for name, items in io_summary(onnx.load(str(onnx_dir / g), load_external_data=False).graph):
            lines.append(f"    {name}:")
            lines += [f"      - \"{t}\"" for t in items]
    lines += [
        "describes: >-",
        "  Only the procedural scenes of tools/caption/scenes.py: one or two flat shapes",
        "  (circle, square, triangle, star, diamond, cross) in red, green, blue, yellow,",
        "  white, black, orange or purple; small/large sizes; a lone shape's position (left,",
        "  right, top, bottom, centre) or a pair's relation (above, left of: the top or left",
        "  one is named first);",
        "  plain or gradient backgrounds in those colours or a landscape (sky over grass);",
        "  black and white and blurry photos. Film grain and vignetting are ignored.",
        "cannot_describe: >-",
        "  Real photographs or film frames, people, animals, text, more than two objects,",
        "  textures, other shapes or colours. On such input it still answers with a",
        "  shapes caption, which is meaningless.",
        "real_photographs: false  # validate and run say so, pointing at a real captioner",
        "weak_spots: >-",
        "  Shape names are its most common mistake (triangle/diamond/star/cross mixed up,",
        "  worse on frames squeezed to 64x64 from other aspect ratios, and on blurry or",
        "  small shapes); colours, positions, backgrounds and black and white are mostly right.",
        "training: {scenes: %d, seed: %d, epochs: %g}"
        % (metrics["train_scenes"], metrics["train_seed"], metrics["epochs"]),
        "heldout:",
        f"  scenes: {metrics['heldout_scenes']}",
        f"  seed: {metrics['heldout_seed']}",
        "  meaning:",
        "    exact_match: share of captions whose text equals the ground truth",
        "    token_accuracy: share of ground-truth tokens (with </s>) matched at the same position",
    ]
    for name in ("greedy", "beam3"):
        m = metrics[name]
        lines.append(f"  {name}: {{exact_match: {m['exact_match']:.3f}, "
                     f"token_accuracy: {m['token_accuracy']:.3f}}}")
    (onnx_dir / "captioner.yaml").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
