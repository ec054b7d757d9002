"""Fidelity costs on this machine: samples/s of generation and images/s of feature extraction.

(The trace-term speed-up of dive_bench.generative.fid over scipy's sqrtm is in test_bench_fid.py.)
"""

from __future__ import annotations

import pytest
import torch

from dive_bench.generative.sampling import balanced_labels, sample_seed

N_GEN = 100
STEPS = 10


@pytest.mark.parametrize("model", ["dit-fmnist-s", "dit-fmnist-b"])
def test_generation_samples_per_second(benchmark, model):
    from dive_bench.adapters import load_model

    adapter = load_model(model)
    labels = balanced_labels(range(N_GEN), adapter.label_space.num_classes)
    seeds = [sample_seed(0, i) for i in range(N_GEN)]
    out = benchmark.pedantic(adapter.sample, args=(labels,), kwargs={"steps": STEPS, "seeds": seeds, "scheduler": "ddim"},
                             rounds=2, iterations=1, warmup_rounds=1)
    assert out.shape == (N_GEN, 1, 28, 28)
    rate = N_GEN / benchmark.stats.stats.mean
    benchmark.extra_info.update(samples_per_second=rate, steps=STEPS, sampler="ddim", batch=N_GEN,
                                threads=torch.get_num_threads(),
                                seconds_per_1000_samples_at_50_steps=1000 / rate * 50 / STEPS)
    print(f"\n{model}: {rate:.1f} samples/s at DDIM {STEPS} steps (batch {N_GEN}, {torch.get_num_threads()} thread)")


@pytest.fixture(scope="module")
def fmnist_images():
    from dive_bench.data import DATASETS

    return DATASETS.get("fmnist")(split="test").images


def test_feature_extraction_in_domain_images_per_second(benchmark, fmnist_images):
    from dive_bench.generative.resolve import resolve_extractor
    from dive_bench.generative.metrics import extract_features

    ext = resolve_extractor("fmnist-classifier")
    images = fmnist_images[:2000]
    feats = benchmark.pedantic(extract_features, args=(images, ext), kwargs={"batch_size": 250}, rounds=2, iterations=1,
                               warmup_rounds=1)
    assert feats["penultimate"].shape[0] == len(images)
    rate = len(images) / benchmark.stats.stats.mean
    benchmark.extra_info.update(images_per_second=rate, extractor="fmnist-classifier")
    print(f"\nfmnist-classifier features: {rate:.0f} images/s")


def test_feature_extraction_inception_images_per_second(benchmark, fmnist_images, tmp_path_factory):
    """Inception at 299x299 with a random Kaiming weights file (same cost as the real weights)."""
    from dive_bench.generative.resolve import resolve_extractor
    from dive_bench.generative.metrics import extract_features
    from dive_bench.generative.random_inception import build_random_inception_weights

    path = build_random_inception_weights(tmp_path_factory.mktemp("inc") / "inception.pth")
    ext = resolve_extractor("inception-v3-compat", path)
    images = fmnist_images[:16]
    feats = benchmark.pedantic(extract_features, args=(images, ext), kwargs={"batch_size": 16}, rounds=1, iterations=1,
                               warmup_rounds=0)
    assert feats["2048"].shape == (16, 2048)
    rate = len(images) / benchmark.stats.stats.mean
    benchmark.extra_info.update(images_per_second=rate, extractor="inception-v3-compat (random weights)")
    print(f"\ninception-v3-compat features: {rate:.2f} images/s")
