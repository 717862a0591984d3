#!/usr/bin/env bash
# Restoration and captioning on a CUDA GPU: checks that `device: cuda` gives the CPU's
# results, then times FrameForge against the ffmpeg pipe → Python onnxruntime → ffmpeg
# pipe script with the same model on the same GPU, and both on all CPU cores.
#   tools/bench_gpu.sh [check|speed|cpu|precision]...   (default: all)
# `precision` needs no Python onnxruntime: FrameForge alone at fp32, fp16 and on TensorRT,
# the float16 output's PSNR against fp32, the GPU's busy share, and x264 alone (the
# encoder's ceiling at the output size).
# On a lent GPU machine: `tools/gpu_bundle/on_device.sh bash tools/bench_gpu.sh` with the
# bundle tools/make_gpu_bundle.sh makes (carried as .gpu/).
# Needs: BIN, a frameforge binary; ORT_DYLIB_PATH, ONNX Runtime GPU
# (PyPI onnxruntime-gpu 1.31.1: CUDA 13, cuDNN 9) with its CUDA libraries on the loader's
# path; PY, a Python whose onnxruntime is that same package; ffmpeg/ffprobe with libx264.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/release/frameforge}
PY=${PY:-python3}
CORES=$(nproc)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
model=$PWD/models/realesr-animevideov3-x2.onnx

ratio() { "$PY" -c "import sys; print(f'{float(sys.argv[1]) / float(sys.argv[2]):.2f}')" "$1" "$2"; }
wall() { # command… → seconds; the command's output goes to $work/last.log
  local start end
  start=$(date +%s.%N)
  if ! "$@" >"$work/last.log" 2>&1; then tail -20 "$work/last.log" >&2; return 1; fi
  end=$(date +%s.%N)
  "$PY" -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$start" "$end"
}
restore_pipeline() { # input output device tile codec [gpu sessions] [precision] [preset]
  local quality="crf: 18"
  [ "$5" = ffv1 ] && quality="# lossless"
  cat >"$work/p-$3.yaml" <<YAML
input:
  path: $1
output:
  path: $2
  existing: overwrite
device: $3
precision: ${7:-auto}
stages:
  - restore:
      model: $model
      tile: $4
encode:
  container: mkv
  codec: $5
  $quality
  preset: ${8:-medium}
run:
  checkpoint: off
  gpu_sessions: ${6:-4}
YAML
  echo "$work/p-$3.yaml"
}
psnr() { # a b → the lowest per-frame PSNR (inf when identical) and the frame count
  ffmpeg -v error -nostats -i "$1" -i "$2" -lavfi "[0:v][1:v]psnr=stats_file=$work/psnr.log" -f null - 2>&1
  "$PY" - "$work/psnr.log" <<'PY'
import sys
values = [float(f.split(":")[1]) for line in open(sys.argv[1]) for f in line.split() if f.startswith("psnr_avg:")]
print(f"{min(values):.1f} dB lowest frame, {len(values)} frames" if values else "no frames")
PY
}

echo "== machine"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
echo "  $CORES CPU cores; $("$PY" -c 'import onnxruntime as o; print("onnxruntime", o.__version__, o.get_available_providers())')"

