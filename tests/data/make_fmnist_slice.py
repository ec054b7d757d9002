"""Write the committed Fashion-MNIST test slice (tests/data/fmnist-slice/) from the full IDX files.

Selection rule: walk the 10,000 test images in file order and keep an image while its class has
fewer than PER_CLASS kept images; the kept images stay in file order. Output: the same two
filenames as the real test split, gzipped IDX with a zero timestamp, so reruns are byte-identical.

    python tests/data/make_fmnist_slice.py /usr/share/datasets/fashion-mnist tests/data/fmnist-slice
"""

from __future__ import annotations

import argparse
import gzip
import struct
from pathlib import Path

import numpy as np

PER_CLASS = 50


def read_idx(path: Path) -> np.ndarray:
    data = gzip.decompress(path.read_bytes())
    zero, code, ndim = struct.unpack(">HBB", data[:4])
    assert zero == 0 and code == 0x08, f"{path}: not a uint8 IDX file"
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def write_idx(path: Path, array: np.ndarray) -> None:
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(">" + "I" * array.ndim, *array.shape)
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as f:
        f.write(header + np.ascontiguousarray(array, np.uint8).tobytes())


def select(labels: np.ndarray, per_class: int) -> np.ndarray:
    counts: dict[int, int] = {}
    keep = []
    for i, c in enumerate(labels.tolist()):
        if counts.get(c, 0) < per_class:
            counts[c] = counts.get(c, 0) + 1
            keep.append(i)
    return np.array(keep)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("source", type=Path, help="folder with t10k-{images-idx3,labels-idx1}-ubyte.gz")
    ap.add_argument("out", type=Path)
    ap.add_argument("--per-class", type=int, default=PER_CLASS)
    a = ap.parse_args()
    images = read_idx(a.source / "t10k-images-idx3-ubyte.gz")
    labels = read_idx(a.source / "t10k-labels-idx1-ubyte.gz")
    keep = select(labels, a.per_class)
    a.out.mkdir(parents=True, exist_ok=True)
    write_idx(a.out / "t10k-images-idx3-ubyte.gz", images[keep])
    write_idx(a.out / "t10k-labels-idx1-ubyte.gz", labels[keep])
    print(f"{len(keep)} images, test indices {keep[0]}..{keep[-1]}")


if __name__ == "__main__":
    main()
