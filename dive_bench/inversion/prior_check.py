"""Moved to :mod:`dive_bench.diagnostics.prior_check` (a gate before inversion, not part of it);
this module keeps the old import path."""

from ..diagnostics.prior_check import EDITS, SIZED_EDITS, implausible, prior_plausibility  # noqa: F401

__all__ = ["EDITS", "SIZED_EDITS", "implausible", "prior_plausibility"]
