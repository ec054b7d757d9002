"""Checks of a model before it is inverted: gates that say whether an inversion can work at all.

- ``position_check``: does a layout model use box positions (true layout vs shifted, re-classed,
  removed objects)? ``dive-bench position-check``
- ``prior_check``: does a layout prior prefer real layouts to implausible ones?
  ``dive-bench prior-check``

They sit above adapters, data and inversion's scoring primitive (``inversion/probes.py``) and
below the CLI and training, which runs the position check on the models it trains.
"""
