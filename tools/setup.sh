#!/usr/bin/env bash
# Installs what FrameForge needs to build and run, idempotently:
#   - Debian packages: ffmpeg 5.1 libraries and headers, clang for bindgen, g++ for the
#     Adobe XMP Toolkit (built from source by the xmp_toolkit crate), the ffmpeg CLI
#     (tests compare against ffprobe);
#   - the ONNX Runtime shared library, taken from PyPI's `onnxruntime` wheel, into
#     ${XDG_DATA_HOME:-~/.local/share}/frameforge/onnxruntime, where the binary looks for it;
#   - on a machine with an NVIDIA driver (/proc/driver/nvidia or /dev/nvidiactl), also the
#     GPU build (PyPI `onnxruntime-gpu`: its library and CUDA/TensorRT providers) into
#     .../frameforge/onnxruntime-gpu and the CUDA 13 runtime, cuBLAS, cuFFT, cuRAND,
#     NVRTC and cuDNN 9 wheels it needs (PyPI `nvidia-*`) into .../frameforge/nvidia; the
#     binary prefers that build when the driver is there and loads those libraries
#     itself. FRAMEFORGE_TENSORRT=1 adds TensorRT's libraries (PyPI tensorrt-cu13-libs,
#     about 2 GB) for `device: tensorrt`; FRAMEFORGE_GPU=0 skips the GPU part.
#   - with --tests, also Chromium, which the report test renders report.html with, and
#     Slurm (slurm-wlm, munge), which the Slurm array test starts a one-node cluster of,
#     and exiftool, which the metadata tests read the written XMP back with.
# Uses sudo for apt when not root.
set -euo pipefail

ORT_VERSION=1.31.1
DATA_HOME="${XDG_DATA_HOME:-$HOME/.local/share}"
ORT_DIR="$DATA_HOME/frameforge/onnxruntime"
ORT_LIB="$ORT_DIR/libonnxruntime.so.$ORT_VERSION"
GPU_DIR="$DATA_HOME/frameforge/onnxruntime-gpu"
NVIDIA_DIR="$DATA_HOME/frameforge/nvidia"
# What onnxruntime-gpu $ORT_VERSION asks for in its `cuda` and `cudnn` extras, and cuBLAS.
NVIDIA_WHEELS=("nvidia-cuda-runtime~=13.0" "nvidia-cuda-nvrtc~=13.0" "nvidia-cublas~=13.0"
  "nvidia-cufft~=12.0" "nvidia-curand~=10.0" "nvidia-cudnn-cu13~=9.0")

APT_PACKAGES=(libavcodec-dev libavformat-dev libavutil-dev libswscale-dev libswresample-dev
  libavfilter-dev libavdevice-dev pkg-config clang libclang-dev g++ ffmpeg)
[ "${1:-}" = "--tests" ] && APT_PACKAGES+=(chromium slurm-wlm munge libimage-exiftool-perl bsdutils)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Extracts the files named by the remaining arguments from the wheel of package $1
# (pinned, e.g. onnxruntime==1.31.1) into folder $2, each file written whole or not at all.
extract_from_wheel() {
  local package=$1 target=$2 work
  shift 2
  command -v python3 >/dev/null || { echo "setup: python3 with pip is needed to fetch ONNX Runtime from PyPI" >&2; exit 1; }
  work=$(mktemp -d)
  python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$work" "$package"
  python3 - "$work" "$target" "$@" <<'PY'
import glob, os, sys, zipfile
work, target, names = sys.argv[1], sys.argv[2], sys.argv[3:]
wheel = glob.glob(os.path.join(work, "*.whl"))[0]
os.makedirs(target, exist_ok=True)
with zipfile.ZipFile(wheel) as z:
    for name in names:
        base = os.path.basename(name)
        tmp = os.path.join(target, f".{base}.part")
        with open(tmp, "wb") as f:
            f.write(z.read(name))
        os.replace(tmp, os.path.join(target, base))
PY
  rm -rf "$work"
}

if [ ! -f "$ORT_LIB" ]; then
  echo "setup: installing ONNX Runtime $ORT_VERSION into $ORT_DIR"
  extract_from_wheel "onnxruntime==$ORT_VERSION" "$ORT_DIR" "onnxruntime/capi/libonnxruntime.so.$ORT_VERSION"
fi
echo "setup: ok (ONNX Runtime at $ORT_LIB)"

gpu_present() { [ -e /proc/driver/nvidia/version ] || [ -e /dev/nvidiactl ]; }
if [ "${FRAMEFORGE_GPU:-1}" != 0 ] && gpu_present; then
  if [ ! -f "$GPU_DIR/libonnxruntime.so.$ORT_VERSION" ]; then
    echo "setup: NVIDIA driver found; installing ONNX Runtime $ORT_VERSION's GPU build into $GPU_DIR"
    capi=onnxruntime/capi
    extract_from_wheel "onnxruntime-gpu==$ORT_VERSION" "$GPU_DIR" "$capi/libonnxruntime_providers_shared.so" \
      "$capi/libonnxruntime_providers_cuda.so" "$capi/libonnxruntime_providers_tensorrt.so" \
      "$capi/libonnxruntime.so.$ORT_VERSION"
  fi
  wheels=("${NVIDIA_WHEELS[@]}")
  [ "${FRAMEFORGE_TENSORRT:-0}" = 1 ] && wheels+=("tensorrt-cu13-libs>=10,<11")
  marker="$NVIDIA_DIR/.installed"
  if [ ! -f "$marker" ] || [ "$(cat "$marker")" != "${wheels[*]}" ]; then
    echo "setup: installing the CUDA libraries it needs into $NVIDIA_DIR (${wheels[*]})"
    rm -rf "$NVIDIA_DIR.part"
    python3 -m pip install --quiet --no-compile --only-binary=:all: --target "$NVIDIA_DIR.part" "${wheels[@]}"
    rm -rf "$NVIDIA_DIR"
    mv "$NVIDIA_DIR.part" "$NVIDIA_DIR"
    echo "${wheels[*]}" >"$marker"
  fi
  echo "setup: ok (GPU build at $GPU_DIR, CUDA libraries in $NVIDIA_DIR)"
fi
