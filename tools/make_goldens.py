#!/usr/bin/env python3
"""Write the golden images that the Rust restore tests compare against.

    python tools/make_goldens.py [--out fixtures/golden]

Inputs are crops of scikit-image's sample photos, saved as 8-bit RGB PNG.
Each golden is the ncnn ORIGINAL model's output (not our ONNX conversion),
computed the way the Real-ESRGAN ncnn wrapper does for an image that fits
in one tile: mirror-pad by 10 px, run, cut 10*scale px off every side,
clamp to 0..1 and round with floor(v*255 + 0.5).
"""

import argparse
import os

import numpy as np
from PIL import Image

from check_converter import NcnnModel, crop, to_8bit

PAD = 10  # the wrapper's `prepadding`

# name -> (image, top, left, height, width); file names say WIDTHxHEIGHT.
INPUTS = {
    "astronaut_96x80": ("astronaut", 70, 176, 80, 96),  # face: eyes, teeth, hair
    "coffee_72x64": ("coffee", 240, 330, 64, 72),       # spoon: specular highlights
    "chelsea_61x47": ("chelsea", 88, 140, 47, 61),      # odd size: cat's eye
}

MODELS = {"animev3-x2": ("realesr-animevideov3-x2", 2),
          "animev3-x4": ("realesr-animevideov3-x4", 4)}


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
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)

    models = {tag: (NcnnModel(name, args.threads), scale) for tag, (name, scale) in MODELS.items()}
    for name, spec in INPUTS.items():
        rgb = crop(*spec)
        save_png(os.path.join(args.out, name + ".png"), rgb)
        for tag, (model, scale) in models.items():
            save_png(os.path.join(args.out, f"{name}.{tag}.png"), upscale(model, scale, rgb))


if __name__ == "__main__":
    main()
