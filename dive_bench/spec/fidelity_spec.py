"""What a fidelity run is, frozen: :class:`FidelitySpec`, with a ``key()`` as :class:`RunSpec` has.

A fidelity run's numbers depend on the checkpoint, the reference images (by content), and the
sampling and metric configuration (sampler, steps, guidance, seed, N, precision, extractor and its
weights, metric options); not on where the samples are cached or the batch sizes. Before, this key
was hashed inline in the fidelity run; here it has the same home and form as a score run's, and
every stored fidelity key keeps its value (``tests/spec/test_fidelity_spec.py`` recomputes them).
This module imports no torch.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

#: the version of the fidelity "task" (sampling and metric code) stored beside its name
TASK_VERSION = "1"


@dataclass(frozen=True)
class FidelitySpec:
    """One fidelity run: checkpoint, reference set and the configuration that changes its numbers."""

    #: ``fidelity:<reference name>``, e.g. ``fidelity:fmnist-test``
    task: str
    model_sha256: str
    #: sha256 of the reference images (the run's "items")
    reference_sha256: str
    #: sampling and metric configuration, as run.json stores it under ``method_config``
    config: dict = field(hash=False)
    task_version: str = TASK_VERSION

    def protocol(self) -> dict:
        """The run.json ``protocol`` block: what two fidelity runs must share to be compared."""
        return {"task": self.task, "task_version": self.task_version, "method": "fidelity",
                "method_config": self.config, "items_sha256": self.reference_sha256}

    def key(self) -> str:
        return hashlib.sha256(json.dumps({"model_sha256": self.model_sha256, **self.protocol()},
                                         sort_keys=True).encode()).hexdigest()

    @classmethod
    def of_run(cls, run: dict) -> "FidelitySpec":
        """The spec of a stored fidelity run.json."""
        return cls(task=run["task"], model_sha256=(run.get("model_info") or {}).get("sha256", ""),
                   reference_sha256=(run.get("reference") or {}).get("images_sha256", ""),
                   config=dict(run["method_config"]), task_version=str(run.get("task_version", TASK_VERSION)))
