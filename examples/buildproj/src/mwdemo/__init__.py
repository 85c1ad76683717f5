"""manywheel build example: zstd compression (C) and word counting (C++)."""

from ._zstd import compress, decompress, zstd_version
from ._words import word_counts

__all__ = ["compress", "decompress", "zstd_version", "word_counts"]
