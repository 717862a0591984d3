#!/usr/bin/env python3
"""Model table: which restoration model to use, measured on degraded real photographs.

One invocation of this script produces ``docs/model-table.md`` (the tables),
``docs/model-table.png`` and ``docs/model-table-x264.png`` (side by side: original,
degraded, bicubic, each model) and, with ``--benchmarks BENCHMARKS.md``, the "Model
table" section at the end of BENCHMARKS.md::

    .venv/bin/python tools/model_table.py --benchmarks BENCHMARKS.md

What it does
------------
Photographs.  Crops of scikit-image's bundled sample photos (the wheel ships them; no
download), each public domain or CC0 as its ``skimage.data`` docstring says (the
licence is printed in the table's notes): astronaut (NASA, public domain), coffee
(Rachel Michetti, CC0), chelsea (Stefan van der Walt, CC0), rocket (SpaceX, public
domain), camera (Lav Varshney, CC0; black and white, as much old film is) and gravel
(CC0Textures, CC0; a texture, where a painted look shows first).  Gray photos are
used as RGB with three equal channels.  Crops are 256×192 (HR).

Models.  Every ``models/*.onnx`` with a sidecar ``NAME.yaml`` that says
``kind: restore``; ``scale`` (default: 2 or 4 from the name), ``content``, ``license``
and ``tile`` come from the sidecar.  New models join the table when they appear.

Six photos × eight degradations = 48 images per scale; the RRDB models (~30 s a
320×240 frame here) take 2–3 minutes each on these small inputs, and the whole run
11–18 minutes on this 2-core machine with 13 models (the longer while other builds
and tests ran beside it).

Per model of scale s, for every photo:

1. HR crop → downscaled by s with Pillow's bicubic filter, which widens its kernel by s
   when reducing (antialiased, as MATLAB's ``imresize`` that SR benchmarks use).
2. The LR image is degraded as old video is (seeded, so every run is the same):

   - ``clean``: nothing.
   - ``noise``: Gaussian noise, σ = 8 levels (of 255), independent per pixel and channel.
   - ``grain``: film-like grain: unit Gaussian noise blurred with σ = 0.7 px (so it
     clumps), the same in every channel (monochrome), its amplitude following luma
     (strongest in the mid-tones: 4·12·Y·(1−Y) + 3 levels, Y in 0..1).
   - ``blur``: Gaussian blur, σ = 1.2 LR px (a soft lens or telecine).
   - ``jpeg60`` / ``jpeg20``: JPEG at quality 60 and 20 (Pillow, 4:2:0 chroma).
   - ``x264-28`` / ``x264-38``: the LR image as a one-frame clip encoded by the ffmpeg
     CLI with libx264 (``-crf 28`` / ``-crf 38``, preset medium, yuv420p), decoded
     back to RGB PNG.

3. Restored by FrameForge itself, as users run it: one pipeline per model
   (``device: cpu``, one ``restore`` stage with the sidecar's tile), ``frameforge run
   PIPE.yaml --json --threads 2 --jobs 1`` over a directory of the degraded PNGs.
4. Compared with the HR crop.  Baseline: the same degraded LR image upscaled by s with
   Pillow's bicubic filter.  A border of s px is left out of every measure.

Measures (computed here, with numpy/scipy.ndimage and skimage.metrics; no learned
weights):

- ``PSNR``: peak signal-to-noise ratio on RGB, 0..255 (``skimage.metrics.
  peak_signal_noise_ratio``, ``data_range=255``).  Higher is better.
- ``SSIM``: structural similarity on RGB, mean over channels, with Wang et al.'s
  settings (Gaussian window σ = 1.5, no sample covariance; ``skimage.metrics.
  structural_similarity``).  Higher is better.
- ``flat×``: share of flat pixels in the result divided by the share in the original.
  A pixel is flat when the standard deviation of luma (BT.601, 0..255) over its 3×3
  neighbourhood is under 2 levels.  Pooled: flat pixels of all results ÷ flat pixels
  of all originals (a mean of per-image ratios is unstable where an original is
  hardly ever flat).  1 is the original's; well above 1 is the painted or waxy look of
  a model that wipes texture into flat patches (also what blur does).
- ``lap×``: high-frequency energy, the variance of the luma's Laplacian (4-neighbour,
  ``scipy.ndimage.laplace``) of the result divided by the original's; geometric mean
  over images.  1 is the original's; below 1 is lost detail (smooth, painted), above 1
  is added edges, ringing, noise or invented texture.
- ``GMSD``: gradient magnitude similarity deviation (Xue, Zhang, Mou, Bovik, "Gradient
  Magnitude Similarity Deviation: A Highly Efficient Perceptual Image Quality Index",
  IEEE TIP 2014): luma (0..255) of both images averaged over 2×2 and subsampled by 2,
  Prewitt gradients (kernels [1 0 −1]ᵀ-stacked /3), gradient magnitudes m_r, m_d,
  similarity map (2·m_r·m_d + c)/(m_r² + m_d² + c) with c = 170, and GMSD its
  standard deviation (edges replicated where the paper's MATLAB code pads with
  zeros).  0 is identical; lower is better.  Unlike PSNR/SSIM it punishes edges in the
  wrong place and texture turned into smooth patches alike.
- ``÷bic``: the model's mean GMSD over the bicubic baseline's at the same scale.

Speed.  Each model restores one 320×240 still (a crop of the coffee photo) on the CPU
with ``--threads 2 --jobs 1`` and the sidecar's tile; frames/s = 1 / the item's
seconds in ``report.json`` (the median of three copies for models under ~10 s a
frame).  The 1-minute load average is printed beside each figure: other work on the
machine slows it.

Recommendation.  For live-action film at a practical CPU speed: among models that are
not for anime (sidecar ``content``, or known from the name) and run faster than 0.2
frames/s at 320×240, the lowest mean GMSD relative to bicubic at the model's own scale
(``÷bic``: a ×4 task is harder than a ×2 one, so raw GMSD would always favour ×2;
ties: the larger SSIM gain over bicubic).  The best at each other scale is named too,
and, when the winner's licence forbids commercial use (``-NC-``), the best whose
licence does not.  Printed at the end and written under the table.

The FrameForge binary is copied to the work directory first, so a rebuild of
``target/release/frameforge`` during a run does not change it mid-run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from scipy import ndimage
from skimage import data as skdata
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

ROOT = Path(__file__).resolve().parent.parent

# (name, skimage.data function, crop x, crop y, licence as the skimage docstring says)
PHOTOS = [
    ("astronaut", "astronaut", 100, 20, "public domain (NASA)"),
    ("coffee", "coffee", 260, 150, "CC0 (Rachel Michetti)"),
    ("chelsea", "chelsea", 110, 60, "CC0 (Stefan van der Walt)"),
    ("rocket", "rocket", 180, 230, "public domain (SpaceX)"),
    ("camera", "camera", 180, 64, "CC0 (Lav Varshney)"),
    ("gravel", "gravel", 64, 64, "CC0 (CC0Textures)"),
]
CROP_W, CROP_H = 256, 192

DEGRADATIONS = ["clean", "noise", "grain", "blur", "jpeg60", "jpeg20", "x264-28", "x264-38"]
DEGRADATION_NOTES = {
    "clean": "bicubic downscale only",
    "noise": "Gaussian noise σ 8 levels",
    "grain": "film grain: blurred, luma-dependent, monochrome, ~15 levels in mid-tones",
    "blur": "Gaussian blur σ 1.2 LR px",
    "jpeg60": "JPEG quality 60",
    "jpeg20": "JPEG quality 20",
    "x264-28": "x264 CRF 28 (one-frame clip, yuv420p)",
    "x264-38": "x264 CRF 38 (one-frame clip, yuv420p)",
}

# What each known model is for, by a name fragment (lower case), when its sidecar has
# no `content:`.  First match wins.
KNOWN_CONTENT = [
    ("animevideo", "anime (video)"),
    ("anime", "anime"),
    ("hfa2k", "anime"),
    ("x4plus", "general photos"),
    ("realsr", "real photos (camera degradations)"),
    ("df2k", "real photos (camera degradations)"),
    ("clearreality", "live action / photos"),
    ("kendata", "photos"),
    ("span", "clean bicubic-downscaled photos"),
]

# Known GPU figures (BENCHMARKS.md, "On a GPU and on 16 cores"), by name fragment.
GPU_NOTES = {
    "realesr-animevideov3-x2": "H200: 720×576→1440×1152 at 31.9 fps end to end (240 frames in 7.53 s, 4 sessions)",
}

FLAT_STD = 2.0  # levels of 0..255 luma
GMSD_C = 170.0
SPEED_SIZE = (320, 240)
PRACTICAL_FPS = 0.2

# Side-by-side images: (photo, degradation, window origin in the HR crop, file name).
LOOKS = [
    ("chelsea", "grain", (64, 40), "model-table.png"),
    ("astronaut", "x264-28", (70, 50), "model-table-x264.png"),
]
LOOK_WINDOW = (128, 96)  # shown ×2
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


# --------------------------------------------------------------------------- helpers


def log(*args) -> None:
    print(*args, flush=True)


def read_sidecar(path: Path) -> dict:
    """The flat `key: value` lines of a model sidecar (all the table needs)."""
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.lstrip().startswith("#") or line.startswith((" ", "\t")):
            continue
        key, sep, value = line.partition(":")
        if not sep:
            continue
        value = value.split(" #")[0].strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        out[key.strip()] = value
    return out


def discover_models(models_dir: Path) -> list[dict]:
    models = []
    for onnx in sorted(models_dir.glob("*.onnx")):
        sidecar = onnx.with_suffix(".yaml")
        if not sidecar.is_file():
            continue
        meta = read_sidecar(sidecar)
        if meta.get("kind") != "restore":
            continue
        name = onnx.stem
        scale = meta.get("scale")
        if scale is None:
            m = re.search(r"(?:x(\d)|(\d)x)", name.lower())
            scale = (m.group(1) or m.group(2)) if m else None
        if scale is None:
            log(f"skipping {onnx.name}: no scale in its sidecar or name")
            continue
        content = meta.get("content")
        if not content:
            content = next((c for frag, c in KNOWN_CONTENT if frag in name.lower()), "?")
        models.append(
            {
                "name": name,
                "path": onnx.resolve(),
                "scale": int(scale),
                "content": content,
                "license": meta.get("license", "?"),
                "tile": meta.get("tile"),
                "size_mb": onnx.stat().st_size / 1e6,
            }
        )
    return models


def short_content(content: str) -> str:
    """The sidecar's `content:` up to its first parenthesis, semicolon or colon."""
    return re.split(r" \(|;|:", content, maxsplit=1)[0].strip()


