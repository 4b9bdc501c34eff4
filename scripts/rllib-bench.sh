#!/usr/bin/env bash
# Ray RLlib on Cadenza: makes a virtual environment .venv-ray/ (on first use; --clean makes it
# anew) with the pinned Ray RLlib of python/requirements-rllib.txt and PyTorch on CPU, builds
# and installs the `cadenza` wheel into it, then runs a Python file of the package with the
# arguments given (default: the env-runner scaling benchmark).
#
#   bash scripts/rllib-bench.sh [--clean] [--setup-only]            # python/bench/rllib_scaling.py
#   bash scripts/rllib-bench.sh python/examples/rllib_ppo.py --env-runners 2 --iterations 10
#
# Not part of the test command: the first run downloads about 2.5 GB (Ray, torch and the CUDA
# libraries torch links; 4.3 GB in the venv), and a Ray cluster takes tens of seconds to
# start. Kept apart from .venv-py/ because RLlib pins its own gymnasium version.
#
# PYTHON picks the interpreter (default python3, 3.10 or newer).
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.venv-ray
if [[ "${1:-}" == "--clean" ]]; then
    rm -rf "$venv"
    shift
fi
if [[ ! -x "$venv/bin/python" ]]; then
    "${PYTHON:-python3}" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip install --quiet --disable-pip-version-check)
"${pip[@]}" -r python/requirements-rllib.txt
# --no-deps: see python/requirements-torch.txt (torch's declared CUDA stack is about 2.7 GB).
"${pip[@]}" --no-deps -r python/requirements-torch.txt

wheels=target/python-wheels-ray
rm -rf "$wheels"
"$venv/bin/maturin" build --quiet --release --manifest-path python/Cargo.toml \
    --interpreter "$venv/bin/python" --out "$wheels"
"$venv/bin/python" -m pip uninstall --quiet --yes cadenza >/dev/null 2>&1 || true
"${pip[@]}" "$wheels"/cadenza-*.whl

if [[ "${1:-}" == "--setup-only" ]]; then
    exit 0
fi
if [[ $# -eq 0 || "$1" == -* ]]; then
    set -- python/bench/rllib_scaling.py "$@"
fi
# Run from outside python/ so that python/cadenza (sources without the native module) does not
# shadow the installed package.
exec "$venv/bin/python" "$@"
