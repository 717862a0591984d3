#!/usr/bin/env python3
"""Deterministic source material for tools/make_fixtures.sh.

Sub-commands:

  frames DIR      write the PNG frame sequences that the videos are encoded
                  from (DIR/<sequence>/%03d.png), plus DIR/<sequence>.txt
                  with the frame size
  images DIR      write the still-image fixtures (fixtures/images)
  film DIR        write the stills of the demo archive (fixtures/film/stills)
  bad DIR         write the broken files that need bytes, not ffmpeg
                  (garbage.mkv, broken.png)

Everything is derived from the sample photos that ship with scikit-image
(no download) through Pillow's C resamplers, and every pseudo-random
choice comes from a fixed seed, so the output is byte-identical from run
to run on the same library versions.
"""

import random
import struct
import sys
import zlib
from pathlib import Path

import numpy as np
from PIL import Image
import skimage.data

FRAME_W, FRAME_H = 96, 64


def photo(name):
    """One of scikit-image's bundled sample photos as a Pillow image."""
    arr = getattr(skimage.data, name)()
    mode = "L" if arr.ndim == 2 else "RGB"
    return Image.fromarray(np.ascontiguousarray(arr), mode)


def ease(t):
    """Smooth start and stop, like a camera operator's pan."""
    return t * t * (3.0 - 2.0 * t)


def pan_zoom(img, n, size, start, end):
    """n frames of a virtual camera move over img.

    start and end are (centre_x, centre_y, crop_width) in source pixels;
    the crop keeps the output aspect ratio.
    """
    w, h = size
    frames = []
    for i in range(n):
        t = ease(i / (n - 1)) if n > 1 else 0.0
        cx = start[0] + (end[0] - start[0]) * t
        cy = start[1] + (end[1] - start[1]) * t
        cw = start[2] + (end[2] - start[2]) * t
        ch = cw * h / w
        box = (cx - cw / 2, cy - ch / 2, cx + cw / 2, cy + ch / 2)
        frames.append(img.resize((w, h), Image.Resampling.LANCZOS, box=box))
    return frames


# name: (photo, frame count, size, start, end)
SEQUENCES = {
    # 2 s of a slow push-in on the astronaut's face (reel 1, truncated mp4)
    "astronaut_push": ("astronaut", 24, (96, 64), (260, 200, 420), (250, 130, 200)),
    # 1 s pan across the coffee cup, framed as a portrait shot (64x128 as
    # displayed); see PORTRAIT below (rotated/SAR mp4)
    "coffee_portrait": ("coffee", 12, (64, 128), (230, 200, 190), (370, 200, 190)),
    # 1 s zoom out from the rocket's nose (MPEG-2)
    "rocket_zoom": ("rocket", 12, (96, 64), (320, 160, 180), (320, 213, 600)),
    # 1 s pan over the cat (MJPEG)
    "chelsea_pan": ("chelsea", 12, (96, 64), (150, 130, 280), (300, 160, 280)),
    # 1 s pull-out from the astronaut's flag patch (VP9)
    "astronaut_pull": ("astronaut", 12, (96, 64), (380, 330, 150), (256, 256, 500)),
    # 1 s zoom into the coffee (FFV1)
    "coffee_zoom": ("coffee", 12, (96, 64), (300, 200, 590), (300, 170, 260)),
    # 4 frames at an odd size (FFV1 241x135)
    "chelsea_odd": ("chelsea", 4, (241, 135), (225, 150, 440), (235, 140, 380)),
    # 1 s pan down the rocket (start offset mp4)
    "rocket_pan": ("rocket", 12, (96, 64), (320, 120, 300), (320, 300, 300)),
    # 2 s of the rocket for the demo archive's second reel (MPEG-2)
    "rocket_reel": ("rocket", 24, (96, 64), (120, 210, 240), (480, 210, 300)),
}


