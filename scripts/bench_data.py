"""The benchmark's datasets: many small files, some medium ones, one large one.

Made once per benchmark in a temporary directory and reused by every round, so
each tool reads the same bytes from the same (warm) page cache.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Final

__all__ = ["Dataset", "Sizes", "make_datasets"]

KIB: Final = 1024
MIB: Final = 1024 * KIB
_EXTENSIONS: Final = ("html", "css", "js", "txt", "json", "jpg", "png", "bin")
_WRITE_BLOCK: Final = 8 * MIB


@dataclass(frozen=True)
class Sizes:
    """How big each dataset is; the quick benchmark shrinks them."""

    small_files: int = 10_000
    small_bytes: int = 4 * KIB
    medium_files: int = 500
    medium_bytes: int = 1 * MIB
    large_bytes: int = 1024 * MIB


@dataclass(frozen=True)
class Dataset:
    """A directory to upload and what it holds."""

    name: str
    path: Path
    files: int
    bytes: int


def _write_random(path: Path, size: int) -> None:
    """Write incompressible bytes, so no layer can shortcut the transfer."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        left = size
        while left > 0:
            block = min(left, _WRITE_BLOCK)
            out.write(os.urandom(block))
            left -= block


def _small_path(root: Path, index: int) -> Path:
    """Spread files over 100 directories; every other directory nests half its files.

    With 10,000 files: 100 directories of 100 files, of which 2,500 sit two
    levels deep (``d07/s3/f0042.txt``), the shape of a web site or a dataset.
    """
    directory, number = divmod(index, 100)
    name = f"f{index:05}.{_EXTENSIONS[index % len(_EXTENSIONS)]}"
    base = root / f"d{directory:02}"
    if directory % 2 == 0 and number % 2 == 0:
        return base / f"s{number % 5}" / name
    return base / name


def make_datasets(root: Path, sizes: Sizes) -> dict[str, Dataset]:
    """Create ``small``, ``medium`` and ``large`` under ``root`` and describe them."""
    small = root / "small"
    for index in range(sizes.small_files):
        _write_random(_small_path(small, index), sizes.small_bytes)
    medium = root / "medium"
    for index in range(sizes.medium_files):
        _write_random(medium / f"m{index // 100}" / f"m{index:04}.bin", sizes.medium_bytes)
    large = root / "large"
    _write_random(large / "large.bin", sizes.large_bytes)
    return {
        "small": Dataset("small", small, sizes.small_files, sizes.small_files * sizes.small_bytes),
        "medium": Dataset(
            "medium", medium, sizes.medium_files, sizes.medium_files * sizes.medium_bytes
        ),
        "large": Dataset("large", large, 1, sizes.large_bytes),
    }
