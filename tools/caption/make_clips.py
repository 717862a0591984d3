#!/usr/bin/env python3
"""Caption demo media: fixtures/caption/shapes.mkv and fixtures/caption/stills/.

    make_clips.py FIXTURE_DIR [MODEL_DIR]

shapes.mkv: H.264, 128x96, 12 fps, 8 s: four hand-made scenes of 2 s
each with hard cuts between them (a scene-change detector must find
frames 24, 48 and 72). The picture holds still within a scene while the
film grain changes every frame, as on real film. shapes.json records the
boundaries and each scene's ground-truth caption.

stills/: three PNGs (64x64, 96x64, 128x96) with their captions in
stills.json.

The scenes are ones the shipped model captions right (its shape names are
its weak point, more so on frames squeezed from 4:3 or 3:2 to 64x64), so the
demo shows what it can do; reference.json shows where it goes wrong.

With MODEL_DIR, each JSON entry also gets "model_greedy": what the
transformers model says greedily (stills: on the PNG; video: on the
scene's middle frame as ffmpeg decodes it to rgb24).

The encode mirrors tools/make_fixtures.sh: single-threaded x264 and
bitexact muxing, so two runs give the same bytes on the same ffmpeg.
"""

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scenes import Scene, Shape, caption, render, render_frame  # noqa: E402

FPS, SECONDS_PER_SCENE = 12, 2
VIDEO_SIZE = (128, 96)
SWS = "bicubic+accurate_rnd+bitexact"
BITEXACT = ["-fflags", "+bitexact", "-flags", "+bitexact", "-threads", "1", "-sws_flags", SWS]

VIDEO_SCENES = [
    Scene([Shape("square", "red", "medium", 0.25, 0.5, 6.0)], "plain", "blue",
          position="left", grain=4.0, vignette=0.3, noise_seed=101),
    Scene([Shape("star", "yellow", "small", 0.5, 0.28, 8.0),
           Shape("square", "green", "medium", 0.5, 0.72, -5.0)], "plain", "black",
          relation="above", grain=4.0, noise_seed=102),
    Scene([Shape("cross", "white", "medium", 0.5, 0.5)], "gradient", "green",
          position="centre", bw=True, grain=6.0, vignette=0.5, noise_seed=103),
    Scene([Shape("square", "yellow", "medium", 0.5, 0.27, 10.0)], "landscape", "",
          position="top", grain=3.0, noise_seed=104),
]

STILLS = [
    ("purple_star.png", (64, 64),
     Scene([Shape("star", "purple", "medium", 0.75, 0.5)], "plain", "yellow",
           position="right", grain=4.0, noise_seed=201)),
    ("blurry_green_square.png", (96, 64),
     Scene([Shape("square", "green", "large", 0.25, 0.5)], "plain", "white",
           position="left", blur=True, noise_seed=202)),
    ("bw_cross_star.png", (128, 96),
     Scene([Shape("cross", "black", "medium", 0.26, 0.5, 4.0),
            Shape("star", "white", "small", 0.74, 0.5, 12.0)], "landscape", "",
           relation="left", bw=True, grain=10.0, vignette=0.4, noise_seed=203)),
]


class ModelCaptioner:
    """Greedy captions from the transformers model, PIL image in, text out."""

    def __init__(self, model_dir):
        import torch
        from transformers import AutoTokenizer, ViTImageProcessor, VisionEncoderDecoderModel

        torch.set_num_threads(2)
        self.torch = torch
        self.model = VisionEncoderDecoderModel.from_pretrained(model_dir).eval()
        self.proc = ViTImageProcessor.from_pretrained(model_dir)
        self.tok = AutoTokenizer.from_pretrained(model_dir)

    def __call__(self, img):
        with self.torch.no_grad():
            x = self.proc(images=img.convert("RGB"), return_tensors="pt").pixel_values
            ids = self.model.generate(pixel_values=x, num_beams=1)[0]
        return self.tok.decode(ids, skip_special_tokens=True)


