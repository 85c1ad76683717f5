#!/usr/bin/env bash
# Build the example wheels in examples/wheels/ from the C sources in examples/spam/.
#
# usage: examples/build-wheels.sh [--check] [--out DIR]
#   ARCHES="x86_64 aarch64"   wheel arches to build (also: i686 ppc64le s390x armv7l riscv64)
#   SOURCE_DATE_EPOCH=...     timestamp of every zip member (default 2020-01-01)
#   SYSROOT_CACHE=/tmp/...    where foreign-arch libzstd .debs are unpacked
#   --check                   build into a temp folder and compare byte for byte with the
#                             committed wheels (same toolchain → same bytes)
#
# Needs: the cross gcc for each arch, python3, and for withlib the arch's libzstd-dev
# (host: apt-get install libzstd-dev; foreign: the .debs are fetched with apt-get download,
# which needs the arch added with dpkg --add-architecture — done here when run as root).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out=$here/wheels
check=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --check) check=1; shift ;;
    --out) out=$(realpath -m "$2"); shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "build-wheels: unknown argument $1" >&2; exit 2 ;;
  esac
done
if [[ $check == 1 ]]; then
  committed=$out
  out=$(mktemp -d)
fi

export LC_ALL=C TZ=UTC SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1577836800}
umask 022
ARCHES=${ARCHES:-x86_64 aarch64}
SYSROOT_CACHE=${SYSROOT_CACHE:-/tmp/manywheel-sysroot}
PY=${PYTHON:-python3}
VERSION=1.0
PYTAG=cp311-cp311
CFLAGS=(-O2 -fPIC -shared -fvisibility=hidden -Wall -Wextra -Werror -s)

# wheel arch -> "gcc triplet  debian arch  multiarch (CPython SOABI platform part)"
arch_info() {
  case $1 in
    x86_64)  echo "x86_64-linux-gnu amd64 x86_64-linux-gnu" ;;
    aarch64) echo "aarch64-linux-gnu arm64 aarch64-linux-gnu" ;;
    i686)    echo "i686-linux-gnu i386 i386-linux-gnu" ;;
    ppc64le) echo "powerpc64le-linux-gnu ppc64el powerpc64le-linux-gnu" ;;
    s390x)   echo "s390x-linux-gnu s390x s390x-linux-gnu" ;;
    armv7l)  echo "arm-linux-gnueabihf armhf arm-linux-gnueabihf" ;;
    riscv64) echo "riscv64-linux-gnu riscv64 riscv64-linux-gnu" ;;
    *) echo "build-wheels: unknown arch $1" >&2; return 1 ;;
  esac
}

# Print the folder holding libzstd.so for a debian arch, fetching the .debs if needed.
zstd_libdir() {
  local debarch=$1 multiarch=$2
  if [[ $debarch == "$(dpkg --print-architecture)" ]]; then
    if [[ ! -e /usr/lib/$multiarch/libzstd.so ]]; then
      echo "build-wheels: libzstd-dev is missing: apt-get install libzstd-dev" >&2; return 1
    fi
    echo "/usr/lib/$multiarch"; return
  fi
  local root=$SYSROOT_CACHE/$debarch
  if [[ ! -e $root/usr/lib/$multiarch/libzstd.so ]]; then
    if ! dpkg --print-foreign-architectures | grep -qx "$debarch"; then
      if [[ $(id -u) != 0 ]]; then
        echo "build-wheels: run as root, or first: dpkg --add-architecture $debarch && apt-get update" >&2
        return 1
      fi
      dpkg --add-architecture "$debarch"
      apt-get update -qq >&2
    fi
    local debs
    debs=$(mktemp -d)
    chmod 777 "$debs"  # apt's sandbox user (_apt) writes the .debs here
    (cd "$debs" && apt-get download -qq "libzstd-dev:$debarch" "libzstd1:$debarch" >&2)
    mkdir -p "$root"
    for deb in "$debs"/*.deb; do dpkg -x "$deb" "$root"; done
    rm -rf "$debs"
  fi
  echo "$root/usr/lib/$multiarch"
}

cd "$here/spam"
build=$(mktemp -d)
trap 'rm -rf "$build" ${committed:+"$out"}' EXIT
for arch in $ARCHES; do
  read -r triplet debarch multiarch <<<"$(arch_info "$arch")"
  cc=$triplet-gcc
  command -v "$cc" >/dev/null || { echo "build-wheels: $cc not found (apt-get install gcc-$triplet)" >&2; exit 1; }
  for mod in spam toonew withlib; do
    libs=()
    if [[ $mod == withlib ]]; then
      libdir=$(zstd_libdir "$debarch" "$multiarch")
      libs=(-L"$libdir" -lzstd)
    fi
    so=$mod.cpython-311-$multiarch.so
    mkdir -p "$build/$arch"
    "$cc" "${CFLAGS[@]}" -o "$build/$arch/$so" "$mod.c" "${libs[@]}"
    "$PY" "$here/make_wheel.py" --name "$mod" --version "$VERSION" \
      --tag "$PYTAG-linux_$arch" --out "$out" "$so=$build/$arch/$so" >/dev/null
    echo "built $mod-$VERSION-$PYTAG-linux_$arch.whl"
  done
done

if [[ $check == 1 ]]; then
  status=0
  for whl in "$out"/*.whl; do
    name=$(basename "$whl")
    if cmp -s "$whl" "$committed/$name"; then echo "same     $name"
    else echo "DIFFERS  $name"; status=1; fi
  done
  exit $status
fi
