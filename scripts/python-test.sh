#!/usr/bin/env bash
# Builds the `cadenza` Python package as a wheel, installs it into a virtual environment
# (.venv-py/, made on first use; --clean makes it anew) with the pinned test dependencies of
# python/requirements-test.txt, PyTorch on CPU and Stable-Baselines3 (for the SB3 tests), and
# runs the Python tests (with the debug `cadenza` binary built and named by CADENZA_BIN for the
# tests that run the command line).
#
# The first run downloads about 2.2 GB (torch and the CUDA libraries it links; see
# python/requirements-torch.txt), 3.6 GB in the venv; later runs find them there and download
# nothing.
#
#   bash scripts/python-test.sh [--clean] [extra pytest arguments]
#
# PYTHON picks the interpreter (default python3, 3.10 or newer: torch and SB3 need it).
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.venv-py
if [[ "${1:-}" == "--clean" ]]; then
    rm -rf "$venv"
    shift
fi
if [[ ! -x "$venv/bin/python" ]]; then
    "${PYTHON:-python3}" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r python/requirements-test.txt
# --no-deps: torch's declared dependencies are about 2.7 GB of CUDA packages, most of which a
# CPU never loads; the requirement files list what is needed, pinned.
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps \
    -r python/requirements-torch.txt -r python/requirements-sb3.txt

wheels=target/python-wheels
rm -rf "$wheels"
"$venv/bin/maturin" build --release --manifest-path python/Cargo.toml \
    --interpreter "$venv/bin/python" --out "$wheels"

# Installed like any user's wheel: dependencies resolved from its metadata.
"$venv/bin/python" -m pip uninstall --quiet --yes cadenza >/dev/null 2>&1 || true
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$wheels"/cadenza-*.whl

# The `cadenza` binary, for the tests that run the command line (session export --duet), with
# the features scripts/test.sh builds (tch when libtorch is in .libtorch/), so its build is reused.
features="${CADENZA_FEATURES-}"
if [ -z "${CADENZA_FEATURES+set}" ] && [ -e .libtorch/torch/lib/libtorch_cpu.so ]; then
    features=tch
fi
cargo build --bin cadenza ${features:+--features "$features"}
export CADENZA_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/cadenza"

# The pytest script, not `python -m pytest`, so that python/cadenza (sources without the
# native module) does not shadow the installed package.
"$venv/bin/pytest" -p no:cacheprovider python/tests "$@"