def make_video(out_dir, captioner):
    """Writes shapes.mkv and shapes.json."""
    w, h = VIDEO_SIZE
    per = FPS * SECONDS_PER_SCENE
    mkv = out_dir / "shapes.mkv"
    with tempfile.TemporaryDirectory() as tmp:
        frame = 0
        for scene in VIDEO_SCENES:
            for _ in range(per):
                render_frame(scene, w, h, frame).save(f"{tmp}/{frame:03d}.png")
                frame += 1
        subprocess.run(
            ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-filter_threads", "1",
             "-framerate", str(FPS), "-i", f"{tmp}/%03d.png", *BITEXACT,
             "-vf", f"scale=out_color_matrix=bt709:out_range=tv:flags={SWS},format=yuv420p",
             "-c:v", "libx264", "-preset", "medium", "-crf", "23", "-g", str(FPS),
             "-pix_fmt", "yuv420p", "-colorspace", "bt709", "-color_primaries", "bt709",
             "-color_trc", "bt709", "-color_range", "tv", "-map_metadata", "-1", str(mkv)],
            check=True,
        )
    entries = []
    for i, scene in enumerate(VIDEO_SCENES):
        entry = {"start_frame": i * per, "end_frame": (i + 1) * per - 1,
                 "start_s": i * SECONDS_PER_SCENE, "end_s": (i + 1) * SECONDS_PER_SCENE,
                 "caption": caption(scene)}
        if captioner:
            entry["model_greedy"] = captioner(decode_frame(mkv, i * per + per // 2))
        entries.append(entry)
    info = {"file": "shapes.mkv", "width": w, "height": h, "fps": FPS,
            "frames": per * len(VIDEO_SCENES), "cuts_at_frames": [per * i for i in range(1, len(VIDEO_SCENES))],
            "scenes": entries}
    if captioner:
        info["model_greedy_note"] = "middle frame of each scene, decoded by ffmpeg to rgb24"
    (out_dir / "shapes.json").write_text(json.dumps(info, indent=1) + "\n")


def decode_frame(mkv, index):
    """Frame `index` of mkv as an RGB PIL image, via ffmpeg."""
    w, h = VIDEO_SIZE
    raw = subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-threads", "1", "-i", str(mkv),
         "-sws_flags", SWS, "-vf", f"select=eq(n\\,{index})", "-frames:v", "1",
         "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        check=True, capture_output=True,
    ).stdout
    return Image.frombytes("RGB", (w, h), raw)


def make_stills(out_dir, captioner):
    """Writes stills/*.png and stills.json."""
    still_dir = out_dir / "stills"
    still_dir.mkdir(parents=True, exist_ok=True)
    entries = []
    for name, size, scene in STILLS:
        path = still_dir / name
        render(scene, *size).save(path, optimize=False)
        entry = {"file": f"stills/{name}", "width": size[0], "height": size[1],
                 "caption": caption(scene)}
        if captioner:
            with Image.open(path) as img:
                entry["model_greedy"] = captioner(img)
        entries.append(entry)
    (out_dir / "stills.json").write_text(json.dumps({"stills": entries}, indent=1) + "\n")


def main():
    out_dir = Path(sys.argv[1])
    out_dir.mkdir(parents=True, exist_ok=True)
    captioner = ModelCaptioner(sys.argv[2]) if len(sys.argv) > 2 else None
    make_video(out_dir, captioner)
    make_stills(out_dir, captioner)
    for entry in json.loads((out_dir / "shapes.json").read_text())["scenes"]:
        print("shapes.mkv", entry["start_frame"], entry["caption"], "|", entry.get("model_greedy", ""))
    for entry in json.loads((out_dir / "stills.json").read_text())["stills"]:
        print(entry["file"], entry["caption"], "|", entry.get("model_greedy", ""))


if __name__ == "__main__":
    main()
