#!/usr/bin/env bash
# Captioning benchmarks; prints the numbers BENCHMARKS.md records.
#   tools/bench_caption.sh [speed|video]...   (default: all)
# speed: Rust captioner vs transformers generate() (PyTorch CPU) and a Python
#        onnxruntime loop, same model, batch 1, 2 threads. Needs .venv-caption and the
#        trained model directory out/caption/model from tools/caption/make_captioner.sh.
# video: a 10-minute 320x240 video captioned every 2 s, against decoding it alone.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cargo build --release --quiet
sections=("$@")
run_section() { [ ${#sections[@]} -eq 0 ] || [[ " ${sections[*]} " == *" $1 "* ]]; }

if run_section speed; then
  echo "== captions per second, 2 threads"
  cargo bench --quiet --bench caption_speed -- --threads 2 --rounds 5 | sed 's/^/  frameforge: /'
  if [ -x .venv-caption/bin/python ] && [ -d out/caption/model ]; then
    .venv-caption/bin/python tools/caption/check_onnx.py \
      models/captioner out/caption/model fixtures/caption --speed 120 2>&1 | grep -i "caption" | sed 's/^/  python: /'
  else
    echo "  python: skipped (needs .venv-caption and out/caption/model, see tools/caption/make_captioner.sh)"
  fi
fi

if run_section video; then
  echo "== a 10-minute video captioned every 2 s vs decoding it alone (median of 3)"
  clip="$work/ten-minutes.mp4"
  short="$work/one-second.mp4"
  ffmpeg -v error -y -f lavfi -i testsrc2=size=320x240:rate=24:duration=600 -c:v libx264 -preset ultrafast -pix_fmt yuv420p "$clip"
  ffmpeg -v error -y -f lavfi -i testsrc2=size=320x240:rate=24:duration=1 -c:v libx264 -preset ultrafast -pix_fmt yuv420p "$short"
  pipeline() { # input every
    printf 'input:\n  path: %s\noutput:\n  path: %s\n  existing: overwrite\ndevice: cpu\nstages:\n  - caption:\n      model: %s\n      every: %s\n      beams: 1\n' \
      "$1" "$work/out-$2" "$PWD/models/captioner" "$2" >"$work/p-$2.yaml"
    echo "$work/p-$2.yaml"
  }
  seconds() { local s e; s=$(date +%s.%N); "$@" >/dev/null; e=$(date +%s.%N); echo "$e - $s" | bc -l; }
  median() { printf '%s\n' "$@" | sort -g | sed -n 2p; }
  p_short=$(pipeline "$short" 1s); p_one=$(pipeline "$clip" 600s); p_every=$(pipeline "$clip" 2s)
  sed -e 's/every: 2s/scene_threshold: 0.3/' -e 's/out-2s/out-scene/' "$p_every" >"$work/p-scene.yaml"
  decode=(); fixed=(); one=(); every=(); scene=()
  for _ in 1 2 3; do
    decode+=("$(seconds ffmpeg -v error -i "$clip" -f null -)")
    fixed+=("$(seconds target/release/frameforge run "$p_short" --quiet --threads 2 --force)")
    one+=("$(seconds target/release/frameforge run "$p_one" --quiet --threads 2 --force)")
    every+=("$(seconds target/release/frameforge run "$p_every" --quiet --threads 2 --force)")
    scene+=("$(seconds target/release/frameforge run "$work/p-scene.yaml" --quiet --threads 2 --force)")
  done
  d=$(median "${decode[@]}"); f=$(median "${fixed[@]}"); o=$(median "${one[@]}"); e=$(median "${every[@]}"); s=$(median "${scene[@]}")
  cues=$(grep -c . "$work/out-2s/captions.jsonl" || true)
  printf '  decode alone (ffmpeg -f null): %.2f s\n' "$d"
  printf '  frameforge, 1 s clip (start-up and model loading): %.2f s\n' "$f"
  printf '  frameforge, 10 min, one caption: %.2f s -> decode path %.2f s = %.2fx decoding alone\n' "$o" "$(echo "$o - $f" | bc -l)" "$(echo "($o - $f) / $d" | bc -l)"
  printf '  frameforge, 10 min, every 2 s (%s cues): %.2f s -> model time %.2f s\n' "$cues" "$e" "$(echo "$e - $o" | bc -l)"
  printf '  frameforge, 10 min, scene_threshold 0.3 (%s cues): %.2f s = %.2fx decoding alone\n' "$(grep -c . "$work/out-scene/captions.jsonl" || true)" "$s" "$(echo "$s / $d" | bc -l)"
fi
