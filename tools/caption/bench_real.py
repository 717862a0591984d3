#!/usr/bin/env python3
"""transformers' side of tools/bench_caption_real.sh.

    bench_real.py generate MODEL_DIR IMAGES_DIR --threads T --beams B OUT.json
    bench_real.py compare GENERATE.json FRAMEFORGE.json [--texts CAPTION_DIR TOKENIZER]

generate: captions every image of IMAGES_DIR (sorted by name) with
VisionEncoderDecoderModel.generate() on T PyTorch threads, one image at a
time, the image processor and generation config of MODEL_DIR as saved,
`num_beams=B`. Writes the token ids, the load time and the captioning time
(without loading) to OUT.json.

compare: the token ids of the two files, image by image; with --texts, also
each CAPTION_DIR/NAME.txt that `frameforge run` wrote against the text the
tokenizer decodes from generate()'s ids. Exits 1 on any difference.
"""

import argparse
import json
import sys
import time
from pathlib import Path

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}


def images_in(folder):
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def generate(args):
    started = time.perf_counter()
    import torch
    from PIL import Image
    from transformers import ViTImageProcessor, VisionEncoderDecoderModel

    torch.set_num_threads(args.threads)
    model = VisionEncoderDecoderModel.from_pretrained(args.model_dir).eval()
    processor = ViTImageProcessor.from_pretrained(args.model_dir)
    loaded = time.perf_counter()
    ids = {}
    for path in images_in(args.images_dir):
        with Image.open(path) as img:
            pixels = processor(images=img.convert("RGB"), return_tensors="pt").pixel_values
        with torch.no_grad():
            ids[path.name] = model.generate(pixel_values=pixels, num_beams=args.beams)[0].tolist()
    done = time.perf_counter()
    result = {
        "threads": args.threads,
        "beams": args.beams,
        "load_seconds": loaded - started,
        "caption_seconds": done - loaded,
        "captions_per_second": len(ids) / (done - loaded),
        "ids": ids,
    }
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(
        f"generate() beams {args.beams}, {args.threads} thread(s): {len(ids)} captions in "
        f"{done - loaded:.1f} s = {result['captions_per_second']:.3f} captions/s "
        f"(load {loaded - started:.1f} s)"
    )


def compare(args):
    expected = json.loads(args.generate.read_text())["ids"]
    found = json.loads(args.frameforge.read_text())["ids"]
    same = [name for name in expected if found.get(name) == expected[name]]
    for name in expected:
        if name not in same:
            print(f"  {name}: generate() {expected[name]}\n  {' ' * len(name)}  frameforge {found.get(name)}")
    line = f"{len(same)}/{len(expected)} token-identical"
    wrong_texts = 0
    if args.texts:
        from tokenizers import Tokenizer

        caption_dir, tokenizer = Path(args.texts[0]), Tokenizer.from_file(args.texts[1])
        for name, ids in expected.items():
            text = (caption_dir / Path(name).with_suffix(".txt").name).read_text().strip()
            if text != tokenizer.decode(ids, skip_special_tokens=True).strip():
                wrong_texts += 1
                print(f"  {name}: run wrote {text!r}")
        line += f", {len(expected) - wrong_texts}/{len(expected)} run texts identical"
    print(line)
    return 0 if len(same) == len(expected) and wrong_texts == 0 else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate")
    gen.add_argument("model_dir", type=Path)
    gen.add_argument("images_dir", type=Path)
    gen.add_argument("--threads", type=int, default=1)
    gen.add_argument("--beams", type=int, default=1)
    gen.add_argument("out", type=Path)
    cmp = sub.add_parser("compare")
    cmp.add_argument("generate", type=Path)
    cmp.add_argument("frameforge", type=Path)
    cmp.add_argument("--texts", nargs=2, metavar=("CAPTION_DIR", "TOKENIZER"))
    args = ap.parse_args()
    if args.command == "generate":
        generate(args)
        return 0
    return compare(args)


if __name__ == "__main__":
    sys.exit(main())
