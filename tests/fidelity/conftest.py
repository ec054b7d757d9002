"""Fixtures shared by the fidelity tests (test_fidelity_metrics.py, test_dinov2.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

SLICE_ROOT = Path(__file__).resolve().parents[1] / "data" / "fmnist-slice"


@pytest.fixture(scope="session")
def fmnist_test():
    """500 real Fashion-MNIST test images, 50 per class (tests/data/fmnist-slice/README.md)."""
    from dive_bench.data.fashion_mnist import load_fashion_mnist

    ds = load_fashion_mnist("test", root=str(SLICE_ROOT))
    assert len(ds) == 500 and torch.bincount(ds.labels).tolist() == [50] * 10
    return ds
