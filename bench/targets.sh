#!/usr/bin/env bash
# Time `manywheel target add ARCH` from an empty cache, and the start-up overhead of
# `manywheel run --arch ARCH -- python3 -c pass` against native, measured in the same run (best
# of N, default 5): the x86_64 target's own python3 (the same CPython build as every other
# target's) run natively by `manywheel run`, and the host's python3 executable started directly.
#
# usage: bash bench/targets.sh [--repeat N] [ARCH...]   (default: every arch, riscv64 on trixie)
# Uses a fresh cache in a temporary folder (deleted afterwards) and the Debian mirror.
# Times target/release/manywheel unless MANYWHEEL_BIN names another binary.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${MANYWHEEL_BIN:-$root/target/release/manywheel}
[[ -x $bin ]] || { echo "error: $bin missing: cargo build --release" >&2; exit 2; }
repeat=5
if [[ ${1:-} == --repeat ]]; then repeat=$2; shift 2; fi
archs=("$@")
[[ ${#archs[@]} == 0 ]] && archs=(x86_64 i686 aarch64 armv7l ppc64le s390x riscv64)
cache=$(mktemp -d)
trap 'rm -rf "$cache"' EXIT
export MANYWHEEL_CACHE=$cache

now() { date +%s.%N; }
# best wall time of $repeat runs of "$@" (output discarded)
best() {
  local b="" t0 t1 d i
  for ((i = 0; i < repeat; i++)); do
    t0=$(now); "$@" >/dev/null 2>&1 || { echo "error: $* failed" >&2; return 1; }; t1=$(now)
    d=$(echo "$t1 - $t0" | bc -l)
    if [[ -z $b ]] || (( $(echo "$d < $b" | bc -l) )); then b=$d; fi
  done
  printf '%.3f' "$b"
}

host_exe=$(python3 -c 'import sys; print(sys.executable)')
host_py=$(best "$host_exe" -c pass)
rows=()
native=""
# x86_64 first: its native run is the baseline of the ratio column
ordered=(x86_64)
for a in "${archs[@]}"; do [[ $a == x86_64 ]] || ordered+=("$a"); done
for a in "${ordered[@]}"; do
  distro=debian:bookworm
  [[ $a == riscv64 ]] && distro=debian:trixie
  t0=$(now)
  path=$("$bin" target add "$a" --distro "$distro" --quiet)
  add=$(printf '%.1f' "$(echo "$(now) - $t0" | bc -l)")
  size=$(du -sh "$path" | cut -f1)
  run=$(best "$bin" run --arch "$a" --target "$(basename "$path")" -- python3 -c pass)
  how=emulated
  [[ $a == x86_64 || $a == i686 ]] && how=native
  [[ $a == x86_64 ]] && native=$run
  ratio=$(printf '%.1f×' "$(echo "$run / $native" | bc -l)")
  rows+=("| $a | $distro | $add | $size | $run | $ratio | $how |")
done
echo "| arch | distro | add from empty cache s | size | \`run … python3 -c pass\` s | vs native x86_64 target | how |"
echo "|---|---|---:|---:|---:|---:|---|"
printf '%s\n' "${rows[@]}"
echo
echo "host python3 ($host_exe) started directly: $host_py s"
