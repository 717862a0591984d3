#!/usr/bin/env bash
# A real-size captioner (vit-gpt2-image-captioning's configuration, made by
# tools/caption/make_real_size.sh) through FrameForge against transformers' generate(),
# in one invocation:
#   1. tokens: every image's token ids, greedy and 3 beams, FrameForge's captioner against
#      generate(); and the captions `frameforge run` writes against generate()'s text;
#   2. speed and memory, 1 and 2 threads: generate() one image at a time on T PyTorch
#      threads against `frameforge run --threads T` on the same images (one job per
#      captioner, and every image in flight with --jobs N, so stills are captioned
#      together); wall time, peak RSS (/usr/bin/time), captions/s without loading, and
#      the ratios;
#   3. loading: `frameforge validate` (opens and checks the model) and the time before
#      the first caption.
#
#   tools/bench_caption_real.sh [N]        (N images, default 12; not part of CI: the
#                                           model is 2.6 GB and a run takes minutes)
# MODEL (ONNX folder) and HF_MODEL (transformers folder) default to out/caption/real-size/;
# FRAMEFORGE names another frameforge binary (an earlier build, for before/after).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-12}
MODEL=${MODEL:-out/caption/real-size/onnx}
HF_MODEL=${HF_MODEL:-out/caption/real-size/model}
PY=${PYTHON:-.venv-caption/bin/python}
for needed in "$MODEL" "$HF_MODEL"; do
  [ -d "$needed" ] || { echo "$needed missing: run tools/caption/make_real_size.sh" >&2; exit 2; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cargo build --release --quiet
cargo bench --quiet --bench caption_tokens --no-run 2>/dev/null
FF=${FRAMEFORGE:-target/release/frameforge}
MODEL=$(realpath "$MODEL")

# PNG only, so both sides read the same pixels (JPEG decoders differ by a level here and
# there); real photographs first, at sizes around and above 224.
sources=(fixtures/golden/astronaut_96x80.realesrgan-x4plus.png fixtures/golden/chelsea_61x47.realesrgan-x4plus.png
  fixtures/golden/coffee_72x64.realesrgan-x4plus.png fixtures/golden/astronaut_96x80.animev3-x2.png
  fixtures/golden/chelsea_61x47.span-kendata-x4.png fixtures/golden/coffee_72x64.span-clearreality-x4.png
  fixtures/images/astronaut.png fixtures/film/stills/frame_001.png fixtures/caption/stills/*.png
  fixtures/caption/heldout/*.png)
[ "$N" -le "${#sources[@]}" ] || { echo "at most ${#sources[@]} images" >&2; exit 2; }
mkdir -p "$work/images"
for i in $(seq 0 $((N - 1))); do
  cp "${sources[$i]}" "$work/images/$(printf '%02d' "$i")-$(basename "${sources[$i]}")"
done
# For each thread count, a run of as many images as captioners: its time is loading plus
# one caption each, so the difference to the full run is N - T captions.
for t in 1 2; do
  mkdir -p "$work/images-$t"
  ls "$work/images" | head -n "$t" | while read -r f; do cp "$work/images/$f" "$work/images-$t/"; done
done

pipeline() { # name input beams
  printf 'input:\n  path: %s\noutput:\n  path: %s\n  existing: overwrite\ndevice: cpu\nstages:\n  - caption:\n      model: %s\n      beams: %s\n' \
    "$2" "$work/out-$1" "$MODEL" "$3" >"$work/$1.yaml"
  echo "$work/$1.yaml"
}
timed() { # label command... ; prints "wall_s max_rss_kb" into $work/label.time
  local label=$1; shift
  /usr/bin/time -f '%e %M' -o "$work/$label.time" "$@" >"$work/$label.log" 2>&1 ||
    { cat "$work/$label.log" >&2; exit 1; }
}
wall() { cut -d' ' -f1 "$work/$1.time"; }
rss_gb() { awk '{printf "%.2f", $2 / 1048576}' "$work/$1.time"; }
ratio() { echo "scale=2; $1 / $2" | bc -l; }

echo "real-size captioner: $MODEL ($(du -sh "$MODEL" | cut -f1)), $N images, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"

echo "== tokens: FrameForge against generate()"
status=0
for beams in 1 3; do
  "$PY" tools/caption/bench_real.py generate "$HF_MODEL" "$work/images" --threads 2 --beams "$beams" "$work/generate-b$beams.json" >/dev/null
  cargo bench --quiet --bench caption_tokens -- "$MODEL" "$work/images" --beams "$beams" >"$work/ff-b$beams.json"
  texts=()
  if [ "$beams" = 1 ]; then
    "$FF" run "$(pipeline tokens "$work/images" 1)" --threads 2 --quiet --force >/dev/null
    texts=(--texts "$work/out-tokens" "$MODEL/tokenizer.json")
  fi
  printf '  beams %s: ' "$beams"
  "$PY" tools/caption/bench_real.py compare "$work/generate-b$beams.json" "$work/ff-b$beams.json" "${texts[@]}" || status=1
done

echo "== loading"
timed validate "$FF" validate "$(pipeline validate "$work/images" 1)"
echo "  frameforge validate: $(wall validate) s, peak RSS $(rss_gb validate) GB"

echo "== greedy captions, one image at a time per captioner"
for t in 1 2; do
  timed "torch-$t" "$PY" tools/caption/bench_real.py generate "$HF_MODEL" "$work/images" --threads "$t" --beams 1 "$work/speed-$t.json"
  timed "ff-$t" "$FF" run "$(pipeline "speed-$t" "$work/images" 1)" --threads "$t" --quiet --force
  timed "ff-first-$t" "$FF" run "$(pipeline "first-$t" "$work/images-$t" 1)" --threads "$t" --quiet --force
  # Every still in flight at once: stills of different files wait together and are
  # captioned in shared batches (the stage's `batch`, 8 by default).
  timed "ff-gathered-$t" "$FF" run "$(pipeline "gathered-$t" "$work/images" 1)" --threads "$t" --jobs "$N" --quiet --force
  torch_rate=$("$PY" -c "import json,sys; print(round(json.load(open(sys.argv[1]))['captions_per_second'], 3))" "$work/speed-$t.json")
  torch_load=$("$PY" -c "import json,sys; print(round(json.load(open(sys.argv[1]))['load_seconds'], 1))" "$work/speed-$t.json")
  ff_rate=$(echo "scale=3; ($N - $t) / ($(wall "ff-$t") - $(wall "ff-first-$t"))" | bc -l)
  echo "  $t thread(s):"
  echo "    generate():  $N captions $(wall "torch-$t") s end to end (load $torch_load s), $torch_rate captions/s without loading, peak RSS $(rss_gb "torch-$t") GB"
  echo "    frameforge:  $N captions $(wall "ff-$t") s end to end, $ff_rate captions/s without loading ($t caption(s) with loading: $(wall "ff-first-$t") s), peak RSS $(rss_gb "ff-$t") GB"
  echo "    frameforge / generate(): $(ratio "$ff_rate" "$torch_rate")x captions/s, $(ratio "$(wall "torch-$t")" "$(wall "ff-$t")")x end to end"
  gathered_rate=$(echo "scale=3; ($N - $t) / ($(wall "ff-gathered-$t") - $(wall "ff-first-$t"))" | bc -l)
  echo "    frameforge --jobs $N (stills captioned together): $N captions $(wall "ff-gathered-$t") s end to end, $gathered_rate captions/s without loading, peak RSS $(rss_gb "ff-gathered-$t") GB"
  echo "    frameforge --jobs $N / generate(): $(ratio "$gathered_rate" "$torch_rate")x captions/s, $(ratio "$(wall "torch-$t")" "$(wall "ff-gathered-$t")")x end to end"
  printf '    texts of the --jobs %s run: ' "$N"
  "$PY" tools/caption/bench_real.py compare "$work/generate-b1.json" "$work/ff-b1.json" \
    --texts "$work/out-gathered-$t" "$MODEL/tokenizer.json" || status=1
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
exit $status
