#!/usr/bin/env bash
# The model table: every models/*.onnx with a `kind: restore` sidecar, measured on
# degraded public-domain/CC0 photographs (scikit-image) against a bicubic baseline,
# plus CPU speed. Writes docs/model-table.md, docs/model-table*.png and the "Model
# table" section of BENCHMARKS.md. 11-18 minutes on a 2-core machine with the three
# RRDB models installed (tools/install_models.sh), about 3 minutes without them.
#   tools/model_table.sh [tools/model_table.py options, e.g. --only NAME,NAME]
# Needs target/release/frameforge (cargo build --release) and .venv with numpy,
# scipy, scikit-image and pillow (tools/requirements-models.txt).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x target/release/frameforge ] || { echo "build first: cargo build --release" >&2; exit 2; }
[ -x .venv/bin/python ] || { echo "no .venv: python3 -m venv .venv && .venv/bin/pip install -r tools/requirements-models.txt" >&2; exit 2; }
exec .venv/bin/python tools/model_table.py --benchmarks BENCHMARKS.md "$@"
