"""Moved to :mod:`dive_bench.labels`: layouts as tokens are a label space, which adapters,
inversion and diagnostics use below the tasks. This module keeps the old import path working."""

from ..labels import SLOTS_PER_OBJECT, LayoutTokenizer

__all__ = ["SLOTS_PER_OBJECT", "LayoutTokenizer"]
