"""Frechet distance between Gaussian fits of two feature sets, without ``scipy.linalg.sqrtm``.

FID = |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^{1/2}). The trace term only needs the
eigenvalues of S1 S2, which equal those of the symmetric PSD matrix A = S1^{1/2} S2 S1^{1/2}.
Two symmetric eigendecompositions (``eigh``) are exact and several times faster than the
Schur-based ``sqrtm`` of a 2048 x 2048 non-symmetric product, and never return the spurious
imaginary parts that ``sqrtm`` produces on near-singular covariances.
"""

from __future__ import annotations

import numpy as np


def _psd_sqrt(s: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh(s)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def trace_sqrt_product(s1: np.ndarray, s2: np.ndarray) -> float:
    """tr((S1 S2)^{1/2}) for symmetric PSD S1, S2, via the eigenvalues of S1^{1/2} S2 S1^{1/2}."""
    r = _psd_sqrt(np.asarray(s1, dtype=np.float64))
    a = r @ np.asarray(s2, dtype=np.float64) @ r
    w = np.linalg.eigvalsh((a + a.T) / 2)
    return float(np.sqrt(np.clip(w, 0, None)).sum())


def frechet_distance(mu1: np.ndarray, s1: np.ndarray, mu2: np.ndarray, s2: np.ndarray) -> float:
    diff = np.asarray(mu1, dtype=np.float64) - np.asarray(mu2, dtype=np.float64)
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * trace_sqrt_product(s1, s2))


def gaussian_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and unbiased covariance of (N, D) features (float64). Below N = D + 1 the covariance
    is rank-deficient and FID is biased: report N beside every FID."""
    f = np.asarray(features, dtype=np.float64)
    return f.mean(0), np.cov(f, rowvar=False)
