"""Metrics computed from stored item results alone (no model, no torch): COCO box AP in ``coco``.

Tasks compute their metrics with these, and ``dive-bench check`` recomputes them from run.json
files, so this package stays importable without a deep-learning stack.
"""