sections=("$@")
run_section() { [ ${#sections[@]} -eq 0 ] || [[ " ${sections[*]} " == *" $1 "* ]]; }

if run_section check; then
  echo "== device: cuda gives the CPU's pixels (ffv1, lossless)"
  for clip in odd_241x135.mkv flat_bt709.mkv; do
    for device in cpu cuda; do
      "$BIN" run "$(restore_pipeline "$PWD/fixtures/video/$clip" "$work/same-$device" "$device" 64 ffv1)" --quiet --force >/dev/null
    done
    printf '  %-16s cuda vs cpu: %s\n' "$clip" "$(psnr "$work/same-cpu/${clip%.*}.mkv" "$work/same-cuda/${clip%.*}.mkv")"
  done

  echo "== device: cuda captions as the CPU does"
  for device in cpu cuda; do
    sed -e "s#^device: .*#device: $device#" -e "s#\.\./fixtures#$PWD/fixtures#" -e "s#\.\./models#$PWD/models#" \
      -e "s#\.\./out/caption-archive#$work/cap-$device#" pipelines/caption-archive.yaml >"$work/cap-$device.yaml"
    "$BIN" run "$work/cap-$device.yaml" --quiet --force >/dev/null
  done
  "$PY" - "$work/cap-cpu" "$work/cap-cuda" <<'PY'
import json, pathlib, sys
def cues(root):
    out = {}
    for p in sorted(pathlib.Path(root).rglob("*.captions.json")):
        out[str(p.relative_to(root))] = [(c["start"], c["text"]) for c in json.loads(p.read_text())["cues"]]
    return out
a, b = cues(sys.argv[1]), cues(sys.argv[2])
total = sum(len(v) for v in a.values())
same = sum(x == y for k in a for x, y in zip(a[k], b.get(k, [])))
print(f"  captions identical (time and text): {same} of {total} in {len(a)} files (cuda wrote {len(b)} files)")
PY
fi

speed() { # device size seconds python-flag gpu-sessions…
  local device=$1 size=$2 frames=$(($3 * 24)) flag=$4 clip="$work/$2-$3.mp4" ours theirs
  shift 4
  [ -f "$clip" ] || ffmpeg -v error -y -f lavfi -i "testsrc2=size=$size:rate=24:duration=$((frames / 24))" -c:v libx264 -crf 18 -pix_fmt yuv420p "$clip"
  theirs=$(wall "$PY" benches/python_pipe_baseline.py "$clip" "$model" "$work/py.mkv" --threads "$CORES" $flag)
  printf '  %-4s %-9s %3d frames: python pipe %6.2f s (%5.1f fps)\n' "$device" "$size" "$frames" "$theirs" "$("$PY" -c "print($frames / $theirs)")"
  for sessions in "$@"; do
    ours=$(wall "$BIN" run "$(restore_pipeline "$clip" "$work/speed" "$device" 0 libx264 "$sessions")" --threads "$CORES" --force)
    printf '       frameforge, %-13s %6.2f s (%5.1f fps), speed-up %sx\n' "$([ "$device" = cuda ] && echo "$sessions session(s)" || echo "$CORES threads")" \
      "$ours" "$("$PY" -c "print($frames / $ours)")" "$(ratio "$theirs" "$ours")"
  done
}

if run_section speed; then
  echo "== on the GPU against ffmpeg pipe → Python onnxruntime (CUDA) → ffmpeg pipe (same model, whole frames, x264 crf 18)"
  speed cuda 320x240 10 --cuda 1 2 4
  speed cuda 720x576 10 --cuda 1 2 4
  speed cuda 1920x1080 4 --cuda 1 2 4
fi

if run_section cpu; then
  echo "== on every CPU core against the same script (no GPU)"
  speed cpu 720x576 2 "" 1
fi

if run_section precision; then
  echo "== float width and TensorRT (animevideov3 x2, 720x576 -> 1440x1152, 240 frames)"
  clip="$work/pr-720.mp4"
  ffmpeg -v error -y -f lavfi -i "testsrc2=size=720x576:rate=24:duration=10" -c:v libx264 -crf 18 -pix_fmt yuv420p "$clip"
  encoder=$(wall ffmpeg -v error -y -i "$clip" -vf scale=1440:1152 -c:v libx264 -preset veryfast -crf 18 -threads "$CORES" -f null -)
  printf '  x264 veryfast alone at 1440x1152: %6.2f s (%5.1f fps): the encoder ceiling\n' "$encoder" "$("$PY" -c "print(240 / $encoder)")"
  for run in "cuda fp32" "cuda fp16" "tensorrt fp16"; do
    set -- $run
    nvidia-smi --query-gpu=utilization.gpu --format=csv,noheader,nounits -lms 200 >"$work/busy.log" &
    sampler=$!
    took=$(RUST_LOG=frameforge=info wall "$BIN" run "$(restore_pipeline "$clip" "$work/pr-$1-$2" "$1" 0 libx264 4 "$2" veryfast)" --threads "$CORES" --force)
    kill "$sampler"
    busy=$("$PY" -c "import sys; v=[float(x) for x in open(sys.argv[1]) if x.strip()]; print(round(sum(v)/max(len(v),1)))" "$work/busy.log")
    printf '  %-8s %-4s %6.2f s (%5.1f fps), GPU busy %s%%\n' "$1" "$2" "$took" "$("$PY" -c "print(240 / $took)")" "$busy"
    grep -h "float16\|float32\|tensorrt" "$work/last.log" | head -2 | sed 's/^/    /'
  done
  for run in "cuda fp32" "cuda fp16"; do
    set -- $run
    "$BIN" run "$(restore_pipeline "$clip" "$work/lossless-$2" cuda 0 ffv1 4 "$2")" --quiet --force >/dev/null
  done
  printf '  fp16 against fp32 (ffv1): %s\n' "$(psnr "$work/lossless-fp32/pr-720.mkv" "$work/lossless-fp16/pr-720.mkv")"
fi
