#!/usr/bin/env bash
# Soak test of `cadenza session --web` under attack (examples/soak.rs): slow clients hold
# rating bodies open and waves of concurrent changes of task flood the server while a
# scripted listener rates 200 phrases; then every acknowledged rating must be in the log,
# the log must replay to exactly those ratings, and a resumed session must match the live
# one. A normal client's GET /api/state latency is reported against 100 ms.
#
# Not part of `cargo test`. Loopback only (127.0.0.1, a free port); bounded: at most
# --time-limit-s seconds (default 600), 4 slow connections at a time, one wave of 40
# settings requests every 2 s. Extra arguments go to the example, e.g.
#   scripts/soak.sh --phrases 50 --flood 20
# Features follow scripts/web-test.sh: tch when libtorch is installed in .libtorch/.
set -euo pipefail
cd "$(dirname "$0")/.."
features="${CADENZA_FEATURES-}"
if [ -z "${CADENZA_FEATURES+set}" ] && [ -e .libtorch/torch/lib/libtorch_cpu.so ]; then
  features=tch
fi
cargo build --release --example soak ${features:+--features "$features"}
target="${CARGO_TARGET_DIR:-target}"
timeout 900 "$target/release/examples/soak" "$@"
