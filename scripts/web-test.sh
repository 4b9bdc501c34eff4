#!/usr/bin/env bash
# End-to-end test of `cadenza session --web` in headless Chromium (tests/web/e2e.mjs).
# Installs what it needs, idempotently: Debian's chromium (when /usr/bin/chromium is missing;
# needs root, as in CI) and playwright-core from tests/web/package-lock.json.
# CADENZA_FEATURES picks the cargo features of the binary (default: tch when libtorch is
# installed in .libtorch/, as scripts/test.sh does, so that its build is reused).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x /usr/bin/chromium ]; then
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y chromium
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y nodejs npm
fi
if [ ! -f tests/web/node_modules/playwright-core/package.json ]; then
  (cd tests/web && npm ci --no-audit --no-fund)
fi

features="${CADENZA_FEATURES-}"
if [ -z "${CADENZA_FEATURES+set}" ] && [ -e .libtorch/torch/lib/libtorch_cpu.so ]; then
  features=tch
fi
cargo build --bin cadenza ${features:+--features "$features"}
CADENZA_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/cadenza" node tests/web/e2e.mjs
