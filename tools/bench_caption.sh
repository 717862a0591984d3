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
  echo "== captions per second, batch 1, 2 threads"
  cargo bench --quiet --bench caption_speed -- --threads 2 --rounds 5 | sed 's/^/  frameforge: /'
  if [ -x .venv-caption/bin/python ] && [ -d out/caption/model ]; then
    OMP_WAIT_POLICY=PASSIVE .venv-caption/bin/python tools/caption/check_onnx.py \
      models/captioner out/caption/model fixtures/caption --speed 120 2>&1 | grep -i "caption" | sed 's/^/  python: /'
  else
    echo "  python: skipped (needs .venv-caption and out/caption/model, see tools/caption/make_captioner.sh)"
  fi
fi

if run_section video; then
  echo "== a 10-minute video captioned every 2 s vs decoding it alone"
  clip="$work/ten-minutes.mp4"
  ffmpeg -v error -y -f lavfi -i testsrc2=size=320x240:rate=24:duration=600 -c:v libx264 -preset ultrafast -pix_fmt yuv420p "$clip"
  start=$(date +%s.%N); ffmpeg -v error -threads 2 -i "$clip" -f null - ; end=$(date +%s.%N)
  decode=$(echo "$end - $start" | bc -l)
  printf 'input:\n  path: %s\noutput:\n  path: %s\n  existing: overwrite\ndevice: cpu\nstages:\n  - caption:\n      model: %s\n      every: 2s\n      beams: 1\n' \
    "$clip" "$work/out" "$PWD/models/captioner" >"$work/p.yaml"
  start=$(date +%s.%N); target/release/frameforge run "$work/p.yaml" --quiet --threads 2; end=$(date +%s.%N)
  total=$(echo "$end - $start" | bc -l)
  cues=$(grep -c . "$work/out/captions.jsonl" || true)
  printf '  decode alone (ffmpeg -f null): %.1f s; caption run: %.1f s; %s cues (300 samples)\n' "$decode" "$total"  "$cues"
fi
