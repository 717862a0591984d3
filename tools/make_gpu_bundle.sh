#!/usr/bin/env bash
# Makes .gpu/bundle.tar.xz (git-ignored, under the 64 MiB a lent GPU machine takes with
# the working tree): what such a machine lacks to run FrameForge and tools/bench_gpu.sh.
# It has an NVIDIA GPU, its driver, CUDA 13 and cuDNN 9 (a PyTorch install's `nvidia-*`
# wheels) and Python with numpy, but no network, no FFmpeg and no ONNX Runtime.
#   ffmpeg/      FFmpeg (Debian's version, from Debian's orig tarball: the same sonames and
#                ABI as the libraries this binary links) with x264, its ffmpeg/ffprobe, and
#                Debian's libx264.so.164;
#   data/frameforge/onnxruntime-gpu/
#                PyPI onnxruntime-gpu's library and providers, the CUDA provider's GPU code
#                cut to one architecture (tools/gpu_bundle/trim_fatbin.py);
#   bin/frameforge  this tree's release build, stripped.
# On the machine, tools/gpu_bundle/on_device.sh unpacks it and runs a command with it.
# Not in it yet: the wheel's Python package, which bench_gpu.sh's Python pipe baseline
# imports (the machine's Python has numpy but no onnxruntime).
#   tools/make_gpu_bundle.sh [SM]     (SM: the GPU's architecture, default 90 = H100/H200)
# Takes about 9 minutes on 2 cores (FFmpeg's build) the first time; FFmpeg's build is
# kept in .gpu-build/ (git-ignored, not carried) for the next bundle. Carry only .gpu/.
set -euo pipefail
cd "$(dirname "$0")/.."
SM=${1:-90}
ORT_VERSION=1.31.1
OUT=.gpu
CACHE=.gpu-build
STAGE=$CACHE/stage
mkdir -p "$OUT" "$CACHE"
rm -rf "$STAGE"
mkdir -p "$STAGE/bin" "$STAGE/ffmpeg/lib" "$STAGE/data/frameforge/onnxruntime-gpu"

# FFmpeg: Debian's upstream version, built with what bench_gpu.sh needs (x264, zlib).
version=$(dpkg-query -W -f='${Version}' libavcodec-dev | sed 's/^[0-9]*://; s/-.*//')
build=$CACHE/ffmpeg-$version
if [ ! -f "$build/.done" ]; then
  apt_missing=()
  for pkg in nasm libx264-dev zlib1g-dev xz-utils; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || apt_missing+=("$pkg")
  done
  if [ ${#apt_missing[@]} -gt 0 ]; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${apt_missing[@]}" >/dev/null
  fi
  rm -rf "$build" && mkdir -p "$build"
  tarball=$CACHE/ffmpeg_$version.orig.tar.xz
  [ -f "$tarball" ] || curl -fsSL -o "$tarball" "http://deb.debian.org/debian/pool/main/f/ffmpeg/ffmpeg_$version.orig.tar.xz"
  tar -xJf "$tarball" -C "$build" --strip-components=1
  (cd "$build" && ./configure --prefix="$PWD/installed" --enable-shared --disable-static --enable-gpl \
      --enable-libx264 --enable-zlib --disable-autodetect --disable-doc >/dev/null &&
    make -j"$(nproc)" >/dev/null && make install >/dev/null)
  touch "$build/.done"
fi
cp -a "$build"/installed/lib/lib*.so* "$STAGE/ffmpeg/lib/"
cp -L /usr/lib/x86_64-linux-gnu/libx264.so.164 "$STAGE/ffmpeg/lib/"
mkdir -p "$STAGE/ffmpeg/bin"
cp "$build"/installed/bin/{ffmpeg,ffprobe} "$STAGE/ffmpeg/bin/"

# ONNX Runtime's GPU build, its CUDA provider cut to sm_$SM.
py=.venv/bin/python
[ -x "$py" ] || py=python3
"$py" -m pip install --quiet pyelftools zstandard
wheel_dir=$(mktemp -d)
trap 'rm -rf "$wheel_dir"' EXIT
"$py" -m pip download --quiet --no-deps --only-binary=:all: --dest "$wheel_dir" "onnxruntime-gpu==$ORT_VERSION"
"$py" - "$wheel_dir" "$STAGE/data/frameforge/onnxruntime-gpu" "$ORT_VERSION" <<'PY'
import glob, os, sys, zipfile
wheel_dir, target, version = sys.argv[1:]
wheel = glob.glob(os.path.join(wheel_dir, "*.whl"))[0]
names = [f"libonnxruntime.so.{version}", "libonnxruntime_providers_shared.so",
         "libonnxruntime_providers_cuda.so", "libonnxruntime_providers_tensorrt.so"]
with zipfile.ZipFile(wheel) as z:
    for name in names:
        with open(os.path.join(target, name), "wb") as f:
            f.write(z.read(f"onnxruntime/capi/{name}"))
PY
provider=$STAGE/data/frameforge/onnxruntime-gpu/libonnxruntime_providers_cuda.so
"$py" tools/gpu_bundle/trim_fatbin.py "$provider" "$SM" "$provider.trimmed"
mv "$provider.trimmed" "$provider"

# The binary.
cargo build --release --quiet
strip -o "$STAGE/bin/frameforge" target/release/frameforge

tar -C "$STAGE" -cf - . | xz -6 -T0 >"$OUT/bundle.tar.xz"
rm -rf "$STAGE"
size=$(stat -c %s "$OUT/bundle.tar.xz")
echo "make_gpu_bundle: $OUT/bundle.tar.xz, $((size / 1048576)) MiB (sm_$SM)"
[ "$size" -lt $((60 * 1048576)) ] || { echo "make_gpu_bundle: over 60 MiB: it will not travel with the tree" >&2; exit 1; }
