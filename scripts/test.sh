#!/usr/bin/env bash
# Runs every test of the workspace, the policy-gradient agents on libtorch included.
# Installs the pinned libtorch into .libtorch/ first (idempotent; see scripts/libtorch.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/libtorch.sh
cargo test --workspace --features tch "$@"
# The Python package (gymnasium env, native vector env) and its pytest suite.
bash scripts/python-test.sh
bash scripts/web-test.sh
