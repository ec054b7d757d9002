"""Settings that keep a test's scoring run to seconds on a CPU, shared where two tests use the same.

Each test module names its own full setting for what it is for (``COARSE_QUIET``, ``ENUMERATE_SAMPLES``,
``LAYOUT_DIVE_FAST``, ...); the parts below are the ones several of them spell the same way.
"""

from __future__ import annotations

#: every 100th timestep of the probe grid (10 of 1000): the coarsest grid the CLI tests score on
COARSE = ["--interval", "100"]
#: enumerate every class on the coarse grid
ENUMERATE_COARSE = ["--method", "enumerate", *COARSE]