def is_anime(model: dict) -> bool:
    return "anime" in model["content"].lower()


def luma(rgb: np.ndarray) -> np.ndarray:
    rgb = rgb.astype(np.float64)
    return 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]


def to_u8(a: np.ndarray) -> np.ndarray:
    return np.clip(np.floor(a + 0.5), 0, 255).astype(np.uint8)


def resize(rgb: np.ndarray, size: tuple[int, int], method=Image.BICUBIC) -> np.ndarray:
    return np.asarray(Image.fromarray(rgb).resize(size, method))


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


# --------------------------------------------------------------------------- photos


def load_photos() -> dict[str, np.ndarray]:
    photos = {}
    for name, fn, x, y, _ in PHOTOS:
        img = getattr(skdata, fn)()
        if img.ndim == 2:
            img = np.stack([img] * 3, axis=-1)
        img = img[..., :3]
        crop = np.ascontiguousarray(img[y : y + CROP_H, x : x + CROP_W])
        assert crop.shape == (CROP_H, CROP_W, 3), (name, crop.shape)
        photos[name] = crop
    return photos


def speed_frame() -> np.ndarray:
    img = skdata.coffee()  # 400×600
    return np.ascontiguousarray(img[80 : 80 + SPEED_SIZE[1], 140 : 140 + SPEED_SIZE[0]])


