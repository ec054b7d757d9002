"""Frechet distance: closed forms and agreement with the scipy sqrtm reference."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import linalg

from dive_bench.generative.fid import frechet_distance, gaussian_stats, trace_sqrt_product


def _random_cov(rng, d, rank=None):
    a = rng.standard_normal((d, rank or 2 * d))
    return a @ a.T / a.shape[1]


def test_trace_term_matches_sqrtm_on_full_rank_covariances():
    rng = np.random.default_rng(0)
    for d in (8, 64, 256):
        s1, s2 = _random_cov(rng, d), _random_cov(rng, d)
        reference = float(np.trace(linalg.sqrtm(s1 @ s2)).real)
        assert trace_sqrt_product(s1, s2) == pytest.approx(reference, rel=1e-8)


def test_closed_form_for_diagonal_gaussians():
    # For diagonal covariances FID = |mu1-mu2|^2 + sum (sqrt(a_i) - sqrt(b_i))^2
    rng = np.random.default_rng(1)
    a, b = rng.uniform(0.1, 3, 16), rng.uniform(0.1, 3, 16)
    mu1, mu2 = rng.standard_normal(16), rng.standard_normal(16)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected, rel=1e-10)


def test_self_distance_is_zero_and_sampling_converges():
    rng = np.random.default_rng(2)
    s = _random_cov(rng, 10)
    mu = rng.standard_normal(10)
    assert abs(frechet_distance(mu, s, mu, s)) < 1e-9
    feats = rng.multivariate_normal(mu, s, size=200_000)
    m_hat, s_hat = gaussian_stats(feats)
    assert frechet_distance(m_hat, s_hat, mu, s) < 5e-3
