#!/usr/bin/env bash
# Runs every benchmark of the restore path and prints the numbers BENCHMARKS.md records.
#   tools/bench.sh [overhead|python|pixels|ncnn|memory|checkpoints]...   (default: all)
# Needs: tools/setup.sh done, and for python/ncnn a venv with tools/requirements-models.txt
# at .venv (python3 -m venv .venv && .venv/bin/pip install -r tools/requirements-models.txt).
# Run on an otherwise idle machine: every ratio compares runs made here, one after another.
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS=${THREADS:-2}
PY=${PY:-.venv/bin/python}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cargo build --release --quiet
bin=target/release/frameforge
model=models/realesr-animevideov3-x2.onnx

clip="$work/bench-320x240.mp4"
ffmpeg -v error -y -f lavfi -i testsrc2=size=320x240:rate=24:duration=2 -c:v libx264 -crf 18 -pix_fmt yuv420p "$clip"

pipeline() { # input output tile [checkpoint]
  cat > "$work/p.yaml" <<YAML
input:
  path: $1
output:
  path: $2
  existing: overwrite
device: cpu
stages:
  - restore:
      model: $PWD/$model
      tile: $3
encode:
  codec: libx264
  crf: 18
  preset: medium
run:
  checkpoint: ${4:-off}
YAML
  echo "$work/p.yaml"
}

wall() { # command… → seconds
  local start end
  start=$(date +%s.%N); "$@" >/dev/null 2>&1; end=$(date +%s.%N)
  echo "$end - $start" | bc -l
}

sections=("$@")
run_section() { [ ${#sections[@]} -eq 0 ] || [[ " ${sections[*]} " == *" $1 "* ]]; }

if run_section overhead; then
  echo "== pipeline overhead (end-to-end fps / pure inference fps), $THREADS threads"
  cargo bench --quiet --bench pipeline_overhead -- "$clip" --workers "$THREADS" --threads "$THREADS" --tile 256 | sed 's/^/  /'
  cargo bench --quiet --bench pipeline_overhead -- "$clip" --workers 1 --threads "$THREADS" --tile 256 | sed 's/^/  /'
fi

if run_section python; then
  echo "== against ffmpeg pipe → Python onnxruntime → ffmpeg pipe (same model, $THREADS threads, whole frames)"
  p=$(pipeline "$clip" "$work/out" 0)
  ours=$(wall $bin run "$p" --threads "$THREADS")
  theirs=$(wall "$PY" benches/python_pipe_baseline.py "$clip" "$model" "$work/py.mkv" --threads "$THREADS")
  printf '  frameforge %.2f s, python pipe %.2f s, speed-up %.2fx\n' "$ours" "$theirs" "$(echo "$theirs / $ours" | bc -l)"
fi

if run_section pixels; then
  echo "== ONNX Runtime cost per pixel by input size, 1 and 2 intra-op threads"
  "$PY" benches/ort_pixel_cost.py "$model" | sed 's/^/  /'
fi

if run_section ncnn; then
  echo "== pure inference against ncnn (same weights, $THREADS threads, whole frames)"
  for workers in 1 "$THREADS"; do
    cargo bench --quiet --bench pipeline_overhead -- "$clip" --workers "$workers" --threads "$THREADS" --tile 0 \
      | grep '^pure' | sed "s/^/  frameforge, $workers worker(s): /"
  done
  "$PY" benches/ncnn_infer.py "$clip" --threads "$THREADS" | sed 's/^/  /'
fi

if run_section memory; then
  echo "== peak memory, 1920x1080 at tile 256, 24 fps: 2 s = 48 frames, 10 s = 240 frames (45 min on 2 cores)"
  for seconds in 2 10; do
    big="$work/hd-$seconds.mkv"
    ffmpeg -v error -y -f lavfi -i "testsrc2=size=1920x1080:rate=24:duration=$seconds" -c:v libx264 -crf 18 -pix_fmt yuv420p "$big"
    p=$(pipeline "$big" "$work/hd-out" 256)
    rss=$( { /usr/bin/time -v $bin run "$p" --threads "$THREADS" >/dev/null 2>"$work/time.txt"; } ; grep "Maximum resident" "$work/time.txt" | awk '{print $6}')
    printf '  %2s s clip: peak RSS %d MB\n' "$seconds" "$((rss / 1024))"
  done
fi

if run_section checkpoints; then
  echo "== checkpoints: a 60 s 96x64 clip at 24 fps (1440 frames), whole frames, $THREADS threads"
  small="$work/small-60.mkv"
  ffmpeg -v error -y -f lavfi -i testsrc2=size=96x64:rate=24:duration=60 -f lavfi -i sine=duration=60 \
    -c:v libx264 -crf 18 -pix_fmt yuv420p -c:a aac -shortest "$small"
  base=""
  for every in off 30s 5s; do
    p=$(pipeline "$small" "$work/ck-$every" 0 "$every")
    t=$(wall $bin run "$p" --threads "$THREADS" --force)
    [ -z "$base" ] && base=$t
    printf '  checkpoint %-3s %6.2f s  (%.3fx the time without)\n' "$every" "$t" "$(echo "$t / $base" | bc -l)"
  done
  echo "  kill -9 after half the segments (5 s each), then a rerun:"
  p=$(pipeline "$small" "$work/ck-resume" 0 5s)
  rm -rf "$work/ck-resume"
  $bin run "$p" --threads "$THREADS" >/dev/null 2>&1 &
  pid=$!
  db() { ls "$work"/ck-resume/.frameforge/checkpoints/*/segments.sqlite 2>/dev/null | head -1; }
  until [ -n "$(db)" ] && [ "$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1], timeout=1).execute('select count(*) from segments').fetchone()[0])" "$(db)" 2>/dev/null || echo 0)" -ge 6 ]; do sleep 0.1; done
  kill -9 $pid; wait $pid 2>/dev/null || true
  t=$(wall $bin run "$p" --threads "$THREADS")
  resumed=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['items'][0]['resumed_frames'])" "$work/ck-resume/report.json")
  printf '  rerun %.2f s (%.3fx a whole run), %s of 1440 frames taken from checkpoints\n' "$t" "$(echo "$t / $base" | bc -l)" "$resumed"
fi
