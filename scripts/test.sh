#!/usr/bin/env bash
# Run manywheel's whole test suite: the one command for newcomers and for CI.
#
# usage: bash scripts/test.sh [CARGO TEST ARGS...]   e.g. bash scripts/test.sh -p manywheel-elf
# First it installs what the tests need (scripts/setup.sh: Debian packages as root, the
# reference auditwheel in .venv, the PyPI corpus); each step is skipped when already done.
# MANYWHEEL_SKIP_SETUP=1 skips setup entirely (the exported variables are still set).
# Tests run in release mode: the differential tests over big corpus wheels are slow in debug.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
if [[ ${MANYWHEEL_SKIP_SETUP:-0} == 1 ]]; then
  source scripts/setup.sh env
else
  source scripts/setup.sh apt venv corpus
fi
echo "test: MANYWHEEL_AUDITWHEEL=$MANYWHEEL_AUDITWHEEL MANYWHEEL_CORPUS=$MANYWHEEL_CORPUS" >&2
exec cargo test --workspace --release --no-fail-fast "$@"