# --------------------------------------------------------------------------- degradations


def degrade(lr: np.ndarray, kind: str, seed: int, tmp: Path) -> np.ndarray:
    rng = np.random.default_rng(seed)
    f = lr.astype(np.float64)
    if kind == "clean":
        return lr.copy()
    if kind == "noise":
        return to_u8(f + rng.normal(0.0, 8.0, f.shape))
    if kind == "grain":
        n = ndimage.gaussian_filter(rng.normal(0.0, 1.0, f.shape[:2]), 0.7)
        n /= n.std()
        y = luma(f) / 255.0
        amp = 4.0 * 12.0 * y * (1.0 - y) + 3.0
        return to_u8(f + (n * amp)[..., None])
    if kind == "blur":
        return to_u8(ndimage.gaussian_filter(f, (1.2, 1.2, 0)))
    if kind.startswith("jpeg"):
        q = int(kind[4:])
        path = tmp / f"deg-{seed}.jpg"
        Image.fromarray(lr).save(path, quality=q, subsampling="4:2:0")
        out = np.asarray(Image.open(path).convert("RGB"))
        path.unlink()
        return out
    if kind.startswith("x264-"):
        crf = kind.split("-")[1]
        src, mkv, png = tmp / f"deg-{seed}.png", tmp / f"deg-{seed}.mkv", tmp / f"deg-{seed}-out.png"
        Image.fromarray(lr).save(src)
        ff = ["ffmpeg", "-nostdin", "-v", "error", "-y"]
        run(ff + ["-i", str(src), "-frames:v", "1", "-c:v", "libx264", "-preset", "medium",
                  "-crf", crf, "-pix_fmt", "yuv420p", str(mkv)])
        run(ff + ["-i", str(mkv), "-frames:v", "1", "-pix_fmt", "rgb24", str(png)])
        out = np.asarray(Image.open(png).convert("RGB"))
        for p in (src, mkv, png):
            p.unlink()
        assert out.shape == lr.shape, (out.shape, lr.shape)
        return out
    raise ValueError(kind)


# --------------------------------------------------------------------------- measures


def local_std(y: np.ndarray) -> np.ndarray:
    m = ndimage.uniform_filter(y, 3, mode="reflect")
    m2 = ndimage.uniform_filter(y * y, 3, mode="reflect")
    return np.sqrt(np.maximum(m2 - m * m, 0.0))


def flat_share(y: np.ndarray) -> float:
    return float((local_std(y) < FLAT_STD).mean())


def laplacian_var(y: np.ndarray) -> float:
    return float(ndimage.laplace(y, mode="reflect").var())


PREWITT_X = np.array([[1, 0, -1], [1, 0, -1], [1, 0, -1]], dtype=np.float64) / 3.0


def gmsd(ref_y: np.ndarray, dist_y: np.ndarray) -> float:
    def prep(y):
        y = ndimage.uniform_filter(y, 2, mode="nearest")  # 2×2 average …
        return y[::2, ::2]  # … then subsample, as the paper's code does

    def grad_mag(y):
        gx = ndimage.convolve(y, PREWITT_X, mode="nearest")
        gy = ndimage.convolve(y, PREWITT_X.T, mode="nearest")
        return np.sqrt(gx * gx + gy * gy)

    mr, md = grad_mag(prep(ref_y)), grad_mag(prep(dist_y))
    gms = (2.0 * mr * md + GMSD_C) / (mr * mr + md * md + GMSD_C)
    return float(gms.std())


def measure(hr: np.ndarray, out: np.ndarray, shave: int) -> dict:
    if shave:
        hr = hr[shave:-shave, shave:-shave]
        out = out[shave:-shave, shave:-shave]
    yr, yd = luma(hr), luma(out)
    return {
        "psnr": float(peak_signal_noise_ratio(hr, out, data_range=255)),
        "ssim": float(
            structural_similarity(
                hr, out, channel_axis=-1, data_range=255, gaussian_weights=True,
                sigma=1.5, use_sample_covariance=False,
            )
        ),
        "flat": flat_share(yd),
        "flat_ref": flat_share(yr),
        "lap": laplacian_var(yd) / max(laplacian_var(yr), 1e-9),
        "gmsd": gmsd(yr, yd),
        "shift": (out.astype(np.float64) - hr).reshape(-1, 3).mean(axis=0),
    }


