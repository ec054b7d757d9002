"""The numpy pixel readers (data/idx.py, data/glyphs.py) give the torch loaders' pixels exactly:
the report shows these arrays as the images a run scored, so a difference would show wrong images."""

from __future__ import annotations

import numpy as np
import pytest

from dive_bench.data import glyphs, idx
from dive_bench.errors import DiveBenchError


def test_fmnist_arrays_equal_the_loader():
    if idx.fmnist_missing() is not None:
        pytest.skip(f"Fashion-MNIST not installed here: {idx.fmnist_missing()}")
    from dive_bench.data.fashion_mnist import load_fashion_mnist

    for split in ("train", "test"):
        images, labels = idx.fmnist_arrays(split)
        data = load_fashion_mnist(split)
        assert images.dtype == np.uint8 and images.shape[1:] == (1, 28, 28) and labels.dtype == np.int64
        assert np.array_equal(images, data.images.numpy()) and np.array_equal(labels, data.labels.numpy())


def test_fmnist_missing_names_the_folder_and_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv(idx.ROOT_ENV, str(tmp_path))
    why = idx.fmnist_missing()
    assert str(tmp_path) in why and "apt-get install dataset-fashion-mnist" in why and idx.ROOT_ENV in why
    with pytest.raises(DiveBenchError, match="not found in"):
        idx.fmnist_arrays("test")
    with pytest.raises(DiveBenchError, match="splits 'train' and 'test'"):
        idx.fmnist_arrays("val")


@pytest.mark.parametrize("split", ["train", "test"])
def test_digits_arrays_equal_the_loader(split):
    from dive_bench.data.digits import load_digits_dataset

    images, labels = glyphs.digits_arrays(split)
    data = load_digits_dataset(split)
    assert images.shape == (1297 if split == "train" else 500, 1, 8, 8)
    assert np.array_equal(images, data.images.numpy()) and np.array_equal(labels, data.labels.numpy())


@pytest.mark.parametrize("num_digits", [1, 2, 3])
@pytest.mark.parametrize("split", ["dev", "test"])
def test_numbers_arrays_equal_the_loader(num_digits, split):
    from dive_bench.data.numbers import make_numbers

    images, numbers, ids = glyphs.numbers_arrays(num_digits, split)
    data = make_numbers(num_digits, split)
    assert np.array_equal(images, data.images.numpy()) and np.array_equal(numbers, data.labels.numpy())
    assert np.array_equal(ids, data.glyph_ids.numpy())
    # every class equally often, as the fixed splits promise
    assert len(set(np.bincount(numbers, minlength=10 ** num_digits).tolist())) == 1
