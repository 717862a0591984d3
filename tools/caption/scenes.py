#!/usr/bin/env python3
"""Procedural captioned scenes for the demo captioner.

A scene is one or two flat shapes (circle, square, triangle, star, diamond,
cross) in one of eight colours, on a plain, gradient or landscape (sky over
grass) background, optionally shot as a black and white and/or blurry
photo, with film grain and vignetting that the caption does not mention.

    scene = sample_scene(random.Random(7))
    img = render(scene, 64, 64)          # PIL RGB image, any size works
    text = caption(scene)                # "a small red star above a ..."

Geometry is kept in units of the frame (0..1), so the same scene can be
drawn at 64x64 for the model and at 128x96 for video fixtures. Every
random choice comes from the caller's seeded generator (or the scene's
own noise seed), so output is byte-identical across runs with the same
Pillow and numpy.

Run as a script to write a contact sheet: scenes.py OUT.png [SEED].
"""

import math
import random
import sys
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

SHAPES = ["circle", "square", "triangle", "star", "diamond", "cross"]

COLOURS = {
    "red": (215, 35, 35),
    "green": (40, 165, 55),
    "blue": (40, 75, 215),
    "yellow": (240, 215, 35),
    "white": (242, 242, 242),
    "black": (18, 18, 18),
    "orange": (245, 135, 25),
    "purple": (135, 50, 175),
}

# Radius of each size as a fraction of the frame's shorter side. A medium
# object gets no size word in the caption.
SIZES = {"small": 0.13, "medium": 0.19, "large": 0.27}

# Where a lone object sits: caption phrase and centre (x, y) in frame units.
POSITIONS = {
    "left": ("on the left of", (0.25, 0.5)),
    "right": ("on the right of", (0.75, 0.5)),
    "top": ("at the top of", (0.5, 0.27)),
    "bottom": ("at the bottom of", (0.5, 0.73)),
    "centre": ("in the centre of", (0.5, 0.5)),
}

# How the first of two objects stands to the second: phrase and the offset
# (dx, dy) from the pair's midpoint to the first object. Only "above" and
# "left of": the top or left object is always named first, so every pair
# has one caption ("a star above a square", never "a square below a star").
RELATIONS = {
    "above": ("above", (0.0, -0.22)),
    "left": ("left of", (-0.24, 0.0)),
}

SKY_TOP, SKY_BOTTOM = (70, 130, 215), (170, 205, 240)
GRASS_TOP, GRASS_BOTTOM = (70, 150, 50), (35, 95, 30)

SUPERSAMPLE = 4  # draw big and shrink, for smooth edges at 64 px


def luma(rgb):
    """BT.601 luma, the grey a colour becomes in a black and white photo."""
    r, g, b = rgb
    return 0.299 * r + 0.587 * g + 0.114 * b


@dataclass
class Shape:
    """One object: its kind, colour, size word and centre in frame units."""

    kind: str
    colour: str
    size: str
    x: float
    y: float
    angle: float = 0.0  # small tilt in degrees, for variety only


@dataclass
class Scene:
    """Everything needed to draw a scene and to caption it."""

    shapes: list
    background: str  # "plain", "gradient" or "landscape"
    bg_colour: str  # unused for landscapes
    position: str = ""  # lone object: a POSITIONS key
    relation: str = ""  # two objects: a RELATIONS key
    bw: bool = False
    blur: bool = False
    grain: float = 0.0  # std-dev of the film grain, in 8-bit levels
    vignette: float = 0.0  # 0 = none, 1 = corners go black
    noise_seed: int = 0
    extras: dict = field(default_factory=dict)