def aggregate(rows: list[dict]) -> dict:
    if not rows:
        return {}
    flat_ref = sum(r["flat_ref"] for r in rows)
    return {
        "psnr": statistics.fmean(r["psnr"] for r in rows),
        "ssim": statistics.fmean(r["ssim"] for r in rows),
        "flat": sum(r["flat"] for r in rows) / flat_ref if flat_ref > 0 else float("nan"),
        "lap": math.exp(statistics.fmean(math.log(max(r["lap"], 1e-9)) for r in rows)),
        "gmsd": statistics.fmean(r["gmsd"] for r in rows),
        "n": len(rows),
    }


# --------------------------------------------------------------------------- FrameForge


def write_pipeline(path: Path, name: str, inp: Path, out: Path, model: dict) -> None:
    stage = f"      model: {json.dumps(str(model['path']))}\n"
    path.write_text(
        f"name: {json.dumps(name)}\n"
        "input:\n"
        f"  path: {json.dumps(str(inp))}\n"
        '  include: ["*.png"]\n'
        "output:\n"
        f"  path: {json.dumps(str(out))}\n"
        "  existing: overwrite\n"
        "device: cpu\n"
        "stages:\n"
        "  - restore:\n" + stage,
        encoding="utf-8",
    )


def frameforge(binary: Path, pipe: Path, out: Path, threads: int) -> tuple[dict, dict, float]:
    """Runs one pipeline; returns (--json summary, report.json, wall seconds)."""
    if out.exists():
        shutil.rmtree(out)
    t0 = time.monotonic()
    proc = subprocess.run(
        [str(binary), "run", str(pipe), "--json", "--threads", str(threads), "--jobs", "1"],
        capture_output=True, text=True,
    )
    wall = time.monotonic() - t0
    try:
        summary = json.loads(proc.stdout.strip().splitlines()[-1]) if proc.stdout.strip() else {}
    except json.JSONDecodeError:
        summary = {"stdout": proc.stdout[-2000:]}
    summary["exit_code"] = proc.returncode
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"frameforge {pipe} exited {proc.returncode}: {proc.stderr[-3000:]}")
    report_path = out / "report.json"
    report = json.loads(report_path.read_text()) if report_path.is_file() else {}
    if proc.returncode == 1:
        summary["stderr"] = proc.stderr[-3000:]
    return summary, report, wall


def report_items(report) -> list[dict]:
    if isinstance(report, list):
        return report
    for key in ("items", "files", "results"):
        if isinstance(report.get(key), list):
            return report[key]
    return []


# --------------------------------------------------------------------------- output


def fmt(v: float, spec: str) -> str:
    return "—" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, spec)


def fmt_fps(fps: float | None) -> str:
    if fps is None:
        return "—"
    return f"{fps:.3f}" if fps < 0.1 else f"{fps:.2f}"


def label_tile(img: np.ndarray, text: str, font) -> Image.Image:
    h, w = img.shape[:2]
    tile = Image.new("RGB", (w, h + 18), (255, 255, 255))
    tile.paste(Image.fromarray(img), (0, 18))
    d = ImageDraw.Draw(tile)
    d.text((3, 2), text, fill=(0, 0, 0), font=font)
    return tile


def side_by_side(path: Path, make_rows, max_bytes: int, per_line: int = 6) -> tuple[int, int]:
    """Labelled tiles, shown ×2 (nearest), one row per scale wrapped at `per_line` tiles.

    `make_rows(w, h)` gives the rows for a window of w×h; the window shrinks until the
    PNG fits in `max_bytes`.  Returns the window used.
    """
    try:
        font = ImageFont.truetype(FONT, 12)
    except OSError:
        font = ImageFont.load_default()
    zoom = 2
    w, h = LOOK_WINDOW
    while True:
        lines = []
        for row in make_rows(w, h):
            tiles = [
                label_tile(np.asarray(Image.fromarray(a).resize((a.shape[1] * zoom, a.shape[0] * zoom), Image.NEAREST)), t, font)
                for t, a in row
            ]
            lines += [tiles[i : i + per_line] for i in range(0, len(tiles), per_line)]
        tw, th = lines[0][0].width, lines[0][0].height
        width = max(len(line) for line in lines) * (tw + 4) - 4
        height = len(lines) * (th + 6) - 6
        sheet = Image.new("RGB", (width, height), (255, 255, 255))
        for li, line in enumerate(lines):
            for ti, t in enumerate(line):
                sheet.paste(t, (ti * (tw + 4), li * (th + 6)))
        sheet.save(path, optimize=True)
        if path.stat().st_size <= max_bytes or w <= 64:
            return w, h
        w, h = w - 16, h - 12


