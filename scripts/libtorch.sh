#!/usr/bin/env bash
# Installs the libtorch that the `tch` feature links against, inside the repository (.libtorch/),
# from the PyTorch wheel on PyPI. Idempotent: a second run with the right version does nothing.
#
# tch 0.24 pins libtorch 2.11.0. The wheel carries a complete libtorch (headers and shared
# libraries); `--no-deps` skips about 4 GB of CUDA libraries we do not need to build, while the
# two small nvidia packages provide the CUDA runtime pieces that libtorch_cpu.so links against.
set -euo pipefail

TORCH_VERSION=2.11.0
root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/.libtorch"
marker="$venv/.installed-$TORCH_VERSION"

if [ -f "$marker" ] && [ -e "$venv/torch/lib/libtorch_cpu.so" ]; then
  echo "libtorch $TORCH_VERSION already installed in .libtorch/"
  exit 0
fi

python=${PYTHON:-python3}
echo "Installing libtorch $TORCH_VERSION into .libtorch/ (about 560 MB) ..."
"$python" -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps \
  "torch==$TORCH_VERSION" nvidia-cuda-runtime==13.0.96 nvidia-cuda-cupti==13.0.85

purelib=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
# A stable name, so that .cargo/config.toml need not know the Python version.
ln -sfn "$purelib/torch" "$venv/torch"
touch "$marker"
echo "libtorch $TORCH_VERSION installed: .libtorch/torch"
