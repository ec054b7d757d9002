"""Fashion-MNIST pixels as numpy arrays, read from IDX files: no torch.

Why apart from :mod:`.fashion_mnist`: the HTML report shows the images a run scored and may not
import torch (``pyproject.toml``'s import contracts); the torch loader wraps :func:`fmnist_arrays`,
so both see the very same pixels. The Debian package ``dataset-fashion-mnist`` ships the files.
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from dive_bench.errors import DiveBenchError

DEFAULT_ROOT = "/usr/share/datasets/fashion-mnist"
ROOT_ENV = "DIVE_BENCH_FMNIST_ROOT"
CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
         "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def read_idx(path: Path) -> np.ndarray:
    """Parse an IDX file (optionally gzipped): magic, dims, then big-endian uint8 data."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise DiveBenchError(
            f"{path} is a corrupt or truncated gzip file ({type(exc).__name__}: {' '.join(str(exc).split())[:100]}); "
            f"reinstall dataset-fashion-mnist, or replace it with a good copy (or with the uncompressed "
            f"{path.with_suffix('').name}, and delete the .gz)") from exc
    except OSError as exc:
        raise DiveBenchError(f"cannot read {path} ({exc.strerror or exc}); check the file, or point --data-root / "
                             f"${ROOT_ENV} at a folder holding the four IDX files") from exc
    if len(data) < 4:
        raise DiveBenchError(f"{path} is not an IDX file (too short); reinstall dataset-fashion-mnist")
    zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype_code != 0x08:
        raise DiveBenchError(f"{path} is not a uint8 IDX file (magic {data[:4].hex()})")
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise DiveBenchError(f"{path} is truncated: expected {int(np.prod(dims))} values, found {body.size}")
    return body.reshape(dims)


def fmnist_root(root: str | Path | None = None) -> Path:
    """``root``, else ``$DIVE_BENCH_FMNIST_ROOT``, else the Debian package's folder."""
    return Path(root or os.environ.get(ROOT_ENV) or DEFAULT_ROOT)


def find_idx(root: Path, stem: str) -> Path:
    """``root/stem.gz`` or ``root/stem``; a DiveBenchError with the install command if neither exists."""
    for name in (stem + ".gz", stem):
        if (root / name).exists():
            return root / name
    raise DiveBenchError(
        f"Fashion-MNIST file {stem}(.gz) not found in {root}. Install it with "
        f"'apt-get install dataset-fashion-mnist', or point --data-root / ${ROOT_ENV} at a folder "
        "holding the four IDX files.")


def fmnist_missing(root: str | Path | None = None) -> str | None:
    """Why the Fashion-MNIST files are not readable here (one sentence with the fix), or None."""
    base = fmnist_root(root)
    if all(any((base / (stem + suffix)).exists() for suffix in (".gz", "")) for pair in FILES.values()
           for stem in pair):
        return None
    return (f"Fashion-MNIST IDX files not found in {base} (apt-get install dataset-fashion-mnist or set "
            f"${ROOT_ENV})")


def fmnist_arrays(split: str = "test", root: str | Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 images (N, 1, 28, 28), int64 labels (N,)) of a split, both writable copies."""
    if split not in FILES:
        raise DiveBenchError(f"fmnist has splits 'train' and 'test', not {split!r}; use one of those")
    base = fmnist_root(root)
    img_stem, lbl_stem = FILES[split]
    images = read_idx(find_idx(base, img_stem))
    labels = read_idx(find_idx(base, lbl_stem))
    return images.copy()[:, None], labels.astype(np.int64)


__all__ = ["CLASS_NAMES", "DEFAULT_ROOT", "FILES", "ROOT_ENV", "find_idx", "fmnist_arrays", "fmnist_missing",
           "fmnist_root", "read_idx"]
