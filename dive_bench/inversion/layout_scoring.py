"""Moved to :mod:`dive_bench.inversion.layout.scoring`; this name stays an alias of that module."""

import sys

from .layout import scoring as _module

sys.modules[__name__] = _module
