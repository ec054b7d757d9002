"""Content digests that name tasks: the ``folder:``/``coco:`` items hash and the ``generated:``
name of a set of samples. Torch-free, so a report can find the samples behind a ``generated:G.S``
run by recomputing the name from a sample folder's manifest (``tasks/generated.py`` and
``tasks/folder.py`` re-export these; their modules import torch)."""

from __future__ import annotations

import hashlib
import json

#: what identifies the model in a sample configuration (its parameterization too: "ddim" runs the
#: family's own scheduler); the rest is the sampling protocol
MODEL_KEYS = ("model_sha256", "model", "parameterization")


def content_digest(kind: str, content: dict) -> str:
    """sha256 of canonical JSON of ``content`` (a task's items), tagged with the task kind."""
    blob = json.dumps({"dive_bench_task": kind, **content}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


def samples_digest(config: dict) -> str:
    """sha256 of the sample configuration less the model: equal for two models sampled alike."""
    return content_digest("generated-samples", {k: v for k, v in sorted(config.items()) if k not in MODEL_KEYS})


def generated_name(config: dict) -> str:
    """``G.S`` of the ``generated:G.S`` task made of samples drawn under ``config`` (a fidelity run's
    ``samples.config``): 16 hex digits of the model's sha256, then 16 of :func:`samples_digest`."""
    return f"{str(config.get('model_sha256', ''))[:16]}.{samples_digest(config)[:16]}"


__all__ = ["MODEL_KEYS", "content_digest", "generated_name", "samples_digest"]
