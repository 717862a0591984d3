#!/usr/bin/env bash
# Runs every benchmark of the restore path and prints the numbers BENCHMARKS.md records.
#   tools/bench.sh [overhead|python|pixels|ncnn|memory]...   (default: all)
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

pipeline() { # input output tile
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
