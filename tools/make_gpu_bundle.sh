#!/usr/bin/env bash
# Makes .gpu/bundle.tar.xz (git-ignored): what a lent GPU machine lacks to run FrameForge
# and tools/bench_gpu.sh. It has an NVIDIA GPU, its driver, CUDA 13 and cuDNN 9 (a
# PyTorch install's `nvidia-*` wheels) and Python 3.12 with numpy and onnx, but no
# network, no FFmpeg and no ONNX Runtime with CUDA. What travels to it (the tracked tree
# and this bundle) must stay under 64 MiB, so everything is cut to what the benchmark
# runs:
#   ffmpeg/      FFmpeg (Debian's version, from Debian's orig tarball: the same sonames and
#                ABI as the libraries this binary links) with x264 and only the codecs,
#                formats and protocols the benchmark's clips and pipes use (every filter),
#                its ffmpeg/ffprobe, and Debian's libx264.so.164;
#   data/frameforge/onnxruntime-gpu/
#                PyPI onnxruntime-gpu's library and providers, the CUDA provider's GPU code
#                cut to one architecture (tools/gpu_bundle/trim_fatbin.py);
#   python/onnxruntime/
#                the same wheel's Python package (for the Python pipe baseline), its
#                providers linked to the ones above rather than copied;
#   bin/frameforge  this tree's release build, stripped.
# On the machine, tools/gpu_bundle/on_device.sh unpacks it and runs a command with it.
#   tools/make_gpu_bundle.sh [SM]     (SM: the GPU's architecture, default 90 = H100/H200)
# Takes about 9 minutes on 2 cores (FFmpeg's build) the first time; FFmpeg's build is
# kept in .gpu-build/ (git-ignored, not carried) for the next bundle. Carry only .gpu/.
set -euo pipefail
cd "$(dirname "$0")/.."
SM=${1:-90}
ORT_VERSION=1.31.1
DEVICE_PYTHON=3.12
TRAVEL_LIMIT=$((64 * 1048576))
OUT=.gpu
CACHE=.gpu-build
STAGE=$CACHE/stage
mkdir -p "$OUT" "$CACHE"
rm -rf "$STAGE"
mkdir -p "$STAGE/bin" "$STAGE/ffmpeg/lib" "$STAGE/data/frameforge/onnxruntime-gpu" "$STAGE/python"

# FFmpeg: Debian's upstream version, built with what bench_gpu.sh needs: x264, zlib, and
# the decoders, encoders and formats of its clips, pipes and checks.
version=$(dpkg-query -W -f='${Version}' libavcodec-dev | sed 's/^[0-9]*://; s/-.*//')
build=$CACHE/ffmpeg-$version-lean
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
      --enable-libx264 --enable-zlib --disable-autodetect --disable-doc --disable-network --disable-debug \
      --disable-encoders --disable-decoders --disable-muxers --disable-demuxers --disable-parsers \
      --disable-protocols --disable-indevs --disable-outdevs --disable-hwaccels \
      --enable-decoder=h264,hevc,ffv1,mpeg1video,mpeg2video,mpeg4,vp8,vp9,dvvideo,mjpeg,png,rawvideo,aac,ac3,mp3,mp2,pcm_s16le,pcm_s24le,pcm_f32le,subrip,srt,ass,ssa,webvtt,mov_text,dvd_subtitle \
      --enable-encoder=libx264,ffv1,rawvideo,png,mjpeg,aac,subrip,srt,ass,ssa,webvtt,mov_text,wrapped_avframe,pcm_s16le \
      --enable-muxer=matroska,webm,mp4,mov,null,rawvideo,image2,image2pipe,ipod,mpegts,framemd5,md5,webvtt,srt,ass,wav \
      --enable-demuxer=matroska,mov,mpegps,mpegts,avi,dv,rawvideo,image2,image2pipe,concat,srt,ass,webvtt,wav,h264,hevc,mpegvideo,m4v \
      --enable-parser=h264,hevc,mpegvideo,mpeg4video,aac,ac3,vp8,vp9,mjpeg,png,mpegaudio,dvd_nav \
      --enable-protocol=file,pipe --enable-indev=lavfi >/dev/null &&
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
# The device's Python's wheel: its libraries are the same in every Python's wheel.
"$py" -m pip download --quiet --no-deps --only-binary=:all: --dest "$wheel_dir" \
  --python-version "$DEVICE_PYTHON" --implementation cp --platform manylinux_2_28_x86_64 \
  --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 "onnxruntime-gpu==$ORT_VERSION"
"$py" - "$wheel_dir" "$STAGE" "$ORT_VERSION" <<'PY'
import glob, os, sys, zipfile
wheel_dir, stage, version = sys.argv[1:]
libraries = os.path.join(stage, "data/frameforge/onnxruntime-gpu")
wheel = glob.glob(os.path.join(wheel_dir, "*.whl"))[0]
providers = ["libonnxruntime_providers_shared.so", "libonnxruntime_providers_cuda.so",
             "libonnxruntime_providers_tensorrt.so"]
with zipfile.ZipFile(wheel) as z:
    for name in [f"libonnxruntime.so.{version}"] + providers:
        with open(os.path.join(libraries, name), "wb") as f:
            f.write(z.read(f"onnxruntime/capi/{name}"))
    # The Python package: its extension holds its own runtime; the providers it loads
    # from beside itself are links to the library's.
    for info in z.infolist():
        name = info.filename
        if not name.startswith("onnxruntime/") or name.endswith("/"):
            continue
        base = os.path.basename(name)
        if name.startswith("onnxruntime/capi/") and base.startswith("libonnxruntime"):
            continue
        target = os.path.join(stage, "python", name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as f:
            f.write(z.read(name))
    capi = os.path.join(stage, "python/onnxruntime/capi")
    for name in providers:
        os.symlink(os.path.join("../../../data/frameforge/onnxruntime-gpu", name), os.path.join(capi, name))
PY
provider=$STAGE/data/frameforge/onnxruntime-gpu/libonnxruntime_providers_cuda.so
"$py" tools/gpu_bundle/trim_fatbin.py "$provider" "$SM" "$provider.trimmed"
mv "$provider.trimmed" "$provider"

# The binary.
cargo build --release --quiet
strip -o "$STAGE/bin/frameforge" target/release/frameforge

# x86 code compresses a tenth better through xz's branch filter.
tar -C "$STAGE" -cf - . | xz --x86 --lzma2=preset=9e,dict=192MiB -T1 >"$OUT/bundle.tar.xz"
rm -rf "$STAGE"
size=$(stat -c %s "$OUT/bundle.tar.xz")
tree=$(git ls-files -z | xargs -0 stat -c %s | awk '{s += $1} END {print s}')
untracked=$(git ls-files -z --others --exclude-standard | xargs -0 -r stat -c %s | awk '{s += $1} END {print s + 0}')
travel=$((size + tree + untracked))
echo "make_gpu_bundle: $OUT/bundle.tar.xz, $((size / 1048576)) MiB (sm_$SM); with the tree, $((travel / 1048576)) of $((TRAVEL_LIMIT / 1048576)) MiB travel"
[ "$travel" -lt "$TRAVEL_LIMIT" ] || { echo "make_gpu_bundle: the tree and the bundle are over 64 MiB: they will not travel" >&2; exit 1; }
