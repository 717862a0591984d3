#!/usr/bin/env bash
# Restoration and captioning on a CUDA GPU: checks that `device: cuda` gives the CPU's
# results, then times FrameForge against the ffmpeg pipe → Python onnxruntime → ffmpeg
# pipe script with the same model on the same GPU, and both on all CPU cores.
#   tools/bench_gpu.sh [check|speed|cpu|throughput]...   (default: all)
# `throughput`: inference alone (`frameforge speed`) at fp32, fp16 and on TensorRT, with
# several tiles a run, at 720x576 and 1920x1080; end to end with the GPU's busy share and
# the process's memory over the run; x264 alone (the encoder's ceiling at the output
# size); the Python pipe script in fp16 with the same encoder; the float16 output's PSNR
# against fp32; and the RRDB x4plus model where it was carried.
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

if run_section throughput; then
  echo "== throughput: animevideov3 x2 (x264 veryfast crf 18 where encoded)"
  clip="$work/tp-720.mp4"
  ffmpeg -v error -y -f lavfi -i "testsrc2=size=720x576:rate=24:duration=10" -c:v libx264 -crf 18 -pix_fmt yuv420p "$clip"
  hd="$work/tp-1080.mp4"
  ffmpeg -v error -y -f lavfi -i "testsrc2=size=1920x1080:rate=24:duration=4" -c:v libx264 -crf 18 -pix_fmt yuv420p "$hd"
  for size in 1440x1152 3840x2160; do
    source=$clip; frames=240
    [ "$size" = 3840x2160 ] && source=$hd && frames=96
    encoder=$(wall ffmpeg -v error -y -i "$source" -vf "scale=${size/x/:}" -c:v libx264 -preset veryfast -crf 18 -threads "$CORES" -f null -)
    printf '  x264 veryfast alone at %s: %6.2f s for %d frames (%5.1f fps): the encoder ceiling\n' "$size" "$encoder" "$frames" "$("$PY" -c "print($frames / $encoder)")"
  done

  echo "  -- inference alone (frameforge speed, 4 sessions, first frame of each not counted)"
  speed_of() { # device precision tile tile_batch size frames [model]
    local yaml="$work/speed-$1-$2-$3-$4.yaml"
    sed -e "s#^device: .*#device: $1#" -e "s#^precision: .*#precision: $2#" -e "s#      tile: .*#      tile: $3\n      tile_batch: $4#" \
      -e "s#model: .*#model: ${7:-$model}#" "$(restore_pipeline "$clip" "$work/unused" "$1" "$3" libx264 4 "$2")" >"$yaml"
    "$BIN" speed "$yaml" --size "$5" --frames "$6" --json 2>"$work/speed.log" | "$PY" -c "import json,sys; s=json.load(sys.stdin); print(f\"{s['frames_per_second']:7.1f} fps ({s['input_megapixels_per_second']:.0f} Mpixel/s in), warm-up {s['warm_up_seconds']:.1f} s\")" \
      || { tail -3 "$work/speed.log"; echo "failed"; }
  }
  # TensorRT builds an engine per model, precision and shape (profile) the first time:
  # tens of seconds each, so only the telling ones are timed.
  for run in "cuda fp32 0 1" "cuda fp16 0 1" "cuda fp16 0 2" "cuda fp16 288 4" "tensorrt fp16 0 1" "tensorrt fp16 0 2" "tensorrt fp16 288 4"; do
    set -- $run
    printf '  720x576   %-8s %-4s tile %3s x %s a run: %s\n' "$1" "$2" "$3" "$4" "$(speed_of "$1" "$2" "$3" "$4" 720x576 480)"
  done
  for run in "cuda fp16 0 1" "tensorrt fp16 0 1"; do
    set -- $run
    printf '  1920x1080 %-8s %-4s tile %3s x %s a run: %s\n' "$1" "$2" "$3" "$4" "$(speed_of "$1" "$2" "$3" "$4" 1920x1080 96)"
  done

  echo "  -- end to end (frameforge run, 4 sessions), GPU busy and resident memory over the run"
  end_to_end() { # label source frames device precision tile
    nvidia-smi --query-gpu=utilization.gpu --format=csv,noheader,nounits -lms 200 >"$work/busy.log" &
    local sampler=$! start end pid
    start=$(date +%s.%N)
    "$BIN" run "$(restore_pipeline "$2" "$work/e2e-$1" "$4" "$6" libx264 4 "$5" veryfast)" --threads "$CORES" --force --quiet >"$work/last.log" 2>&1 &
    pid=$!
    : >"$work/rss.log"
    while kill -0 "$pid" 2>/dev/null; do
      awk '/VmRSS/ {print $2}' "/proc/$pid/status" >>"$work/rss.log" 2>/dev/null || true
      sleep 0.5
    done
    wait "$pid" || { tail -5 "$work/last.log"; kill "$sampler"; return 0; }
    end=$(date +%s.%N)
    kill "$sampler"
    "$PY" - "$1" "$3" "$start" "$end" "$work/busy.log" "$work/rss.log" <<'PY'
import sys
label, frames, start, end, busy, rss = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), sys.argv[5], sys.argv[6]
b = [float(x) for x in open(busy) if x.strip()]
r = [int(x) / 1024 for x in open(rss) if x.strip()]
q = lambda f: r[min(len(r) - 1, int(len(r) * f))] if r else 0
took = end - start
print(f"  {label:<28} {took:6.2f} s ({frames / took:5.1f} fps), GPU busy {sum(b) / max(len(b), 1):.0f}% "
      f"(median {sorted(b)[len(b) // 2] if b else 0:.0f}%), RSS MB at 25/50/75/100%: {q(.25):.0f}/{q(.5):.0f}/{q(.75):.0f}/{q(.999):.0f}")
