"""Moved to :mod:`dive_bench.fidelity.fid` (with the other generative metrics); re-exported here."""

from .fidelity.fid import frechet_distance, gaussian_stats, trace_sqrt_product  # noqa: F401
