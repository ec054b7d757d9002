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


@pytest.fixture
def offline_env(monkeypatch, tmp_path):
    """Offline, no weights anywhere, and a tripwire on any download: HF_HUB_OFFLINE, an empty
    Hugging Face cache (DINOv2 through timm) and TORCH_HOME (Inception through torch.hub), no weights
    variables (Inception, DINOv2), and torch.hub's downloader raising. The union of what
    test_fidelity_metrics.py (Inception) and test_dinov2.py (DINOv2) each had: each extractor looks
    only at its own places, so each test still checks the same thing."""
    import huggingface_hub.constants

    from dive_bench.generative import dinov2

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    for var in ("DIVE_BENCH_INCEPTION_WEIGHTS", dinov2.WEIGHTS_ENV, dinov2.SHA256_ENV):
        monkeypatch.delenv(var, raising=False)

    def no_download(*args, **kwargs):
        raise AssertionError("a download was attempted")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_download)
    return tmp_path