PY
  }
  end_to_end "720x576 cuda fp32" "$clip" 240 cuda fp32 0
  end_to_end "720x576 cuda fp16" "$clip" 240 cuda fp16 0
  end_to_end "720x576 tensorrt fp16" "$clip" 240 tensorrt fp16 0
  end_to_end "1920x1080 tensorrt fp16" "$hd" 96 tensorrt fp16 0

  echo "  -- the Python pipe script on the same GPU, same encoder (x264 veryfast crf 18), whole frames"
  for flag in "" --fp16; do
    theirs=$(wall "$PY" benches/python_pipe_baseline.py "$clip" "$model" "$work/py.mkv" --threads "$CORES" --cuda $flag --preset veryfast) \
      && printf '  python pipe %-6s 720x576: %6.2f s (%5.1f fps)\n' "${flag:-fp32}" "$theirs" "$("$PY" -c "print(240 / $theirs)")" \
      || echo "  python pipe ${flag:-fp32}: failed (a Python onnxruntime with CUDA is needed)"
  done

  for precision in fp32 fp16; do
    "$BIN" run "$(restore_pipeline "$clip" "$work/lossless-$precision" cuda 0 ffv1 4 "$precision")" --quiet --force >/dev/null
  done
  printf '  fp16 against fp32 (ffv1): %s\n' "$(psnr "$work/lossless-fp32/tp-720.mkv" "$work/lossless-fp16/tp-720.mkv")"

  heavy=$PWD/models/realesrgan-x4plus.onnx
  if [ -f "$heavy" ]; then
    for run in "cuda fp16 0 1" "tensorrt fp16 0 1"; do
      set -- $run
      printf '  x4plus 720x576 %-8s %-4s: %s\n' "$1" "$2" "$(speed_of "$1" "$2" "$3" "$4" 720x576 48 "$heavy")"
    done
  else
    echo "  x4plus: not carried (models/realesrgan-x4plus.onnx is installed by tools/install_models.sh)"
  fi
fi
