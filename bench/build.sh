#!/usr/bin/env bash
# Build the example project (examples/buildproj) for aarch64 and ppc64le in cross, hybrid and
# emulated mode in the same run and print the times and the ratios against emulated.
#
# usage: bash bench/build.sh [--repeat N] [ARCH...]    (default: aarch64 ppc64le; best of N=1)
# The compiler cache is off (--no-cc-cache) and tests are not run (--no-test), so each mode
# does the same work: the PEP 517 build (setuptools, two extensions) and the repair. The
# targets are made first (not timed). Times target/release/manywheel unless MANYWHEEL_BIN
# names another binary; MANYWHEEL_CACHE is honoured.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${MANYWHEEL_BIN:-$root/target/release/manywheel}
[[ -x $bin ]] || { echo "error: $bin missing: cargo build --release" >&2; exit 2; }
repeat=1
if [[ ${1:-} == --repeat ]]; then repeat=$2; shift 2; fi
archs=("$@")
[[ ${#archs[@]} == 0 ]] && archs=(aarch64 ppc64le)
wh=$(mktemp -d)
trap 'rm -rf "$wh"' EXIT
modes=(cross hybrid emulated)

# seconds of one build (wall), and the backend's own build time from the provenance record
run() {
  local arch=$1 mode=$2 t0 t1 json
  t0=$(date +%s.%N)
  json=$("$bin" build "$root/examples/buildproj" --arch "$arch" --mode "$mode" --no-test \
    --no-cc-cache --quiet --json -w "$wh/$mode")
  t1=$(date +%s.%N)
  local step
  step=$(printf '%s' "$json" | python3 -c 'import json,sys; r=json.load(sys.stdin)[0]; assert r["ok"], r; print("%.1f" % r["provenance"]["seconds"]["build"])')
  printf '%.1f %s\n' "$(echo "$t1 - $t0" | bc -l)" "$step"
}

echo "warming the targets (not timed) ..." >&2
for a in "${archs[@]}"; do
  for m in "${modes[@]}"; do run "$a" "$m" >/dev/null; done
done

echo "| arch | mode | wall s | backend build s | emulated / this (wall) | emulated / this (build) |"
echo "|---|---|---:|---:|---:|---:|"
for a in "${archs[@]}"; do
  declare -A wall=() step=()
  for m in "${modes[@]}"; do
    best_w="" best_s=""
    for ((i = 0; i < repeat; i++)); do
      read -r w s < <(run "$a" "$m")
      if [[ -z $best_w ]] || (( $(echo "$w < $best_w" | bc -l) )); then best_w=$w; best_s=$s; fi
    done
    wall[$m]=$best_w; step[$m]=$best_s
  done
  for m in "${modes[@]}"; do
    rw=$(printf '%.1f×' "$(echo "${wall[emulated]} / ${wall[$m]}" | bc -l)")
    rs=$(printf '%.1f×' "$(echo "${step[emulated]} / ${step[$m]}" | bc -l)")
    echo "| $a | $m | ${wall[$m]} | ${step[$m]} | $rw | $rs |"
  done
done