def _pick_colour(rng, avoid, bw):
    """A colour that stands out against every colour in avoid.

    In black and white only brightness is left, so the lumas must differ.
    """
    names = list(COLOURS)
    for _ in range(1000):
        name = rng.choice(names)
        rgb = COLOURS[name]
        ok = all(name != a for a in avoid if a in COLOURS)
        for a in avoid:
            other = COLOURS.get(a, a) if isinstance(a, str) else a
            if bw and abs(luma(rgb) - luma(other)) < 45:
                ok = False
            if not bw and sum(abs(p - q) for p, q in zip(rgb, other)) < 120:
                ok = False
        if ok:
            return name
    raise ValueError(f"no colour stands out against {avoid}")


def sample_scene(rng):
    """Draws a random scene from rng (a random.Random)."""
    bw = rng.random() < 0.2
    blur = rng.random() < 0.15
    background = rng.choices(["plain", "gradient", "landscape"], [0.5, 0.25, 0.25])[0]
    if background == "landscape":
        bg_colour = ""
        # Objects must stand out against both bands (their mid tones).
        avoid = [_mix(SKY_TOP, SKY_BOTTOM), _mix(GRASS_TOP, GRASS_BOTTOM), "blue", "green"]
    else:
        bg_colour = rng.choice(list(COLOURS))
        avoid = [bg_colour]
        if background == "gradient":
            avoid.append(_gradient_end(COLOURS[bg_colour]))

    scene = Scene(shapes=[], background=background, bg_colour=bg_colour, bw=bw, blur=blur)
    scene.grain = rng.choice([0.0, 0.0, rng.uniform(2.0, 7.0), rng.uniform(6.0, 12.0)])
    scene.vignette = rng.uniform(0.2, 0.7) if rng.random() < 0.4 else 0.0
    scene.noise_seed = rng.getrandbits(32)

    def jitter(v, amount):
        return min(0.85, max(0.15, v + rng.uniform(-amount, amount)))

    if rng.random() < 0.55:
        scene.position = rng.choice(list(POSITIONS))
        cx, cy = POSITIONS[scene.position][1]
        size = rng.choice(list(SIZES))
        if scene.position != "centre" and size == "large":
            cx, cy = 0.5 + (cx - 0.5) * 0.85, 0.5 + (cy - 0.5) * 0.85
        scene.shapes.append(
            Shape(
                rng.choice(SHAPES),
                _pick_colour(rng, avoid, bw),
                size,
                jitter(cx, 0.05),
                jitter(cy, 0.05),
                rng.uniform(-15, 15),
            )
        )
    else:
        # Two objects never get "large": there is no room for it at 64 px.
        scene.relation = rng.choice(list(RELATIONS))
        dx, dy = RELATIONS[scene.relation][1]
        mx, my = 0.5 + rng.uniform(-0.06, 0.06), 0.5 + rng.uniform(-0.06, 0.06)
        first_colour = _pick_colour(rng, avoid, bw)
        for sign, colour in ((1, first_colour), (-1, None)):
            # The two objects differ in colour or kind (or both), so the
            # caption always names two distinguishable things.
            colour = colour or _pick_colour(rng, avoid, bw)
            scene.shapes.append(
                Shape(
                    rng.choice(SHAPES),
                    colour,
                    rng.choice(["small", "medium"]),
                    mx + sign * dx,
                    my + sign * dy,
                    rng.uniform(-15, 15),
                )
            )
        a, b = scene.shapes
        if a.kind == b.kind and (bw or a.colour == b.colour):
            b.kind = SHAPES[(SHAPES.index(a.kind) + 1 + rng.randrange(len(SHAPES) - 1)) % len(SHAPES)]
    return scene


def _mix(a, b):
    """The colour halfway between a and b."""
    return tuple((p + q) / 2 for p, q in zip(a, b))


def _gradient_end(rgb):
    """The other end of a gradient: a darker shade of the same colour.

    Black gets a lighter grey instead, so its gradient is visible.
    """
    if luma(rgb) < 40:
        return (90, 90, 90)
    return tuple(int(c * 0.45) for c in rgb)


