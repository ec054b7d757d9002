"""Tiny models built in-process (nothing downloads), shared by the test modules."""

from __future__ import annotations

import os
import tempfile

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# generated canvas datasets go to a per-session folder, not the user's cache
os.environ.setdefault("DIVE_BENCH_CACHE", tempfile.mkdtemp(prefix="dive_bench_cache_"))
torch.set_num_threads(1)

from dive_bench.adapters.dit import DiTAdapter  # noqa: E402
from dive_bench.adapters.unet import UNetAdapter  # noqa: E402
from dive_bench.testing import make_dit, make_unet  # noqa: E402

@pytest.fixture
def dit_adapter():
    return DiTAdapter(make_dit(), name="tiny-dit")


@pytest.fixture
def unet_adapter():
    return UNetAdapter(make_unet(), name="tiny-unet")


@pytest.fixture(scope="session")
def digits_adapter():
    from dive_bench.adapters import load_model

    return load_model("dit-digits-xs")


@pytest.fixture(scope="session")
def inception_weights(tmp_path_factory):
    """A Kaiming-initialised inception-v3-compat file: the real architecture with random weights, so
    every Inception path runs offline (default init collapses the features: FID ~ 0, IS = 1).
    Used by fidelity/test_fidelity_metrics.py and datasets/test_data_errors.py."""
    from dive_bench.generative.random_inception import build_random_inception_weights

    return build_random_inception_weights(tmp_path_factory.mktemp("inception") / "inception-random.pth")


@pytest.fixture(scope="session")
def digits_test():
    from dive_bench.data import DATASETS

    return DATASETS.get("digits")("test")