# --------------------------------------------------------------------------- main


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=str(ROOT / "target/release/frameforge"), help="FrameForge binary (copied first)")
    ap.add_argument("--models", default=str(ROOT / "models"), help="directory of *.onnx + sidecar .yaml")
    ap.add_argument("--work", default="/tmp/model-table", help="scratch directory (emptied)")
    ap.add_argument("--out", default=str(ROOT / "docs"), help="where model-table.md and its images go")
    ap.add_argument("--benchmarks", help="also write the 'Model table' section at the end of this file (BENCHMARKS.md)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--only", help="comma-separated model names (default: all discovered)")
    ap.add_argument("--no-speed", action="store_true", help="skip the 320×240 speed runs")
    args = ap.parse_args()

    started = time.monotonic()
    work = Path(args.work)
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    tmp = work / "tmp"
    tmp.mkdir()
    binary = work / "frameforge"
    shutil.copy2(args.bin, binary)

    command = " ".join(shlex.quote(a) for a in [os.path.relpath(sys.executable, Path.cwd()) if sys.executable.startswith(str(Path.cwd())) else sys.executable] + [os.path.relpath(sys.argv[0], Path.cwd())] + sys.argv[1:])
    date = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    version = run([str(binary), "--version"]).stdout.strip().removeprefix("frameforge ")
    try:
        head = run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"]).stdout.strip()
        # The binary is built from the working tree: say when its sources differ from HEAD.
        if run(["git", "-C", str(ROOT), "status", "--porcelain", "--", "src", "Cargo.toml", "Cargo.lock"]).stdout.strip():
            head += " with uncommitted changes to src/ or Cargo files"
    except Exception:  # noqa: BLE001
        head = "?"
    load0 = os.getloadavg()
    cpu = "?"
    try:
        cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except Exception:  # noqa: BLE001
        pass
    ffmpeg_version = run(["ffmpeg", "-version"]).stdout.splitlines()[0]
    log(f"command:   {command}")
    log(f"date:      {date}")
    log(f"frameforge: {version} (git {head}; binary copied to {binary})")
    log(f"machine:   {platform.machine()}, {os.cpu_count()} cores, {cpu}")
    log(f"load avg:  {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}")
    log(f"ffmpeg:    {ffmpeg_version}")
    log(f"ORT_DYLIB_PATH: {os.environ.get('ORT_DYLIB_PATH', '(unset: FrameForge finds its own)')}")

    models = discover_models(Path(args.models))
    if args.only:
        wanted = set(args.only.split(","))
        models = [m for m in models if m["name"] in wanted]
    if not models:
        log("no restore models found")
        return 2
    log(f"models:    {', '.join(m['name'] + ' ×' + str(m['scale']) for m in models)}")

    photos = load_photos()
    scales = sorted({m["scale"] for m in models})
    for s in scales:
        assert CROP_W % s == 0 and CROP_H % s == 0

    # Degraded LR sets and bicubic baselines, per scale.
    lr_sets: dict[int, dict[tuple[str, str], np.ndarray]] = {}
    results: dict[str, dict[tuple[str, str], dict]] = {}
    looks: dict[str, dict[tuple[str, str], np.ndarray]] = {}
    for s in scales:
        d = work / f"lr-x{s}"
        d.mkdir()
        lr_sets[s] = {}
        base = f"bicubic ×{s}"
        results[base], looks[base] = {}, {}
        for pi, (pname, hr) in enumerate(photos.items()):
            lr = resize(hr, (CROP_W // s, CROP_H // s))
            for di, deg in enumerate(DEGRADATIONS):
                deg_lr = degrade(lr, deg, 1000 * s + 10 * pi + di, tmp)
                lr_sets[s][(pname, deg)] = deg_lr
                Image.fromarray(deg_lr).save(d / f"{pname}__{deg}.png")
                up = resize(deg_lr, (CROP_W, CROP_H))
                results[base][(pname, deg)] = measure(hr, up, s)
                looks[base][(pname, deg)] = up
        log(f"×{s}: {len(lr_sets[s])} degraded LR images ({CROP_W // s}×{CROP_H // s}) in {d}")

    # Restore with every model.
    broken: dict[str, list[str]] = {}
    run_info: dict[str, dict] = {}
    for m in models:
        s, name = m["scale"], m["name"]
        pipe = work / f"pipe-{name}.yaml"
        out = work / f"out-{name}"
        write_pipeline(pipe, f"model-table-{name}", work / f"lr-x{s}", out, m)
        load = os.getloadavg()[0]
        summary, report, wall = frameforge(binary, pipe, out, args.threads)
        items = report_items(report)
        secs = [it.get("seconds", 0.0) for it in items if it.get("status") in ("done", "Done")]
        run_info[name] = {"wall": wall, "items": len(items), "item_seconds": sum(secs), "load": load, "summary": summary}
        log(f"{name}: {len(items)} items in {wall:.1f} s (load {load:.2f}), exit {summary.get('exit_code')}")
        results[name], looks[name] = {}, {}
        for (pname, deg) in lr_sets[s]:
            hr = photos[pname]
            p = out / f"{pname}__{deg}.png"
            problem = None
            if not p.is_file():
                problem = "no output"
            else:
                img = Image.open(p)
                arr = np.asarray(img.convert("RGB"))
                if arr.shape != hr.shape:
                    problem = f"output {arr.shape[1]}×{arr.shape[0]}, expected {CROP_W}×{CROP_H}"
                elif arr.std() < 1.0:
                    problem = f"flat output (std {arr.std():.2f})"
            if problem:
                broken.setdefault(name, []).append(f"{pname}/{deg}: {problem}")
                continue
            r = measure(hr, arr, s)
            if r["psnr"] < 12.0:
                broken.setdefault(name, []).append(f"{pname}/{deg}: PSNR {r['psnr']:.1f} dB (garbage?)")
            results[name][(pname, deg)] = r
            looks[name][(pname, deg)] = arr

    # Speed at 320×240.
    speed: dict[str, dict] = {}
    if not args.no_speed:
        frame = speed_frame()
        for m in models:
            name = m["name"]
            per_item = run_info[name]["item_seconds"] / max(run_info[name]["items"], 1)
            # A small LR item takes a fraction of a 320×240 frame: estimate, then decide
            # how many copies to time.
            copies = 3 if per_item * (SPEED_SIZE[0] * SPEED_SIZE[1]) / ((CROP_W // m["scale"]) * (CROP_H // m["scale"])) < 10 else 1
            d = work / f"speed-in-{name}"
            d.mkdir()
            for i in range(copies):
                Image.fromarray(frame).save(d / f"frame{i}.png")
            pipe = work / f"speed-{name}.yaml"
            out = work / f"speed-out-{name}"
            write_pipeline(pipe, f"model-table-speed-{name}", d, out, m)
            load = os.getloadavg()
            summary, report, wall = frameforge(binary, pipe, out, args.threads)
            secs = [it["seconds"] for it in report_items(report) if it.get("seconds")]
            if not secs or summary.get("exit_code") != 0:
                log(f"{name}: speed run failed: {summary}")
                continue
            sec = statistics.median(secs)
            speed[name] = {"fps": 1.0 / sec, "seconds": sec, "copies": copies, "load": load[0], "wall": wall}
            log(f"{name}: {sec:.2f} s per 320×240 frame = {1.0 / sec:.3f} fps (median of {copies}; load {load[0]:.2f})")

    # Tables.
    agg = {k: aggregate(list(v.values())) for k, v in results.items()}
    per_deg = {
        k: {deg: aggregate([r for (p, d), r in v.items() if d == deg]) for deg in DEGRADATIONS}
        for k, v in results.items()
    }

    def rel_gmsd(m: dict) -> float:
        return agg[m["name"]]["gmsd"] / agg[f"bicubic ×{m['scale']}"]["gmsd"]

    def rel_ssim(m: dict) -> float:
        return agg[m["name"]]["ssim"] - agg[f"bicubic ×{m['scale']}"]["ssim"]

    def describe(m: dict) -> str:
        a, b = agg[m["name"]], agg[f"bicubic ×{m['scale']}"]
        return (
            f"{m['name']} (×{m['scale']}, {fmt_fps(speed[m['name']]['fps'])} fps at 320×240): GMSD {a['gmsd']:.4f} "
            f"against bicubic's {b['gmsd']:.4f} ({100 * (rel_gmsd(m) - 1):+.1f} %), SSIM {a['ssim']:.4f} against "
            f"{b['ssim']:.4f}, flat× {a['flat']:.2f}, lap× {a['lap']:.3f}"
            + ("; no better than bicubic by GMSD" if rel_gmsd(m) >= 1 else "")
        )

    def s_clean(key: str):
        rows = [r["shift"] for (p, d), r in results[key].items() if d == "clean"]
        return np.mean(rows, axis=0) if rows else None

    def shift_text(v) -> str:
        return "—" if v is None else "/".join(f"{x:+.1f}" for x in v)

    # Ranked by GMSD relative to bicubic at the model's own scale (a ×4 task is harder
    # than a ×2 one, so raw GMSD would always favour ×2), ties by SSIM gain.
    eligible = [
        m for m in models
        if not is_anime(m) and m["name"] in speed and speed[m["name"]]["fps"] > PRACTICAL_FPS and agg[m["name"]]
    ]
    eligible.sort(key=lambda m: (round(rel_gmsd(m), 4), -rel_ssim(m)))
    if eligible:
        best = eligible[0]
        recommendation = (
            f"Recommended for live-action film at a practical CPU speed: **{best['name']}**. Among the models "
            f"not made for anime that run faster than {PRACTICAL_FPS} fps at 320×240 here, it has the lowest "
            f"mean GMSD relative to bicubic at its scale: {describe(best)}."
        )
        per_scale = []
        for s in scales:
            at = [m for m in eligible if m["scale"] == s]
            if at and at[0] is not best:
                per_scale.append(f"best at ×{s}: {describe(at[0])}")
        if per_scale:
            joined = "; ".join(per_scale)
            recommendation += " " + joined[0].upper() + joined[1:] + "."
        others = [m["name"] for m in eligible if m is not best]
        recommendation += f" Eligible, in rank order: {', '.join([best['name']] + others)}."
        if "NC" in best["license"].upper().split("-"):
            free = [m for m in eligible if "NC" not in m["license"].upper().split("-")]
            recommendation += f" Its licence, {best['license']}, forbids commercial use" + (
                f"; the best with a licence that allows it ({free[0]['license']}): {describe(free[0])}." if free else "."
            )
    elif not speed:
        recommendation = "No recommendation: speed was not measured (`--no-speed`)."
    else:
        non_anime = [m["name"] for m in models if not is_anime(m)]
        recommendation = (
            "No recommendation for live-action film: "
            + (
                f"no non-anime model runs faster than {PRACTICAL_FPS} fps here ({', '.join(non_anime)})."
                if non_anime
                else "every model found is an anime model."
            )
        )

    total = time.monotonic() - started
    md = []
    md.append("# Model table\n")
    md.append(
        f"Generated by `{command}` on {date} (FrameForge {version}, git {head}; "
        f"{os.cpu_count()}-core {platform.machine()} {cpu}; load average {load0[0]:.2f} at the start; "
        f"the whole run took {total / 60:.1f} min). Definitions: the docstring of `tools/model_table.py`.\n"
    )
    md.append(
        f"{len(photos)} photographs (crops {CROP_W}×{CROP_H}) × {len(DEGRADATIONS)} degradations of the "
        "downscaled image, restored by FrameForge (`device: cpu`), compared with the original. "
        "PSNR (dB) and SSIM: higher is better. GMSD: lower is better; ÷bic is the model's GMSD over "
        "bicubic's at the same scale (below 1 beats bicubic). flat× (share of flat 3×3 patches against "
        "the original's) and lap× (Laplacian variance against the original's): 1.00 is the original; "
        "flat× above 1 with a low lap× is the smeared, painted look (blur and bicubic score low on lap× too: "
        "the originals' finest grain is gone from every downscaled image). CPU fps: one 320×240 frame, "
        "`--threads 2`. The bicubic rows are the baseline: the same degraded image upscaled by Pillow's "
        "bicubic filter.\n"
    )
    header = "| model | content | scale | PSNR | SSIM | GMSD | ÷bic | flat× | lap× | CPU fps (320×240) | licence |"
    md.append(header)
    md.append("|---|---|---|---|---|---|---|---|---|---|---|")
    for s in scales:
        b = agg[f"bicubic ×{s}"]
        md.append(
            f"| *bicubic (baseline)* | — | ×{s} | {b['psnr']:.2f} | {b['ssim']:.4f} | {b['gmsd']:.4f} | 1 | "
            f"{b['flat']:.2f} | {b['lap']:.3f} | — | — |"
        )
        for m in [m for m in models if m["scale"] == s]:
            a = agg[m["name"]]
            sp = speed.get(m["name"])
            flag = " ⚠" if m["name"] in broken else ""
            lead = f"| `{m['name']}`{flag} | {short_content(m['content'])} | ×{s} | "
            tail = f" | {fmt_fps(sp['fps'] if sp else None)} | {m['license']} |"
            if not a:
                md.append(lead + "— | — | — | — | — | —" + tail)
                continue
            md.append(
                lead + f"{a['psnr']:.2f} | {a['ssim']:.4f} | {a['gmsd']:.4f} | {rel_gmsd(m):.3f} | "
                f"{a['flat']:.2f} | {a['lap']:.3f}" + tail
            )
    md.append("")
    md.append(recommendation + "\n")
    def bic_flat(m: dict) -> float:
        return agg[f"bicubic ×{m['scale']}"]["flat"]

    painted = [
        m for m in models
        if agg[m["name"]] and agg[m["name"]]["flat"] > agg[f"bicubic ×{m['scale']}"]["flat"] + 0.05
    ]
    observations = []
    if painted:
        observations.append(
            "More flat patches than bicubic at the same scale (the painted look): "
            + ", ".join(
                f"`{m['name']}` {agg[m['name']]['flat']:.2f} (bicubic {bic_flat(m):.2f})"
                for m in painted
            )
            + "."
        )
    if speed:
        loads = [v["load"] for v in speed.values()]
        observations.append(
            f"The speed runs met 1-minute load averages of {min(loads):.1f}–{max(loads):.1f} on "
            f"{os.cpu_count()} cores (other work on the machine): the fps are what was measured then, "
            "not an idle machine's."
        )
    best_rows = []
    for deg in DEGRADATIONS:
        cells = []
        for s in scales:
            cands = [
                m for m in models
                if m["scale"] == s and not is_anime(m) and per_deg[m["name"]].get(deg)
            ]
            if not cands:
                cells.append("—")
                continue
            b = per_deg[f"bicubic ×{s}"][deg]["gmsd"]
            top = min(cands, key=lambda m: per_deg[m["name"]][deg]["gmsd"])
            g = per_deg[top["name"]][deg]["gmsd"]
            cells.append(f"`{top['name']}` {g:.3f} ({100 * (g / b - 1):+.0f} % against bicubic)")
        best_rows.append(f"| {deg} | " + " | ".join(cells) + " |")
    md.append("\n\n".join(observations) + "\n" if observations else "")
    md.append("Best model that is not for anime, per degradation (lowest mean GMSD at each scale, any speed):\n")
    md.append("| degradation | " + " | ".join(f"×{s}" for s in scales) + " |")
    md.append("|---" * (len(scales) + 1) + "|")
    md += best_rows
    md.append("")
    if broken:
        md.append("Problems seen (⚠):\n")
        for name, probs in broken.items():
            n = len(lr_sets[next(m for m in models if m["name"] == name)["scale"]])
            md.append(f"- `{name}`: {len(probs)} of {n} outputs — " + "; ".join(probs[:6]) + (" …" if len(probs) > 6 else ""))
        md.append("")
    if speed:
        md.append(
            "Speed runs (seconds per 320×240 frame from report.json, 1-minute load average when each "
            "started; other work on this 2-core machine slows them): "
            + "; ".join(f"`{n}` {v['seconds']:.2f} s (median of {v['copies']}, load {v['load']:.2f})" for n, v in speed.items())
            + ".\n"
        )
    gpu = [f"- `{m['name']}`: {note}" for m in models for frag, note in GPU_NOTES.items() if frag in m["name"]]
    md.append(
        "GPU: "
        + ("figures known from BENCHMARKS.md (no GPU on this machine):\n\n" + "\n".join(gpu) if gpu else "no figures yet.")
        + "\n"
    )
    md.append("## Models\n")
    md.append(
        "Level shift: the mean difference result − original, R/G/B in levels of 255, over the six "
        "`clean` inputs (bicubic: "
        + ", ".join(f"×{s} {shift_text(s_clean(f'bicubic ×{s}'))}" for s in scales)
        + "). A model that moves it by more than a few levels changes the picture's grade.\n"
    )
    md.append("| model | scale | size | content (sidecar) | level shift R/G/B | licence |\n|---|---|---|---|---|---|")
    for m in models:
        md.append(
            f"| `{m['name']}.onnx` | ×{m['scale']} | {m['size_mb']:.1f} MB | {m['content']} | "
            f"{shift_text(s_clean(m['name']))} | {m['license']} |"
        )
    md.append("")
    shifted = [m["name"] for m in models if s_clean(m["name"]) is not None and np.abs(s_clean(m["name"])).max() > 3]
    if shifted:
        md.append(
            "Shifted by more than 3 levels in some channel on clean inputs: "
            + ", ".join(f"`{n}`" for n in shifted)
            + ". The table's PSNR counts that against them.\n"
        )

    md.append("## Per degradation\n")
    md.append("Mean over the photographs. Each cell: PSNR / SSIM / GMSD.\n")
    for s in scales:
        cols = [f"bicubic ×{s}"] + [m["name"] for m in models if m["scale"] == s]
        md.append(f"### ×{s}\n")
        md.append("| degradation | " + " | ".join(c if c.startswith("bicubic") else f"`{c}`" for c in cols) + " |")
        md.append("|---" * (len(cols) + 1) + "|")
        for deg in DEGRADATIONS:
            cells = []
            for c in cols:
                a = per_deg[c][deg]
                cells.append(f"{a['psnr']:.2f} / {a['ssim']:.3f} / {a['gmsd']:.3f}" if a else "—")
            md.append(f"| {deg} | " + " | ".join(cells) + " |")
        md.append("")
        md.append(f"The painted look at ×{s}: flat× / lap× per degradation.\n")
        md.append("| degradation | " + " | ".join(c if c.startswith("bicubic") else f"`{c}`" for c in cols) + " |")
        md.append("|---" * (len(cols) + 1) + "|")
        for deg in DEGRADATIONS:
            cells = []
            for c in cols:
                a = per_deg[c][deg]
                cells.append(f"{a['flat']:.2f} / {a['lap']:.3f}" if a else "—")
            md.append(f"| {deg} | " + " | ".join(cells) + " |")
        md.append("")

    md.append("## Inputs\n")
    md.append("| degradation | what |\n|---|---|")
    for deg in DEGRADATIONS:
        md.append(f"| {deg} | {DEGRADATION_NOTES[deg]} |")
    md.append("")
    md.append("| photo (scikit-image) | crop (x, y, w×h) | licence |\n|---|---|---|")
    for name, fn, x, y, lic in PHOTOS:
        md.append(f"| `skimage.data.{fn}()` | {x}, {y}, {CROP_W}×{CROP_H} | {lic} |")
    md.append("")

    # The look: side-by-side images.
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    look_md = []
    pngs = []
    for look_photo, look_deg, (cx, cy), filename in LOOKS:

        def make_rows(cw, ch, look_photo=look_photo, look_deg=look_deg, cx=cx, cy=cy):
            # The window keeps its centre as it shrinks.
            x0 = cx + (LOOK_WINDOW[0] - cw) // 2
            y0 = cy + (LOOK_WINDOW[1] - ch) // 2

            def win(a):
                return a[y0 : y0 + ch, x0 : x0 + cw]

            rows = []
            for s in scales:
                lr_up = resize(lr_sets[s][(look_photo, look_deg)], (CROP_W, CROP_H), Image.NEAREST)
                row = [
                    ("original", win(photos[look_photo])),
                    (f"{look_deg}, LR x{s} (nearest)", win(lr_up)),
                    (f"bicubic x{s}", win(looks[f"bicubic ×{s}"][(look_photo, look_deg)])),
                ]
                for m in [m for m in models if m["scale"] == s]:
                    if (look_photo, look_deg) in looks[m["name"]]:
                        row.append((m["name"], win(looks[m["name"]][(look_photo, look_deg)])))
                rows.append(row)
            return rows

        png = out_dir / filename
        cw, ch = side_by_side(png, make_rows, 1_500_000 // len(LOOKS))
        pngs.append(png)
        look_md.append(
            f"![{look_photo}, {look_deg}: original, degraded, bicubic, each model]({filename})\n\n"
            f"`{look_photo}` with `{look_deg}`: a {cw}×{ch} window of the {CROP_W}×{CROP_H} crop, shown ×2 "
            "(nearest). For each scale: the original, the degraded LR image, bicubic, then each model "
            "(a scale's row wraps after six pictures).\n"
        )
    md[md.index("## Per degradation\n"):md.index("## Per degradation\n")] = ["## The look\n"] + look_md

    (out_dir / "model-table.md").write_text("\n".join(md), encoding="utf-8")
    log("")
    log("\n".join(md[: md.index("## The look\n")]))
    log(recommendation.replace("**", ""))
    for name, probs in broken.items():
        log(f"PROBLEM {name}: " + "; ".join(probs))
    log(f"wrote {out_dir / 'model-table.md'}, " + ", ".join(f"{p} ({p.stat().st_size / 1e6:.2f} MB)" for p in pngs) + f"; total {total / 60:.1f} min")

    if args.benchmarks:
        bm = Path(args.benchmarks)
        text = bm.read_text(encoding="utf-8")
        marker = "\n## Model table\n"
        if marker in text:
            text = text[: text.index(marker)]
        table_lines = md[md.index(header) : md.index(recommendation + "\n") + 2]
        section = (
            f"{marker}\n"
            f"`{command}`, {date}, FrameForge {version} (git {head}), load average {load0[0]:.2f} at the "
            f"start; {total / 60:.1f} min in all. {len(photos)} public-domain/CC0 photographs from "
            f"scikit-image × {len(DEGRADATIONS)} degradations (noise, film grain, blur, JPEG and x264 at "
            "two strengths each), restored by FrameForge on the CPU and compared with the originals; "
            "definitions, the per-degradation tables and a side-by-side image in "
            "[docs/model-table.md](docs/model-table.md).\n\n" + "\n".join(table_lines) + "\n"
        )
        bm.write_text(text.rstrip("\n") + "\n" + section, encoding="utf-8")
        log(f"wrote the 'Model table' section of {bm}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