# Sequences stored the way a phone stores a portrait clip: the upright
# picture turned 90 degrees clockwise, so that a display matrix asking for
# a 90 degree counter-clockwise turn shows it upright again; then squeezed
# to 96x64 so that a 4:3 sample aspect ratio stretches it back to 128x64.
PORTRAIT = {"coffee_portrait"}


def cmd_frames(out):
    for name, (src, n, size, start, end) in SEQUENCES.items():
        d = out / name
        d.mkdir(parents=True, exist_ok=True)
        for i, f in enumerate(pan_zoom(photo(src), n, size, start, end)):
            if name in PORTRAIT:
                f = f.transpose(Image.Transpose.ROTATE_270).resize(
                    (FRAME_W, FRAME_H), Image.Resampling.LANCZOS
                )
                size = f.size
            f.save(d / f"{i + 1:03d}.png", optimize=False, compress_level=6)
        (out / f"{name}.txt").write_text(f"{size[0]}x{size[1]} {n}\n")


def png_chunk(kind, data):
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def write_png16(path, arr):
    """A 16-bit greyscale (H, W) or RGB (H, W, 3) PNG, written by hand:
    Pillow cannot write 16-bit RGB, and this keeps both 16-bit files free
    of any ancillary chunk."""
    arr = np.asarray(arr, dtype=">u2")
    h, w = arr.shape[:2]
    colour_type = 0 if arr.ndim == 2 else 2
    raw = b"".join(b"\x00" + arr[y].tobytes() for y in range(h))
    ihdr = struct.pack(">IIBBBBB", w, h, 16, colour_type, 0, 0, 0)
    data = (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(raw, 9))
        + png_chunk(b"IEND", b"")
    )
    path.write_bytes(data)


def float_resize(channel, size, box=None):
    """Resize one channel in float32 so that 16-bit outputs keep real
    sub-8-bit detail instead of being 8-bit values times 257."""
    f = Image.fromarray(np.asarray(channel, dtype=np.float32), "F")
    return np.asarray(f.resize(size, Image.Resampling.LANCZOS, box=box), dtype=np.float64)


def to_u16(x):
    return np.clip(np.rint(x), 0, 65535).astype(np.uint16)


def cmd_images(out):
    out.mkdir(parents=True, exist_ok=True)

    # RGB 8-bit PNG, 80x64: the astronaut's head and shoulders
    photo("astronaut").resize(
        (80, 64), Image.Resampling.LANCZOS, box=(120, 0, 440, 256)
    ).save(out / "astronaut.png", optimize=False, compress_level=9)

    # baseline JPEG, 96x64, 4:2:0, no EXIF/JFIF extras
    photo("coffee").resize(
        (96, 64), Image.Resampling.LANCZOS, box=(0, 0, 600, 400)
    ).save(out / "coffee.jpg", quality=90, subsampling="4:2:0", optimize=False)

    # lossless WebP, 96x64
    photo("chelsea").resize(
        (96, 64), Image.Resampling.LANCZOS, box=(0, 0, 450, 300)
    ).save(out / "chelsea.webp", lossless=True, quality=100, method=4, exact=True)

    # RGB 8-bit TIFF, LZW, 96x64
    photo("rocket").resize(
        (96, 64), Image.Resampling.LANCZOS, box=(0, 0, 640, 426.6667)
    ).save(out / "rocket.tiff", compression="tiff_lzw")

    # 8-bit greyscale PNG, 64x64
    photo("camera").resize((64, 64), Image.Resampling.LANCZOS).save(
        out / "gray.png", optimize=False, compress_level=9
    )

    # 16-bit greyscale PNG, 80x64: the camera man, resampled in float,
    # with a faint horizontal ramp so that the low byte carries information
    cam = skimage.data.camera().astype(np.float32) * (65535.0 / 255.0)
    g = float_resize(cam, (80, 64), box=(0, 0, 512, 409.6))
    g = g * 0.9 + np.linspace(0, 0.1 * 65535, 80)[None, :]
    write_png16(out / "gray16.png", to_u16(g))

    # 16-bit RGB PNG, 80x64: the astronaut, each channel resampled in float
    ast = skimage.data.astronaut().astype(np.float32) * (65535.0 / 255.0)
    rgb = np.stack(
        [float_resize(ast[..., c], (80, 64), box=(96, 32, 416, 288)) for c in range(3)],
        axis=-1,
    )
    write_png16(out / "rgb16.png", to_u16(rgb))

    # RGBA PNG, 96x96: the cat inside a soft-edged circle (alpha 0..255)
    cat = photo("chelsea").resize(
        (96, 96), Image.Resampling.LANCZOS, box=(80, 0, 380, 300)
    )
    yy, xx = np.mgrid[0:96, 0:96].astype(np.float64)
    r = np.hypot(xx - 47.5, yy - 47.5)
    t = np.clip((44.0 - r) / 24.0, 0.0, 1.0)  # 1 inside r<20, 0 outside r>44
    alpha = np.rint(255.0 * t * t * (3.0 - 2.0 * t)).astype(np.uint8)
    rgba = np.dstack([np.asarray(cat), alpha])
    Image.fromarray(rgba, "RGBA").save(out / "alpha.png", optimize=False, compress_level=9)


