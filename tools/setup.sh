#!/usr/bin/env bash
# Installs what FrameForge needs to build and run, idempotently:
#   - Debian packages: ffmpeg 5.1 libraries and headers, clang for bindgen, g++ for the
#     Adobe XMP Toolkit (built from source by the xmp_toolkit crate), the ffmpeg CLI
#     (tests compare against ffprobe);
#   - the ONNX Runtime shared library, taken from PyPI's `onnxruntime` wheel, into
#     ${XDG_DATA_HOME:-~/.local/share}/frameforge/onnxruntime, where the binary looks for it.
#   - with --tests, also Chromium, which the report test renders report.html with, and
#     Slurm (slurm-wlm, munge), which the Slurm array test starts a one-node cluster of,
#     and exiftool, which the metadata tests read the written XMP back with.
# Uses sudo for apt when not root.
set -euo pipefail

ORT_VERSION=1.31.1
DATA_HOME="${XDG_DATA_HOME:-$HOME/.local/share}"
ORT_DIR="$DATA_HOME/frameforge/onnxruntime"
ORT_LIB="$ORT_DIR/libonnxruntime.so.$ORT_VERSION"

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

if [ ! -f "$ORT_LIB" ]; then
  command -v python3 >/dev/null || { echo "setup: python3 with pip is needed to fetch ONNX Runtime from PyPI" >&2; exit 1; }
  echo "setup: installing ONNX Runtime $ORT_VERSION into $ORT_DIR"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$work" "onnxruntime==$ORT_VERSION"
  python3 - "$work" "$ORT_DIR" "$ORT_VERSION" <<'PY'
import glob, os, sys, zipfile
work, target, version = sys.argv[1:]
wheel = glob.glob(os.path.join(work, "onnxruntime-*.whl"))[0]
name = f"onnxruntime/capi/libonnxruntime.so.{version}"
os.makedirs(target, exist_ok=True)
with zipfile.ZipFile(wheel) as z:
    data = z.read(name)
tmp = os.path.join(target, f".libonnxruntime.so.{version}.part")
with open(tmp, "wb") as f:
    f.write(data)
os.replace(tmp, os.path.join(target, f"libonnxruntime.so.{version}"))
PY
fi
echo "setup: ok (ONNX Runtime at $ORT_LIB)"
