"""Which checkpoint a run scored: the file's sha256, or the weights a live model holds in memory.

A model loaded from a MODEL spec by the run itself is its checkpoint file (``info()["sha256"]``,
the key every stored run has). A live ``Adapter`` handed to the API is not: a training script that
evaluates its model every N steps into one ``out`` folder changes the weights between calls, and
keying those runs by the file the model was first loaded from returned the first evaluation's
predictions forever. So a live adapter is keyed by :func:`~dive_bench.adapters.base.weights_sha256`
of its weights now, and its results go to ``out/weights-<first 16 hex digits>``, one folder per
set of weights: a later call with other weights gets its own run, one with the same weights
resumes it, and nothing stored under ``out`` is touched.

One exception keeps the key of a checkpoint however it is named: an adapter from
``dive_bench.load_model`` (or a sweep's loader) remembers the hash of the weights it was loaded
with (:func:`remember_loaded`); while its weights still hash the same it *is* that file, and runs
in ``out`` itself under the file's key, exactly as ``dive-bench score MODEL --out`` would.

What the key was built from is recorded in ``model_info["sha256_of"]`` for live adapters
(``"checkpoint file"`` or ``"weights in memory"``; with the file's sha256 kept as
``checkpoint_sha256``); a run of a MODEL spec records nothing new, so its model_info is unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dive_bench.adapters.base import weights_sha256

#: the attribute a loaded adapter keeps the hash of its loaded weights in (see remember_loaded)
_LOADED = "_dive_bench_loaded_weights_sha256"
#: the sub-folder of ``out`` that holds a live model's run: this prefix + 16 hex digits
WEIGHTS_FOLDER = "weights-"


@dataclass(frozen=True)
class Identity:
    """How a run names its model: the ``model_info`` stored with its results (``sha256`` is the
    one keyed) and whether that is the weights in memory rather than a checkpoint file."""

    model_info: dict
    from_weights: bool

    @property
    def sha256(self) -> str:
        return self.model_info["sha256"]

    def out_for(self, out: Path) -> Path:
        """Where this model's run lives under ``out``: ``out`` for a checkpoint file, else the
        weights' own sub-folder (so each set of weights has its run, and none overwrites another)."""
        return Path(out) / f"{WEIGHTS_FOLDER}{self.sha256[:16]}" if self.from_weights else Path(out)


def remember_loaded(adapter: Any) -> Any:
    """Mark ``adapter`` as loaded from its checkpoint file just now (hashes its weights once);
    returns it. Runs of it keep the file's key until its weights change."""
    setattr(adapter, _LOADED, weights_sha256(adapter))
    return adapter


def identify(adapter: Any, *, live: bool) -> Identity:
    """The identity a run of ``adapter`` is keyed by. ``live=False``: the run loaded the model
    from its spec itself, so it is the file (``info()`` as it is). ``live=True``: the weights in
    memory, unless they are still those :func:`remember_loaded` saw."""
    info = dict(adapter.info())
    if not live:
        return Identity(info, from_weights=False)
    now = weights_sha256(adapter)
    if info.get("sha256") and getattr(adapter, _LOADED, None) == now:
        return Identity({**info, "sha256_of": "checkpoint file"}, from_weights=False)
    recorded = {**info, "sha256": now, "sha256_of": "weights in memory"}
    if info.get("sha256") and info["sha256"] != now:
        recorded["checkpoint_sha256"] = info["sha256"]
    return Identity(recorded, from_weights=True)
