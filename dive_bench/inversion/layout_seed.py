"""Moved to :mod:`dive_bench.inversion.layout.seed`; this name stays an alias of that module."""

import sys

from .layout import seed as _module

sys.modules[__name__] = _module
