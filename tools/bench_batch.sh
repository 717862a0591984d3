#!/usr/bin/env bash
# Batch-engine benchmarks; prints the numbers BENCHMARKS.md records.
#   tools/bench_batch.sh [clips|stills|film|discovery|noop]...   (default: all)
# Each ratio compares runs made here, one after another, on an otherwise idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS=${THREADS:-2}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cargo build --release --quiet
bin=$PWD/target/release/frameforge
model=$PWD/models/realesr-animevideov3-x2.onnx
sections=("$@")
run_section() { [ ${#sections[@]} -eq 0 ] || [[ " ${sections[*]} " == *" $1 "* ]]; }

pipeline() { # input output → path of the pipeline file
  local file="$work/p-$(basename "$2").yaml"
  printf 'input:\n  path: %s\noutput:\n  path: %s\ndevice: cpu\nstages:\n  - restore:\n      model: %s\n' "$1" "$2" "$model" >"$file"
  echo "$file"
}

timed() { # label command… → prints wall seconds and CPU use
  /usr/bin/time -f "%e %P %M" -o "$work/time.txt" "$@" >/dev/null 2>"$work/stderr.txt" || true
  read -r wall cpu rss <"$work/time.txt"
  echo "$wall $cpu $rss"
}

seconds_of() { # shell function… → wall seconds
  local start end
  start=$(date +%s.%N); "$@" >/dev/null 2>&1; end=$(date +%s.%N)
  echo "$end - $start" | bc -l
}

if run_section clips; then
  echo "== 20 short clips (96x64, 24 frames), $THREADS threads: one file at a time vs files in parallel"
  mkdir -p "$work/clips"
  for i in $(seq 1 20); do
    ffmpeg -v error -y -f lavfi -i "testsrc2=size=96x64:rate=12:duration=2,hue=h=$((i * 17))" \
      -c:v libx264 -pix_fmt yuv420p "$work/clips/clip-$i.mp4"
  done
  p=$(pipeline "$work/clips" "$work/out-clips")
  read -r one _ _ < <(timed $bin run "$p" --force --quiet --threads "$THREADS" --jobs 1)
  read -r many cpu _ < <(timed $bin run "$p" --force --quiet --threads "$THREADS" --jobs "$THREADS")
  printf '  frameforge --jobs 1: %.2f s   --jobs %s: %.2f s (CPU %s)   speed-up %.2fx\n' "$one" "$THREADS" "$many" "$cpu" "$(echo "$one / $many" | bc -l)"
  # One-at-a-time as a cron loop does it: one process per file, each loading its model.
  loop_frameforge() {
    for clip in "$work"/clips/*.mp4; do
      $bin run "$(pipeline "$clip" "$work/out-loop")" --force --quiet --threads "$THREADS" || return 1
    done
  }
  loop=$(seconds_of loop_frameforge)
  printf '  one frameforge process per file, in turn: %.2f s   speed-up of one run over the directory %.2fx\n' "$loop" "$(echo "$loop / $many" | bc -l)"
  if [ -x "${PY:-.venv/bin/python}" ]; then
    loop_script() {
      mkdir -p "$work/out-script"
      for clip in "$work"/clips/*.mp4; do
        "${PY:-.venv/bin/python}" benches/python_pipe_baseline.py "$clip" "$model" "$work/out-script/$(basename "$clip" .mp4).mkv" --threads "$THREADS" || return 1
      done
    }
    script=$(seconds_of loop_script)
    printf '  the Python pipe script per file, in turn: %.2f s   speed-up %.2fx\n' "$script" "$(echo "$script / $many" | bc -l)"
  else
    echo "  the Python pipe script: skipped (needs .venv, see tools/bench.sh)"
  fi
fi

if run_section stills; then
  echo "== 20 stills (320x240), $THREADS threads: one file at a time vs files in parallel"
  mkdir -p "$work/stills"
  for i in $(seq 1 20); do
    ffmpeg -v error -y -f lavfi -i "testsrc2=size=320x240:rate=1:duration=1,hue=h=$((i * 17))" -frames:v 1 "$work/stills/still-$i.png"
  done
  p=$(pipeline "$work/stills" "$work/out-stills")
  read -r one one_cpu _ < <(timed $bin run "$p" --force --quiet --threads "$THREADS" --jobs 1)
  read -r many cpu _ < <(timed $bin run "$p" --force --quiet --threads "$THREADS" --jobs "$THREADS")
  printf '  frameforge --jobs 1: %.2f s (CPU %s)   --jobs %s: %.2f s (CPU %s)   speed-up %.2fx\n' "$one" "$one_cpu" "$THREADS" "$many" "$cpu" "$(echo "$one / $many" | bc -l)"
  echo "== one large still (1024x768, tiles of 256 shared by the sessions): 1 thread vs $THREADS"
  mkdir -p "$work/large"
  ffmpeg -v error -y -f lavfi -i testsrc2=size=1024x768:rate=1:duration=1 -frames:v 1 "$work/large/large.png"
  p=$(pipeline "$work/large" "$work/out-large")
  read -r one one_cpu one_rss < <(timed $bin run "$p" --force --quiet --threads 1)
  cp "$work/out-large/large.png" "$work/large-1.png"
  read -r many cpu rss < <(timed $bin run "$p" --force --quiet --threads "$THREADS")
  cmp -s "$work/out-large/large.png" "$work/large-1.png" && same="identical output" || same="OUTPUTS DIFFER"
  printf '  --threads 1: %.2f s (CPU %s, %d MB)   --threads %s: %.2f s (CPU %s, %d MB)   speed-up %.2fx, %s\n' \
    "$one" "$one_cpu" "$((one_rss / 1024))" "$THREADS" "$many" "$cpu" "$((rss / 1024))" "$(echo "$one / $many" | bc -l)" "$same"
fi

if run_section film; then
  echo "== one long film (320x240, 240 frames) alone: does it use every core?"
  mkdir -p "$work/film"
  ffmpeg -v error -y -f lavfi -i testsrc2=size=320x240:rate=24:duration=10 -c:v libx264 -pix_fmt yuv420p "$work/film/film.mp4"
  p=$(pipeline "$work/film" "$work/out-film")
  read -r wall cpu _ < <(timed $bin run "$p" --force --quiet --threads "$THREADS" --jobs "$THREADS")
  printf '  %.1f s wall, CPU %s of %s00%% possible\n' "$wall" "$cpu" "$THREADS"
fi

if run_section discovery; then
  echo "== discovery and decisions only (--dry-run) over generated trees of empty .png files"
  for n in 10000 100000; do
    tree="$work/tree-$n"
    python3 - "$tree" "$n" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = os.path.join(root, f"reel-{i // 1000:03d}")
    if i % 1000 == 0:
        os.makedirs(d, exist_ok=True)
    open(os.path.join(d, f"frame-{i:06d}.png"), "wb").close()
PY
    p=$(pipeline "$tree" "$work/out-tree-$n")
    read -r wall _ rss < <(timed $bin run "$p" --dry-run --quiet --threads "$THREADS")
    printf '  %6d files: %.2f s, peak RSS %d MB\n' "$n" "$wall" "$((rss / 1024))"
    rm -rf "$tree"
  done
fi

if run_section noop; then
  echo "== a rerun with nothing to do (every item finished), per-file overhead"
  n=2000
  python3 - "$work/stills" "$n" <<'PY'
import os, sys, zlib, struct
root, n = sys.argv[1], int(sys.argv[2])
os.makedirs(root, exist_ok=True)
def png(path, seed):
    raw = b"".join(b"\x00" + bytes((seed * 7 + x * 13 + y * 5) % 256 for x in range(24)) for y in range(8))
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
for i in range(n):
    png(os.path.join(root, f"still-{i:05d}.png"), i)
PY
  p=$(pipeline "$work/stills" "$work/out-stills")
  read -r first _ _ < <(timed $bin run "$p" --quiet --threads "$THREADS")
  read -r again _ _ < <(timed $bin run "$p" --quiet --threads "$THREADS")
  printf '  first run %.1f s; rerun %.2f s for %d files = %.2f ms per file\n' "$first" "$again" "$n" "$(echo "$again * 1000 / $n" | bc -l)"
fi
