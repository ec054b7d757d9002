"""FID trace term: eigenvalue method vs scipy.linalg.sqrtm at Inception's 2048 dims (ratio in one run)."""

from __future__ import annotations

import time

import numpy as np
from scipy import linalg

from dive_bench.generative.fid import trace_sqrt_product


def test_trace_term_speedup_over_sqrtm(benchmark):
    rng = np.random.default_rng(0)
    d = 2048
    a, b = rng.standard_normal((d, 3000)), rng.standard_normal((d, 3000))
    s1, s2 = a @ a.T / 3000, b @ b.T / 3000
    t0 = time.perf_counter()
    reference = float(np.trace(linalg.sqrtm(s1 @ s2)).real)
    t_sqrtm = time.perf_counter() - t0
    ours = benchmark.pedantic(trace_sqrt_product, args=(s1, s2), rounds=1, iterations=1)
    speedup = t_sqrtm / benchmark.stats.stats.mean
    benchmark.extra_info.update(sqrtm_seconds=t_sqrtm, speedup=speedup, rel_diff=abs(ours - reference) / reference)
    print(f"\ntrace term at d=2048: sqrtm {t_sqrtm:.1f}s, eigh {benchmark.stats.stats.mean:.1f}s, {speedup:.1f}x, "
          f"rel diff {abs(ours - reference) / reference:.1e}")
