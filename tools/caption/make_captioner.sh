#!/usr/bin/env bash
# Rebuilds the small demo captioner and its fixtures from scratch:
#   models/captioner/   ONNX export (Optimum layout) + captioner.yaml
#   fixtures/caption/   held-out PNGs + reference.json (generate() goldens),
#                       shapes.mkv + shapes.json, stills/ + stills.json
#
# One-time setup, from the repository root (PyPI's torch brings ~4 GB of
# CUDA packages; nothing here uses a GPU):
#   python3 -m venv .venv-caption && .venv-caption/bin/pip install -r tools/caption/requirements.txt
#
# Then:
#   tools/caption/make_captioner.sh
#
# Takes 15-20 minutes on 2 idle CPU cores, most of it training (run niced, so
# other work on the machine keeps going). Every random choice is seeded:
# training scenes come from seed 1, held-out scenes from seed 2. Training
# on a different CPU or thread count can round differently, so expect the
# same metrics give or take, not necessarily the same weights; everything
# after training (export, goldens, clips) is deterministic for a given model.
# The transformers model and the raw export stay in out/caption/.
# The last step checks the ONNX graphs with a plain onnxruntime loop and
# fails if its tokens differ from generate()'s.
set -euo pipefail

cd "$(dirname "$0")/../.."
PY=${PYTHON:-.venv-caption/bin/python}
OPTIMUM=${OPTIMUM_CLI:-.venv-caption/bin/optimum-cli}
WORK=out/caption
MODELS=models/captioner
FIX=fixtures/caption
# Idle OpenMP threads sleep instead of spinning: the machine is shared.
export OMP_WAIT_POLICY=PASSIVE PYTHONHASHSEED=0 TOKENIZERS_PARALLELISM=false

echo "== train (tokenizer + model)"
rm -rf "$WORK/model"
nice -n 10 "$PY" tools/caption/train.py "$WORK/model"

echo "== export to ONNX"
rm -rf "$WORK/onnx"
"$OPTIMUM" export onnx --model "$WORK/model" --task image-to-text-with-past "$WORK/onnx"
rm -rf "$MODELS"
mkdir -p "$MODELS"
# Exactly what Optimum writes, nothing else.
cp "$WORK"/onnx/* "$MODELS"/
"$PY" tools/caption/sidecar.py "$MODELS" "$WORK/model/metrics.json"

echo "== goldens and demo media"
# Only what the tools write: fixtures/caption/README.md stays.
rm -rf "$FIX"/heldout "$FIX"/stills "$FIX"/*.json "$FIX"/*.mkv
mkdir -p "$FIX"
"$PY" tools/caption/make_reference.py "$WORK/model" "$FIX"
"$PY" tools/caption/make_clips.py "$FIX" "$WORK/model"

echo "== ONNX Runtime loop vs generate()"
"$PY" tools/caption/check_onnx.py "$MODELS" "$WORK/model" "$FIX" --speed "${SPEED_SCENES:-200}"
du -b "$MODELS"/* "$FIX"/*.mkv | sort -k2
