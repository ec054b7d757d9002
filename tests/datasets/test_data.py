"""Dataset loaders: shapes, splits, IDX parsing and the errors for missing or broken files."""

from __future__ import annotations

import gzip
import os
import struct

import numpy as np
import pytest
import torch

from dive_bench.data import DATASETS
from dive_bench.data.base import to_model_range
from dive_bench.data.fashion_mnist import DEFAULT_ROOT, load_fashion_mnist, read_idx
from dive_bench.errors import DiveBenchError


def test_digits_split_is_positional_and_disjoint():
    test = DATASETS.get("digits")("test")
    train = DATASETS.get("digits")("train")
    assert len(test) == 500 and len(train) == 1297
    assert test.image_shape == (1, 8, 8) and test.images.dtype == torch.uint8
    assert int(test.images.max()) == 255 and test.num_classes == 10
    from sklearn.datasets import load_digits
    raw = load_digits()
    assert test.labels.tolist() == raw.target[1297:].tolist()


def test_model_range():
    x = to_model_range(torch.tensor([[[[0, 255]]]], dtype=torch.uint8))
    assert x.flatten().tolist() == [-1.0, 1.0]


def _write_idx(path, array: np.ndarray, gz=True):
    header = struct.pack(">HBB", 0, 8, array.ndim) + struct.pack(">" + "I" * array.ndim, *array.shape)
    data = header + array.astype(np.uint8).tobytes()
    (gzip.open if gz else open)(path, "wb").write(data)


def test_idx_reader_and_loader_on_synthetic_files(tmp_path):
    imgs = np.arange(3 * 28 * 28).reshape(3, 28, 28) % 256
    _write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", imgs)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.array([9, 0, 4]), gz=False)
    ds = load_fashion_mnist("test", root=str(tmp_path))
    assert ds.images.shape == (3, 1, 28, 28) and ds.labels.tolist() == [9, 0, 4]
    assert torch.equal(ds.images[:, 0], torch.from_numpy(imgs.astype(np.uint8)))
    assert ds.class_names[9] == "Ankle boot"


def test_truncated_idx_is_a_clear_error(tmp_path):
    path = tmp_path / "x.gz"
    header = struct.pack(">HBBIII", 0, 8, 3, 10, 28, 28)
    gzip.open(path, "wb").write(header + b"\0" * 100)
    with pytest.raises(DiveBenchError, match="truncated"):
        read_idx(path)


def test_missing_fashion_mnist_names_package_and_option(tmp_path):
    with pytest.raises(DiveBenchError, match="apt-get install dataset-fashion-mnist.*--data-root"):
        load_fashion_mnist("test", root=str(tmp_path / "nowhere"))


def _fmnist_installed() -> bool:
    """Where the loader looks ($DIVE_BENCH_FMNIST_ROOT, else the Debian package's folder) holds the test split."""
    root = os.environ.get("DIVE_BENCH_FMNIST_ROOT") or DEFAULT_ROOT
    return any(os.path.exists(os.path.join(root, f"t10k-images-idx3-ubyte{ext}")) for ext in (".gz", ""))


@pytest.mark.skipif(not _fmnist_installed() and not os.environ.get("CI"),
                    reason="apt-get install dataset-fashion-mnist to run (CI installs it and never skips)")
def test_real_fashion_mnist_from_debian_package():
    """.ci/run installs dataset-fashion-mnist; the real files load with the documented sizes."""
    ds = load_fashion_mnist("test")
    assert len(ds) == 10_000 and ds.image_shape == (1, 28, 28)
    assert torch.bincount(ds.labels).tolist() == [1000] * 10


def test_imagenet_folder_takes_first_images_per_class(tmp_path):
    from PIL import Image

    from dive_bench.data.imagenet import load_imagenet_folder

    for c, wnid in enumerate(["n02", "n01", "n03"]):
        (tmp_path / wnid).mkdir()
        for k in range(3):
            Image.new("RGB", (40 + 10 * k, 30), color=(10 * c, 20 * k, 0)).save(tmp_path / wnid / f"img{k}.png")
    ds = load_imagenet_folder("val", str(tmp_path), per_class=2, image_size=16)
    assert ds.images.shape == (6, 3, 16, 16)
    assert ds.class_names == ("n01", "n02", "n03")  # classes in sorted wnid order
    assert ds.labels.tolist() == [0, 0, 1, 1, 2, 2]
    assert int(ds.images[2, 0, 8, 8]) == 0 and int(ds.images[0, 0, 8, 8]) == 10  # class n01 was colour c=1
    subset = tmp_path / "subset.txt"
    subset.write_text("n03/img2.png\nn01/img0.png\n")
    ds = load_imagenet_folder("val", str(tmp_path), subset_file=str(subset), image_size=16)
    assert ds.labels.tolist() == [2, 0]


def test_imagenet_folder_errors(tmp_path):
    from dive_bench.data.imagenet import load_imagenet_folder

    with pytest.raises(DiveBenchError, match="--data-root"):
        load_imagenet_folder("val", None)
    with pytest.raises(DiveBenchError, match="no class sub-folders"):
        load_imagenet_folder("val", str(tmp_path))
