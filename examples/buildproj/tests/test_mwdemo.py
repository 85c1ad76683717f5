"""The example's test: real round trips, checked against values computed in Python."""

import platform
import sys
import zlib

import mwdemo

# A compressible but not trivial input.
data = bytes((i * 2654435761 >> 13) % 7 + 97 for i in range(50000))
frame = mwdemo.compress(data, 5)
assert frame[:4] == b"\x28\xb5\x2f\xfd", frame[:4]  # the zstd frame magic
assert len(frame) < len(data) // 4, len(frame)
back = mwdemo.decompress(frame)
assert back == data and zlib.crc32(back) == zlib.crc32(data)
version = mwdemo.zstd_version()
assert version >= 10000, version

text = "the cat and the dog and THE bird, the end"
expected = {}
for w in "".join(c.lower() if c.isalnum() else " " for c in text).split():
    expected[w] = expected.get(w, 0) + 1
want = sorted(expected.items(), key=lambda kv: (-kv[1], kv[0]))
got = mwdemo.word_counts(text)
assert got == want, (got, want)
try:
    mwdemo.word_counts("  ,, ")
except ValueError as e:
    assert str(e) == "no words"
else:
    raise AssertionError("no exception from the C++ side")

print(f"mwdemo ok: {platform.machine()} {sys.byteorder} zstd {version} frame {len(frame)} words {got[0]}")
