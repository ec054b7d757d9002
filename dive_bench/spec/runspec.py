"""What a run is: a frozen :class:`RunSpec` and the :class:`Protocol` it measures (its run.json is
``spec.result.RunResult``).

"Same protocol" used to be defined five times (run key, merge, leaderboard grouping, ``check``,
fidelity tables) and the definitions disagreed. Here it is defined once:

- :meth:`RunSpec.key` is a run's identity: protocol + checkpoint + seed + precision. Resume and
  merge accept exactly the shards of this key (or of its :meth:`RunSpec.legacy_keys`, the form keys
  had before runtime knobs left them, so runs stored earlier still resume and merge).
- :class:`Protocol` is what makes two runs comparable: task and version, item set, method and its
  result-changing config (probes included). ``check`` pairs runs of one protocol; the leaderboard
  puts one protocol (and seed) in one table. Both build it from run.json alone
  (``RunResult.protocol``), so they never import a model, a method or a task.

This module imports no torch.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field

from dive_bench.spec.configs import EARLY_FIELDS, PROBE_FIELDS, canonical, comparable_config, key_config


def _sha(obj: object) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()


#: a ``generated:`` task's stored name (tasks/generated.py): generating model, sample configuration
GENERATED_TASK = re.compile(r"generated:([0-9a-f]{16})\.([0-9a-f]{16})(?:\.layout)?")


def generated_task_parts(task: str) -> tuple[str, str] | None:
    """(generator sha256 prefix, samples digest prefix) of a ``generated:`` task name, else None.
    Here, not in tasks/, so readers of run.json files (``compare``) need no task code."""
    m = GENERATED_TASK.fullmatch(task or "")
    return (m.group(1), m.group(2)) if m else None


def items_sha256(item_ids: list[int] | tuple[int, ...]) -> str:
    """The item set's hash as stored in run.json (``protocol.items_sha256``)."""
    return hashlib.sha256(json.dumps(list(item_ids)).encode()).hexdigest()


@dataclass(frozen=True)
class Protocol:
    """What two runs must share to be compared: the same task items scored the same way."""

    task: str
    task_version: str
    items_sha256: str
    method: str
    #: the method config without runtime knobs, with later-added fields filled in
    config: dict = field(hash=False)

    @property
    def probes(self) -> tuple:
        """(interval, probe_seed, loss, weighting); all None for methods without probes."""
        return tuple(self.config.get(k) for k in PROBE_FIELDS)

    def as_dict(self) -> dict:
        return {"task": self.task, "task_version": self.task_version, "items_sha256": self.items_sha256,
                "method": self.method, "method_config": self.config}

    def differs_from(self, other: "Protocol", *, across_configs: bool = False) -> str | None:
        """Why runs of ``self`` and ``other`` cannot be paired (None: they can). ``across_configs``
        allows another method configuration on the same task and images (ablation rows)."""
        a, b = other.as_dict(), self.as_dict()
        if across_configs:
            a.pop("method_config")
            b.pop("method_config")
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                what = {"items_sha256": "item set", "method_config": "method configuration"}.get(key, key)
                if key == "method_config" and isinstance(a.get(key), dict) and isinstance(b.get(key), dict):
                    # the options that differ, by name: a cut-off JSON of both configs hides them
                    x, y = a[key], b[key]
                    changed = [f"{name} {json.dumps(x.get(name))} vs {json.dumps(y.get(name))}"
                               for name in sorted(set(x) | set(y)) if x.get(name) != y.get(name)]
                    return f"different {what} ({'; '.join(changed[:4])}{'; ...' if len(changed) > 4 else ''})"
                return f"different {what} ({json.dumps(a.get(key))[:80]} vs {json.dumps(b.get(key))[:80]})"
        return None