def _noun_phrase(shape, bw):
    """'a small red star', 'an orange circle', 'a square' (black and white)."""
    words = []
    if shape.size != "medium":
        words.append(shape.size)
    if not bw:
        words.append(shape.colour)
    words.append(shape.kind)
    article = "an" if words[0][0] in "aeiou" else "a"
    return article + " " + " ".join(words)


def _background_phrase(scene):
    """'a blue background', 'a blue gradient', 'a landscape'."""
    if scene.background == "landscape":
        return "a landscape"
    noun = "background" if scene.background == "plain" else "gradient"
    if scene.bw:
        return ("a plain " if scene.background == "plain" else "a ") + noun
    article = "an" if scene.bg_colour[0] in "aeiou" else "a"
    return f"{article} {scene.bg_colour} {noun}"


def caption(scene):
    """The ground-truth caption of a scene.

    Grain and vignetting are left out on purpose: they are the film's
    damage, not its content.
    """
    if len(scene.shapes) == 1:
        body = (
            f"{_noun_phrase(scene.shapes[0], scene.bw)} "
            f"{POSITIONS[scene.position][0]} {_background_phrase(scene)}"
        )
    else:
        a, b = scene.shapes
        body = (
            f"{_noun_phrase(a, scene.bw)} {RELATIONS[scene.relation][0]} "
            f"{_noun_phrase(b, scene.bw)} on {_background_phrase(scene)}"
        )
    kind = ("blurry " if scene.blur else "") + ("black and white " if scene.bw else "")
    return f"a {kind}photo of {body}" if kind else body


def _vertical_gradient(w, h, top, bottom, y0=0, y1=None):
    """An h x w x 3 float array fading from top to bottom between rows y0..y1."""
    y1 = h if y1 is None else y1
    t = np.clip((np.arange(h, dtype=np.float64) - y0) / max(1, y1 - y0 - 1), 0, 1)
    top, bottom = np.array(top, np.float64), np.array(bottom, np.float64)
    rows = top[None, :] * (1 - t[:, None]) + bottom[None, :] * t[:, None]
    return np.broadcast_to(rows[:, None, :], (h, w, 3)).copy()


def _background(scene, w, h, rng_np):
    """The background as an h x w x 3 float array."""
    if scene.background == "plain":
        return np.broadcast_to(np.array(COLOURS[scene.bg_colour], np.float64), (h, w, 3)).copy()
    if scene.background == "gradient":
        start = np.array(COLOURS[scene.bg_colour], np.float64)
        end = np.array(_gradient_end(COLOURS[scene.bg_colour]), np.float64)
        # Direction (down, up, sideways) is a seeded detail, not in the caption.
        direction = rng_np.integers(0, 3)
        if direction == 2:
            t = np.linspace(0, 1, w)[None, :, None]
            return np.broadcast_to(start * (1 - t) + end * t, (h, w, 3)).copy()
        grad = _vertical_gradient(w, h, start, end)
        return grad[::-1].copy() if direction == 1 else grad
    horizon = int(round(h * (0.55 + rng_np.uniform(-0.08, 0.08))))
    img = _vertical_gradient(w, h, SKY_TOP, SKY_BOTTOM, 0, horizon)
    img[horizon:] = _vertical_gradient(w, h, GRASS_TOP, GRASS_BOTTOM, horizon, h)[horizon:]
    return img