def cmd_film(out):
    stills = out / "stills"
    stills.mkdir(parents=True, exist_ok=True)

    # the first frame of reel 1, as it was exported from the reel
    src, n, size, start, end = SEQUENCES["astronaut_push"]
    pan_zoom(photo(src), n, size, start, end)[0].save(
        stills / "frame_001.png", optimize=False, compress_level=9
    )

    # an "archive print scan": sepia-toned, grainy, with a scratch and dust
    img = photo("chelsea").resize(
        (96, 72), Image.Resampling.LANCZOS, box=(0, 0, 400, 300)
    )
    lum = np.asarray(img.convert("L"), dtype=np.float64) / 255.0
    lum = 0.08 + 0.84 * lum  # lifted blacks, dull whites
    rng = np.random.default_rng(1895)
    lum = lum + rng.normal(0.0, 0.045, lum.shape)  # grain
    lum[:, 61] = lum[:, 61] * 0.35 + 0.6  # a vertical scratch
    for _ in range(14):  # dust specks
        y, x = rng.integers(0, 72), rng.integers(0, 96)
        lum[y, x] = rng.choice([0.02, 0.97])
    sepia = np.array([1.07, 0.86, 0.62])
    rgb = np.clip(lum[..., None] * sepia * 255.0, 0, 255)
    Image.fromarray(np.rint(rgb).astype(np.uint8), "RGB").save(
        stills / "scan.jpg", quality=82, subsampling="4:2:0", optimize=False
    )


def cmd_bad(out):
    out.mkdir(parents=True, exist_ok=True)

    # 4 KiB of pseudo-random bytes (Python's Mersenne Twister: stable
    # across Python versions for a given seed)
    (out / "garbage.mkv").write_bytes(random.Random(0x5EED).randbytes(4096))

    # a PNG signature and a well-formed IHDR (64x64 RGB 8-bit), then an
    # IDAT chunk whose payload is not zlib data and whose CRC is wrong,
    # then junk up to 512 bytes, and no IEND
    junk = random.Random(0xBAD).randbytes(1024)
    ihdr = png_chunk(b"IHDR", struct.pack(">IIBBBBB", 64, 64, 8, 2, 0, 0, 0))
    idat = struct.pack(">I", 400) + b"IDAT" + junk[:400] + b"\xde\xad\xbe\xef"
    data = b"\x89PNG\r\n\x1a\n" + ihdr + idat
    data += junk[400 : 400 + 512 - len(data)]
    (out / "broken.png").write_bytes(data)


def main(argv):
    if len(argv) != 3 or argv[1] not in ("frames", "images", "film", "bad"):
        sys.stderr.write(__doc__)
        return 2
    {"frames": cmd_frames, "images": cmd_images, "film": cmd_film, "bad": cmd_bad}[argv[1]](
        Path(argv[2])
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
