"""Check a built mmh3 wheel against the values of its README and an independent pure-Python
MurmurHash3 (x86, 32-bit) over many inputs — big-endian targets included."""

import platform
import sys

import mmh3


def murmur3_32(data: bytes, seed: int = 0) -> int:
    c1, c2, mask = 0xCC9E2D51, 0x1B873593, 0xFFFFFFFF
    h = seed & mask
    n = len(data) // 4 * 4
    for i in range(0, n, 4):
        k = int.from_bytes(data[i : i + 4], "little")
        k = (k * c1) & mask
        k = ((k << 15) | (k >> 17)) & mask
        k = (k * c2) & mask
        h ^= k
        h = ((h << 13) | (h >> 19)) & mask
        h = (h * 5 + 0xE6546B64) & mask
    tail = data[n:]
    k = 0
    for j, b in enumerate(tail):
        k |= b << (8 * j)
    if tail:
        k = (k * c1) & mask
        k = ((k << 15) | (k >> 17)) & mask
        k = (k * c2) & mask
        h ^= k
    h ^= len(data)
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & mask
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & mask
    h ^= h >> 16
    return h


assert mmh3.hash(b"foo") == -156908512
assert mmh3.hash("foo") == -156908512
assert mmh3.hash(b"foo", 42) == -1322301282
assert mmh3.hash(b"foo", 0, False) == 4138058784
assert mmh3.hash(b"quux", 4294967295) == 258499980
count = 0
for length in range(0, 67):
    data = bytes((i * 37 + length) & 0xFF for i in range(length))
    for seed in (0, 1, 0x9747B28C, 0xFFFFFFFF):
        assert mmh3.hash(data, seed, False) == murmur3_32(data, seed), (length, seed)
        count += 1
print(f"mmh3 ok: {platform.machine()} {sys.byteorder} {count} hashes")
