#!/usr/bin/env python3
"""Write a reproducible binary wheel from a few files.

usage: make_wheel.py --name NAME --version VER --tag PY-ABI-PLAT --out DIR ARCNAME=PATH...

The wheel gets a .dist-info with METADATA, WHEEL (Root-Is-Purelib: false, one
Tag line) and RECORD (sha256 in urlsafe base64 without padding, and sizes).
Output depends only on the inputs: members are sorted (payload first, then the
dist-info with RECORD last), every timestamp is SOURCE_DATE_EPOCH (default
2020-01-01, clamped to the zip epoch 1980), permissions are fixed (0755 for
shared objects, 0644 for everything else) and the deflate level is fixed.
"""

import argparse
import base64
import hashlib
import os
import re
import stat
import sys
import time
import zipfile

GENERATOR = "manywheel-examples (make_wheel.py 1.0)"
DEFAULT_EPOCH = 1577836800  # 2020-01-01T00:00:00Z
ZIP_EPOCH = 315532800  # 1980-01-01T00:00:00Z, the earliest time a zip entry can hold


def record_hash(data: bytes) -> str:
    """Return the RECORD form of a sha256: `sha256=` + urlsafe base64, no padding."""
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def zip_time() -> tuple:
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", DEFAULT_EPOCH))
    return time.gmtime(max(epoch, ZIP_EPOCH))[:6]


def member_info(arcname: str, when: tuple) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(arcname, date_time=when)
    info.create_system = 3  # unix, so external_attr holds the mode
    executable = re.search(r"\.so(\.|$)", arcname) is not None
    mode = 0o755 if executable else 0o644
    info.external_attr = (stat.S_IFREG | mode) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def dist_name(name: str) -> str:
    """Return the file-name form of a distribution name (PEP 427 / 503 escaping)."""
    return re.sub(r"[-_.]+", "_", name)


def build(name: str, version: str, tag: str, files: dict, out: str) -> str:
    dist = f"{dist_name(name)}-{version}"
    info_dir = f"{dist}.dist-info"
    metadata = (
        "Metadata-Version: 2.1\n"
        f"Name: {name}\n"
        f"Version: {version}\n"
        f"Summary: manywheel example extension {name}\n"
        "License: MIT OR Apache-2.0\n"
        "Requires-Python: >=3.11\n"
    )
    wheel = (
        "Wheel-Version: 1.0\n"
        f"Generator: {GENERATOR}\n"
        "Root-Is-Purelib: false\n"
        f"Tag: {tag}\n"
    )
    members = {arc: data for arc, data in sorted(files.items())}
    members[f"{info_dir}/METADATA"] = metadata.encode()
    members[f"{info_dir}/WHEEL"] = wheel.encode()
    record_name = f"{info_dir}/RECORD"
    lines = [f"{arc},{record_hash(data)},{len(data)}" for arc, data in members.items()]
    lines.append(f"{record_name},,")
    members[record_name] = ("\n".join(lines) + "\n").encode()

    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, f"{dist}-{tag}.whl")
    when = zip_time()
    tmp = path + ".tmp"
    with zipfile.ZipFile(tmp, "w") as zf:
        for arc, data in members.items():
            zf.writestr(member_info(arc, when), data, compresslevel=9)
    os.replace(tmp, path)
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--name", required=True)
    parser.add_argument("--version", required=True)
    parser.add_argument("--tag", required=True, help="e.g. cp311-cp311-linux_x86_64")
    parser.add_argument("--out", required=True, help="folder to write the wheel into")
    parser.add_argument("files", nargs="+", metavar="ARCNAME=PATH")
    args = parser.parse_args(argv)

    if len(args.tag.split("-")) != 3:
        parser.error(f"--tag {args.tag!r} is not PYTHON-ABI-PLATFORM")
    files = {}
    for spec in args.files:
        arc, sep, src = spec.partition("=")
        if not sep or not arc or not src:
            parser.error(f"{spec!r} is not ARCNAME=PATH")
        if arc.startswith("/") or ".." in arc.split("/") or ".dist-info/" in arc:
            parser.error(f"{arc!r} is not a payload path inside the wheel")
        with open(src, "rb") as f:
            files[arc] = f.read()
    print(build(args.name, args.version, args.tag, files, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
