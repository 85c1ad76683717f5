"""Benchmark `manywheel repair` against `auditwheel repair` (6.8.2, with patchelf) in the same
run, best of N, on:

- a wheel built here whose extension needs seven libraries on no policy's whitelist (the host's
  libzstd, liblzma, libbz2, liblz4, libcrypto, libsqlite3 and our libhelper -> libextra chain):
  both tools graft and patch all of them;
- large real wheels repaired to their own tag (numpy from the corpus, scipy from PyPI when it
  can be downloaded), and numpy re-tagged to manylinux_2_28 (WHEEL and RECORD rewritten).

Prints a Markdown table with the ratio. Both tools must produce a wheel of the same name.
usage: python bench/repair.py [--repeat N] [--no-scipy]
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIBDIR = Path("/usr/lib/x86_64-linux-gnu")

EXT_C = r"""
typedef struct _object PyObject;
unsigned ZSTD_versionNumber(void);
unsigned lzma_version_number(void);
const char *BZ2_bzlibVersion(void);
int LZ4_versionNumber(void);
unsigned long OpenSSL_version_num(void);
int sqlite3_libversion_number(void);
unsigned helper_mix(unsigned);
unsigned long versions(void) {
    return ZSTD_versionNumber() + lzma_version_number() + (unsigned long)BZ2_bzlibVersion()
         + LZ4_versionNumber() + OpenSSL_version_num() + sqlite3_libversion_number()
         + helper_mix(1);
}
PyObject *PyInit__multi(void) { return 0; }
"""
HELPER_C = "unsigned extra_mix(unsigned);\nunsigned helper_mix(unsigned n) { return extra_mix(n) + 1; }\n"
EXTRA_C = "unsigned ZSTD_versionNumber(void);\nunsigned extra_mix(unsigned n) { return n ^ ZSTD_versionNumber(); }\n"
SYSTEM_LIBS = ["libzstd.so.1", "liblzma.so.5", "libbz2.so.1.0", "liblz4.so.1", "libcrypto.so.3",
               "libsqlite3.so.0"]


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def write_wheel(out, members):
    import base64, hashlib, zipfile
    name, version = out.name.split("-")[:2]
    info = f"{name}-{version}.dist-info"
    files = [(arc, Path(src).read_bytes()) for arc, src in members]
    files.append((f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()))
    files.append((f"{info}/WHEEL", b"Wheel-Version: 1.0\nGenerator: bench\nRoot-Is-Purelib: false\n"
                  b"Tag: cp311-cp311-linux_x86_64\n"))
    digest = lambda d: base64.urlsafe_b64encode(hashlib.sha256(d).digest()).rstrip(b"=").decode()
    record = "".join(f"{a},sha256={digest(d)},{len(d)}\n" for a, d in files) + f"{info}/RECORD,,\n"
    files.append((f"{info}/RECORD", record.encode()))
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for arc, data in files:
            z.writestr(arc, data)


def build_multi(work):
    """The seven-library wheel and the --ldpaths both tools get."""
    lib = work / "lib"
    lib.mkdir()
    for l in SYSTEM_LIBS:
        if not (LIBDIR / l).exists():
            sys.exit(f"bench: {LIBDIR / l} is missing (scripts/setup.sh installs it)")
    (work / "extra.c").write_text(EXTRA_C)
    (work / "helper.c").write_text(HELPER_C)
    (work / "ext.c").write_text(EXT_C)
    cc = ["gcc", "-shared", "-fPIC", "-O1"]
    sh(cc + ["-o", lib / "libextra.so.2", work / "extra.c", LIBDIR / "libzstd.so.1",
             "-Wl,-soname,libextra.so.2"])
    sh(cc + ["-o", lib / "libhelper.so.1", work / "helper.c", lib / "libextra.so.2",
             "-Wl,-soname,libhelper.so.1"])
    ext = work / "_multi.cpython-311-x86_64-linux-gnu.so"
    sh(cc + ["-o", ext, work / "ext.c", lib / "libhelper.so.1", f"-Wl,-rpath-link,{lib}"]
       + [LIBDIR / l for l in SYSTEM_LIBS])
    wheel = work / "multi-1.0-cp311-cp311-linux_x86_64.whl"
    write_wheel(wheel, [("multi/_multi.cpython-311-x86_64-linux-gnu.so", ext),
                        ("multi/__init__.py", work / "ext.c")])
    return wheel, f"{lib}:{LIBDIR}:/lib/x86_64-linux-gnu"


def scipy_wheel(pip):
    cache = Path(os.environ.get("MANYWHEEL_BENCH_CACHE", Path.home() / ".cache/manywheel-bench"))
    cache.mkdir(parents=True, exist_ok=True)
    found = sorted(cache.glob("scipy-1.15.2-*manylinux*x86_64*.whl"))
    if not found:
        r = subprocess.run([pip, "download", "-q", "--only-binary=:all:", "--no-deps",
                            "--platform", "manylinux_2_17_x86_64", "--python-version", "3.11",
                            "-d", cache, "scipy==1.15.2"], capture_output=True, text=True)
        if r.returncode != 0:
            print(f"bench: scipy not downloaded: {r.stderr.strip().splitlines()[-1:]}",
                  file=sys.stderr)
            return None
        found = sorted(cache.glob("scipy-1.15.2-*manylinux*x86_64*.whl"))
    return found[0] if found else None


def best_of(n, cmd, out, env):
    best = None
    for _ in range(n):
        shutil.rmtree(out, ignore_errors=True)
        t0 = time.perf_counter()
        r = subprocess.run(cmd, capture_output=True, text=True, env=env)
        dt = time.perf_counter() - t0
        if r.returncode != 0:
            sys.exit(f"bench: {' '.join(map(str, cmd))} failed:\n{r.stderr}")
        best = dt if best is None else min(best, dt)
    made = sorted(p.name for p in Path(out).glob("*.whl"))
    return best, made


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-scipy", action="store_true")
    a = ap.parse_args()
    venv = Path(os.environ.get("MANYWHEEL_VENV", ROOT / ".venv"))
    ours = Path(os.environ.get("MANYWHEEL_BIN", ROOT / "target/release/manywheel"))
    auditwheel = venv / "bin/auditwheel"
    for p in (ours, auditwheel):
        if not p.exists():
            sys.exit(f"bench: {p} is missing (cargo build --release; scripts/setup.sh venv)")
    env = dict(os.environ, PATH=f"{venv / 'bin'}:{os.environ['PATH']}", SOURCE_DATE_EPOCH="1700000000")
    corpus = Path(os.environ.get("MANYWHEEL_CORPUS", Path.home() / ".cache/manywheel-corpus"))
    work = Path(tempfile.mkdtemp(prefix="manywheel-bench-repair-"))
    try:
        multi, ldpaths = build_multi(work)
        cases = [("multi: 7 libraries grafted (x86_64)", multi, ["--ldpaths", ldpaths],
                  ["--plat", "auto", "--ldpaths", ldpaths])]
        numpy = corpus / "numpy-2.2.6-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
        if numpy.exists():
            cases.append(("numpy-2.2.6 x86_64 to its own tag", numpy,
                          ["--plat", "manylinux_2_17_x86_64"], ["--plat", "manylinux_2_17_x86_64"]))
            cases.append(("numpy-2.2.6 x86_64 to manylinux_2_28", numpy,
                          ["--plat", "manylinux_2_28_x86_64", "--only-plat"],
                          ["--plat", "manylinux_2_28_x86_64", "--only-plat"]))
        else:
            print(f"bench: {numpy} missing (run ../shared/corpus/fetch)", file=sys.stderr)
        if not a.no_scipy:
            scipy = scipy_wheel(venv / "bin/pip")
            if scipy:
                cases.append(("scipy-1.15.2 x86_64 to its own tag", scipy,
                              ["--plat", "manylinux_2_17_x86_64"], ["--plat", "manylinux_2_17_x86_64"]))
        print(f"best of {a.repeat}; ours: {ours}; reference: auditwheel "
              f"{sh([auditwheel, '--version']).stdout.split()[1]} with patchelf")
        print()
        print("| wheel | size MB | ours s | auditwheel s | speed-up |")
        print("|---|---:|---:|---:|---:|")
        for label, wheel, our_args, aw_args in cases:
            o_out, a_out = work / "ours", work / "aw"
            t_ours, made_ours = best_of(a.repeat, [ours, "repair", "-w", o_out, *our_args, wheel], o_out, env)
            t_aw, made_aw = best_of(a.repeat, [auditwheel, "repair", "-w", a_out, *aw_args, wheel], a_out, env)
            if made_ours != made_aw:
                sys.exit(f"bench: {label}: different outputs: ours {made_ours}, auditwheel {made_aw}")
            size = wheel.stat().st_size / 1e6
            print(f"| {label} | {size:.3f} | {t_ours:.3f} | {t_aw:.3f} | {t_aw / t_ours:.1f}x |",
                  flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