@dataclass(frozen=True)
class RunSpec:
    """One run, frozen: everything that changes its numbers, and nothing else (not batch sizes,
    host, device or worker count)."""

    task: str
    task_version: str
    item_ids: tuple[int, ...]
    model_sha256: str
    method: str
    #: the full method config (runtime knobs included: they are recorded, just not keyed)
    config: dict = field(hash=False)
    seed: int = 0
    dtype: str = "fp32"
    tf32: bool = False
    #: how the user named the model (display only, not keyed: a checkpoint is its sha256)
    model: str = ""
    #: the model's parameterization (``Parameterization.describe()``) when it is not an eps-DDPM:
    #: the same weights read as v, flow or EDM give other numbers. None (eps-DDPM) adds nothing to
    #: the key, so every key stored before model families existed stays valid.
    parameterization: dict | None = field(default=None, hash=False)

    def _key_payload(self, legacy: bool, early: int = 0) -> dict:
        payload = {"task": self.task, "task_version": self.task_version, "items": list(self.item_ids),
                   "model_sha256": self.model_sha256, "method": self.method,
                   "config": key_config(self.method, self.config, legacy=legacy, early=early), "seed": self.seed}
        # Precision changes predictions (on an H200, bf16 autocast changed 53 of 100 canvas-det box
        # lists and 3 of 300 Fashion-MNIST labels against fp32; CUDA fp32 matched the CPU), so a
        # bf16 worker cannot join an fp32 run. Plain fp32 adds nothing, which keeps earlier keys.
        if self.dtype != "fp32" or self.tf32:
            payload["precision"] = {"dtype": self.dtype, "tf32": bool(self.tf32)}
        if self.parameterization is not None:
            payload["parameterization"] = dict(self.parameterization)
        return payload

    def key(self) -> str:
        return _sha(self._key_payload(legacy=False))

    def protocol_key(self) -> str:
        """The key without the item set: what makes two items' results interchangeable (task and
        version, checkpoint, method config, seed, precision). Results are stored per item under
        it, so a run over more items (``--limit 400`` after ``--limit 300``, ``--items 300:400``)
        reuses every item a run of the same protocol already stored, while :meth:`key` still
        names the run with its items (every stored run key keeps its value)."""
        payload = self._key_payload(legacy=False)
        payload.pop("items")
        return _sha({"protocol": payload})

    def legacy_keys(self) -> tuple[str, ...]:
        """Keys this run had under earlier rules, accepted on resume: runtime knobs in the key,
        and (the first stored runs) without the fields of ``configs.EARLY_FIELDS``."""
        keys = []
        for early in range(len(EARLY_FIELDS.get(self.method, ())) + 1):
            for legacy in (True, False):
                k = _sha(self._key_payload(legacy=legacy, early=early))
                if k != self.key() and k not in keys:
                    keys.append(k)
        return tuple(keys)

    def accepts(self, stored_key: str) -> bool:
        return stored_key == self.key() or stored_key in self.legacy_keys()

    @property
    def items_sha256(self) -> str:
        return items_sha256(self.item_ids)

    def protocol(self) -> Protocol:
        return Protocol(self.task, str(self.task_version), self.items_sha256, self.method,
                        comparable_config(self.method, self.config))

    def to_json(self) -> dict:
        """The spec as the shards store it (``merge`` rebuilds run.json from it)."""
        return {"model": self.model, "task": self.task, "task_version": self.task_version, "method": self.method,
                "method_config": dict(self.config), "seed": self.seed, "n_items": len(self.item_ids),
                "item_ids": list(self.item_ids), "dtype": self.dtype, "tf32": self.tf32,
                "model_sha256": self.model_sha256,
                **({"parameterization": dict(self.parameterization)} if self.parameterization is not None else {})}

    @classmethod
    def from_json(cls, spec: dict, model_sha256: str | None = None) -> "RunSpec":
        """From a shard's stored spec (older shards lack model_sha256: pass it from model_info)."""
        return cls(task=spec["task"], task_version=str(spec["task_version"]), item_ids=tuple(spec["item_ids"]),
                   model_sha256=spec.get("model_sha256") or model_sha256 or "", method=spec["method"],
                   config=canonical(spec["method"], spec["method_config"]), seed=int(spec["seed"]), dtype=spec.get("dtype") or "fp32",
                   tf32=bool(spec.get("tf32")), model=spec.get("model", ""),
                   parameterization=spec.get("parameterization"))
