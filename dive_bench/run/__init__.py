"""Doing a run: scoring a task's items with a method (``score``, ``methods``, ``auto``), sampling
for generative metrics (``fidelity``) and scoring every checkpoint of a training run (``sweep``).
This is the layer that joins adapters, tasks, inversion, fidelity and the store."""
