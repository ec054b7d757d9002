"""Fashion-MNIST read from IDX files (the Debian package ``dataset-fashion-mnist`` ships them)."""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import torch

from dive_bench.errors import DiveBenchError
from dive_bench.data.base import ImageDataset

DEFAULT_ROOT = "/usr/share/datasets/fashion-mnist"
ROOT_ENV = "DIVE_BENCH_FMNIST_ROOT"
CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
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


def _find(root: Path, stem: str) -> Path:
    for name in (stem + ".gz", stem):
        if (root / name).exists():
            return root / name
    raise DiveBenchError(
        f"Fashion-MNIST file {stem}(.gz) not found in {root}. Install it with "
        f"'apt-get install dataset-fashion-mnist', or point --data-root / ${ROOT_ENV} at a folder "
        "holding the four IDX files.")


def load_fashion_mnist(split: str = "test", root: str | None = None) -> ImageDataset:
    if split not in _FILES:
        raise ValueError(f"fmnist has splits 'train' and 'test', not {split!r}")
    base = Path(root or os.environ.get(ROOT_ENV) or DEFAULT_ROOT)
    img_stem, lbl_stem = _FILES[split]
    images = read_idx(_find(base, img_stem))
    labels = read_idx(_find(base, lbl_stem))
    return ImageDataset("fmnist", split, torch.from_numpy(images.copy()).unsqueeze(1),
                        torch.from_numpy(labels.astype(np.int64)), CLASS_NAMES)