def _outline(shape, cx, cy, r):
    """Polygon points of a shape centred on (cx, cy) with 'radius' r."""
    if shape.kind == "square":
        pts = [(-0.8, -0.8), (0.8, -0.8), (0.8, 0.8), (-0.8, 0.8)]
    elif shape.kind == "triangle":
        pts = [(0.0, -1.0), (0.95, 0.75), (-0.95, 0.75)]
    elif shape.kind == "diamond":
        pts = [(0.0, -1.05), (0.75, 0.0), (0.0, 1.05), (-0.75, 0.0)]
    elif shape.kind == "star":
        pts = []
        for i in range(10):
            rad = 1.05 if i % 2 == 0 else 0.45
            a = -math.pi / 2 + i * math.pi / 5
            pts.append((rad * math.cos(a), rad * math.sin(a)))
    elif shape.kind == "cross":
        t = 0.3
        pts = [(-t, -0.95), (t, -0.95), (t, -t), (0.95, -t), (0.95, t), (t, t),
               (t, 0.95), (-t, 0.95), (-t, t), (-0.95, t), (-0.95, -t), (-t, -t)]
    else:
        raise ValueError(shape.kind)
    a = math.radians(shape.angle)
    ca, sa = math.cos(a), math.sin(a)
    return [(cx + r * (x * ca - y * sa), cy + r * (x * sa + y * ca)) for x, y in pts]


def render(scene, width=64, height=64):
    """Draws scene as a width x height RGB PIL image."""
    rng_np = np.random.default_rng(scene.noise_seed)
    base = _background(scene, width, height, rng_np)
    img = Image.fromarray(np.clip(np.rint(base), 0, 255).astype(np.uint8), "RGB")

    # Shapes are drawn on a supersampled canvas and shrunk with a box filter,
    # then pasted through their own (equally smooth) mask.
    s = SUPERSAMPLE
    big = (width * s, height * s)
    unit = min(width, height) * s
    for shape in scene.shapes:
        mask = Image.new("L", big, 0)
        draw = ImageDraw.Draw(mask)
        cx, cy, r = shape.x * width * s, shape.y * height * s, SIZES[shape.size] * unit
        if shape.kind == "circle":
            draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=255)
        else:
            draw.polygon(_outline(shape, cx, cy, r), fill=255)
        mask = mask.resize((width, height), Image.Resampling.BOX)
        img.paste(COLOURS[shape.colour], (0, 0, width, height), mask)

    if scene.blur:
        img = img.filter(ImageFilter.GaussianBlur(2.2 * min(width, height) / 64))

    arr = np.asarray(img, np.float64)
    if scene.bw:
        arr = np.repeat((arr @ np.array([0.299, 0.587, 0.114]))[:, :, None], 3, axis=2)
    if scene.vignette > 0:
        yy, xx = np.mgrid[0:height, 0:width]
        dx = (xx + 0.5) / width - 0.5
        dy = (yy + 0.5) / height - 0.5
        d2 = (dx * dx + dy * dy) / 0.5  # 1.0 in the corners
        arr *= (1.0 - scene.vignette * d2 ** 1.5)[:, :, None]
    if scene.grain > 0:
        # Film grain is mostly brightness noise: one sample for all three channels.
        arr += rng_np.normal(0.0, scene.grain, (height, width))[:, :, None]
    return Image.fromarray(np.clip(np.rint(arr), 0, 255).astype(np.uint8), "RGB")


def render_frame(scene, width, height, frame):
    """A video frame of scene: the still without grain plus per-frame grain."""
    still = Scene(**{**scene.__dict__, "grain": 0.0})
    arr = np.asarray(render(still, width, height), np.float64)
    if scene.grain > 0:
        rng = np.random.default_rng([scene.noise_seed, frame])
        arr = arr + rng.normal(0.0, scene.grain, (height, width))[:, :, None]
    return Image.fromarray(np.clip(np.rint(arr), 0, 255).astype(np.uint8), "RGB")


def scenes(seed, n):
    """n (scene, caption) pairs from a fixed seed."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        sc = sample_scene(rng)
        out.append((sc, caption(sc)))
    return out


def main():
    out = sys.argv[1]
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    cols, rows = 8, 6
    sheet = Image.new("RGB", (cols * 66, rows * 66), (128, 128, 128))
    for i, (sc, text) in enumerate(scenes(seed, cols * rows)):
        sheet.paste(render(sc), ((i % cols) * 66 + 1, (i // cols) * 66 + 1))
        print(f"{i:2d} {text}")
    sheet.save(out)


if __name__ == "__main__":
    main()
