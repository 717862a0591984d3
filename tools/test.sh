#!/usr/bin/env bash
# The test command: installs what is missing (tools/setup.sh), then checks formatting,
# lints and runs every test against the release build (inference is slow unoptimised).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh --tests
cargo fmt --all -- --check
cargo clippy --release --all-targets --locked -- -D warnings
cargo test --release --locked
