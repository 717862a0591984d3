#!/usr/bin/env bash
# Regenerate fixtures/recipes: one short clip (or still) per kind of source the recipes
# in pipelines/ are written for, each with the defects its recipe treats, so that every
# recipe runs end to end in the tests on material of its kind:
#   film/reel16.mkv    16 fps film scan: grain, brightness flicker, gate weave (shake)
#   vhs/tape.mpg       VHS through a DVD recorder: interlaced MPEG-2, top field first,
#                      4:3, head-switching noise in the bottom lines, chroma noise
#   dv/interview.dv    PAL DV, 16:9 anamorphic (SAR 64:45), interlaced, PCM audio
#   web/clip.mp4       a starved H.264 web upload: 8×8 blocking, AAC audio
#   photos/print.jpg   a scanned print: noise and a yellowed cast
#   animation/cel.mkv  cel animation: flat colours, dark outlines, a compressed DVD-era
#                      H.264 encode
#
# Usage: tools/make_recipe_fixtures.sh (from anywhere). Needs what make_fixtures.sh
# needs (ffmpeg 5.1 CLI; Python with numpy, Pillow, scikit-image). Owns fixtures/recipes
# and rewrites it; deterministic (fixed seeds, one thread, bitexact).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
if [[ -z "${PYTHON:-}" ]]; then
    if [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
OUT=fixtures/recipes
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
rm -rf "$OUT"
mkdir -p "$OUT"/{film,vhs,dv,web,photos,animation}
"$PYTHON" tools/make_fixture_images.py frames "$TMP/frames" >/dev/null

ff() { ffmpeg -nostdin -hide_banner -loglevel error -y -filter_threads 1 "$@"; }
SWS="bicubic+accurate_rnd+bitexact"
OUT_OPTS=(-map_metadata -1 -fflags +bitexact -flags +bitexact -threads 1 -sws_flags "$SWS")
sine() { echo "-f lavfi -i sine=frequency=440:sample_rate=48000:duration=$1"; }

# Film: 24 frames at 16 fps (1.5 s). Gate weave as a crop moving by a few pixels, grain
# changing every frame, brightness flickering at 4 Hz as an uneven shutter gives.
# shellcheck disable=SC2046
ff -framerate 16 -i "$TMP/frames/astronaut_push/%03d.png" $(sine 1.5) -map 0:v -map 1:a \
    "${OUT_OPTS[@]}" \
    -vf "crop=88:60:4+3*sin(n*1.7):2+2*cos(n*2.3),eq=brightness=0.07*sin(2*PI*t*4):eval=frame,noise=alls=16:allf=t+u:all_seed=11,format=yuv420p" \
    -c:v libx264 -preset medium -crf 14 -g 16 -c:a aac -b:a 64k -ac 1 -shortest \
    "$OUT/film/reel16.mkv"

# VHS: 12 frames at 25 fps, each two fields of a 50 fps motion (tinterlace), 128×96
# (4:3), the bottom 6 lines random as a head switch leaves them, chroma noise.
# shellcheck disable=SC2046
ff -framerate 50 -i "$TMP/frames/rocket_reel/%03d.png" $(sine 0.48) -map 0:v -map 1:a \
    "${OUT_OPTS[@]}" \
    -vf "scale=128:96:flags=$SWS,format=yuv420p,noise=c1s=24:c2s=24:c1f=t:c2f=t:all_seed=5,geq=lum='if(gt(Y\,H-7)\,random(1)*255\,lum(X\,Y))':cb='cb(X\,Y)':cr='cr(X\,Y)',tinterlace=mode=interleave_top,setfield=tff" \
    -t 0.48 -c:v mpeg2video -q:v 3 -g 12 -flags +bitexact+ilme+ildct -top 1 \
    -c:a mp2 -b:a 64k -ac 1 -f vob "$OUT/vhs/tape.mpg"

# DV: PAL 720×576 16:9 anamorphic, bottom field first as DV is, 2 frames (DV costs
# 144 000 bytes a frame whatever the picture; restoring 720×576 is slow on a CPU).
# shellcheck disable=SC2046
ff -framerate 25 -i "$TMP/frames/chelsea_pan/%03d.png" $(sine 0.5) -map 0:v -map 1:a \
    "${OUT_OPTS[@]}" -t 0.08 -vf "scale=720:576:flags=$SWS,setfield=bff" -aspect 16:9 \
    -c:v dvvideo -pix_fmt yuv420p -c:a pcm_s16le -ac 2 -f dv "$OUT/dv/interview.dv"

# Web video: 12 frames at 24 fps, 128×96, H.264 starved to 12 kbit/s (visible 8×8
# blocks), AAC audio.
# shellcheck disable=SC2046
ff -framerate 24 -i "$TMP/frames/coffee_zoom/%03d.png" $(sine 0.5) -map 0:v -map 1:a \
    "${OUT_OPTS[@]}" -vf "scale=128:96:flags=$SWS,format=yuv420p" -t 0.5 \
    -c:v libx264 -preset medium -b:v 12k -maxrate 12k -bufsize 12k -g 12 \
    -x264-params deblock=0,0 -c:a aac -b:a 32k -ac 1 "$OUT/web/clip.mp4"

# Animation: 12 frames at 24 fps, 96×64: a flat sky and ground, a filled shape with a
# dark outline moving across, H.264 at a high crf as old releases were, AAC audio.
CEL="x='30+12*sin(2*PI*t)':y=18:w=28:h=28"
# shellcheck disable=SC2046
ff -f lavfi -i "color=c=0x3a6fc4:s=96x64:r=24:d=0.5" $(sine 0.5) -map 0:v -map 1:a \
    "${OUT_OPTS[@]}" \
    -vf "drawbox=x=0:y=46:w=96:h=18:color=0x3c8c3c:t=fill,drawbox=$CEL:color=0xf2c230:t=fill,drawbox=$CEL:color=0x202020:t=2,format=yuv420p" \
    -c:v libx264 -preset medium -crf 30 -g 12 -c:a aac -b:a 32k -ac 1 -shortest \
    "$OUT/animation/cel.mkv"

# Photo scan: a print scanned at 96×64, yellowed and noisy, saved as a JPEG.
"$PYTHON" - "$OUT/photos/print.jpg" <<'PY'
import sys
import numpy as np
from PIL import Image
from skimage import data, transform
image = transform.resize(data.astronaut()[40:360, 60:540], (64, 96), anti_aliasing=True)
rng = np.random.default_rng(3)
yellowed = image * np.array([1.0, 0.93, 0.72]) + np.array([0.06, 0.04, 0.0])
noisy = yellowed + rng.normal(0.0, 0.035, image.shape)
pixels = (np.clip(noisy, 0.0, 1.0) * 255).round().astype(np.uint8)
Image.fromarray(pixels).save(sys.argv[1], quality=88)
PY

echo "make_recipe_fixtures: wrote $(find "$OUT" -type f | wc -l) files under $OUT/"
