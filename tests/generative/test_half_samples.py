"""Half-sample replicates of KID, precision and recall (``generative.metrics.half_sample_replicates``,
what ``fidelity --bootstrap B`` stores for the fidelity gate): each replicate is the metric of one
half of the generated samples, computed as torch-fidelity (or the U-statistic written out) would on
that half alone."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dive_bench.generative.metrics import half_sample_indices, half_sample_kid, half_sample_prc, half_sample_replicates


def _gen(n: int) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(2).normal(size=(n, 6)))


def _ref(n: int = 80) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(1).normal(size=(n, 6)))


def _u_statistic(gen: torch.Tensor, ref: torch.Tensor) -> float:
    """Unbiased MMD^2 with torch-fidelity's cubic kernel (gamma 1/D, coef0 1), written out."""
    k = lambda x, y: (x @ y.T / x.shape[1] + 1) ** 3  # noqa: E731
    kgg, krr, kgr = k(gen, gen), k(ref, ref), k(gen, ref)
    n, m = len(gen), len(ref)
    return ((kgg.sum() - kgg.trace()) / (n * (n - 1)) + (krr.sum() - krr.trace()) / (m * (m - 1)) - 2 * kgr.mean()).item()


def test_each_replicate_is_the_metric_of_its_half():
    """Replicate b equals torch-fidelity's precision/recall (k = 3) and the U-statistic computed on
    the features of half-sample b alone: no sample outside the half leaks in (a sample left out must
    neither cover a reference image nor count in a kernel sum)."""
    from torch_fidelity.metric_prc import prc_features_to_metric

    gen, ref = _gen(40), _ref()
    reps = half_sample_replicates(gen.numpy(), ref.numpy(), n_boot=4, k=3)
    for b, idx in enumerate(half_sample_indices(40, 4)):
        half = gen[torch.from_numpy(idx)]
        tf = prc_features_to_metric(half, ref, prc_neighborhood=3, prc_batch_size=10000, save_cpu_ram=True,
                                    verbose=False)
        assert reps["precision"][b] == pytest.approx(tf["precision"]) and reps["recall"][b] == pytest.approx(tf["recall"])
        assert reps["kid"][b] == pytest.approx(_u_statistic(half, ref), rel=1e-9)
    assert len(set(reps["recall"])) > 1  # the halves differ, so do their recalls


def test_half_samples_pair_whatever_b_and_never_repeat():
    """Replicate b's subset depends on (seed, b, N) only, so runs storing 5 and 10 replicates share
    the first 5; each subset is N // 2 distinct indices."""
    a, b = half_sample_indices(101, 5), half_sample_indices(101, 10)
    assert np.array_equal(a, b[:5]) and a.shape == (5, 50)
    assert all(len(set(row)) == 50 for row in b)
    assert not np.array_equal(half_sample_indices(101, 5, seed=1), a)


def test_full_subset_matches_torch_fidelity_and_the_u_statistic():
    """With the subset = every sample, the half-sample functions compute torch-fidelity's precision
    and recall and the unbiased MMD^2 written out by hand (cubic kernel, gamma 1/D, coef0 1)."""
    from torch_fidelity.metric_prc import prc_features_to_metric

    gen, ref = _gen(60), _ref()
    full = np.arange(60)[None]
    prec, rec = half_sample_prc(gen, ref, full, 3, block=16)  # blocks smaller than either set
    tf = prc_features_to_metric(gen, ref, prc_neighborhood=3, prc_batch_size=10000, save_cpu_ram=True, verbose=False)
    assert prec[0] == pytest.approx(tf["precision"]) and rec[0] == pytest.approx(tf["recall"])
    assert half_sample_kid(gen, ref, full, block=16)[0] == pytest.approx(_u_statistic(gen, ref), rel=1e-9)
