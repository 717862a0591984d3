#!/usr/bin/env bash
# On a lent GPU machine: unpacks .gpu/bundle.tar.xz (tools/make_gpu_bundle.sh) and runs
# COMMAND with it: FrameForge's data directory holds the GPU build of ONNX Runtime, and
# its `nvidia` folder is the machine's own CUDA 13 / cuDNN 9 wheels (a PyTorch install),
# so the binary finds and loads them itself, as after `bash tools/setup.sh` on a GPU
# machine; FFmpeg comes from the bundle. PY is a python3 that imports the bundle's
# onnxruntime (with CUDA) before the machine's own, with the CUDA libraries on its
# loader's path as a pip user would set it.
#   tools/gpu_bundle/on_device.sh COMMAND...     e.g. bash tools/bench_gpu.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
root=${FF_BUNDLE_ROOT:-/tmp/frameforge-bundle}
rm -rf "$root" && mkdir -p "$root"
xz -dc .gpu/bundle.tar.xz | tar -C "$root" -xf -
cudart=$(find / -xdev -name libcudart.so.13 -path "*nvidia*" 2>/dev/null | head -1)
[ -n "$cudart" ] || { echo "on_device: no CUDA 13 runtime (libcudart.so.13) on this machine" >&2; exit 1; }
# .../site-packages/nvidia/cu13/lib/libcudart.so.13 → .../site-packages
ln -s "$(dirname "$(dirname "$(dirname "$(dirname "$cudart")")")")" "$root/data/frameforge/nvidia"
export XDG_DATA_HOME=$root/data
export LD_LIBRARY_PATH=$root/ffmpeg/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export PATH=$root/ffmpeg/bin:$PATH
export BIN=$root/bin/frameforge
site=$(readlink "$root/data/frameforge/nvidia")
cuda_dirs=$(find "$site/nvidia" -maxdepth 3 -type d -name lib 2>/dev/null | sort | paste -sd:)
cat >"$root/bin/python3" <<PY
#!/bin/sh
PYTHONPATH=$root/python\${PYTHONPATH:+:\$PYTHONPATH} LD_LIBRARY_PATH=$cuda_dirs:\$LD_LIBRARY_PATH exec $(command -v python3) "\$@"
PY
chmod +x "$root/bin/python3"
export PY=$root/bin/python3
"$@"
