"""``--task generated:DIR``: a model's own samples as a classification set (the self-consistency score).

DIR is the ``--out`` folder of a ``dive-bench fidelity`` run of a class-conditional model: its
run.json and ``samples/`` (sample i generated with class i mod K, ``labels: balanced``). Scoring the
same model on it asks how many of the images it generated for class y it recovers as y, by
enumeration or DIVE: a classifier-free cousin of the Classification Accuracy Score (CAS trains a
classifier on generated images and tests it on real ones; here the generator is its own
classifier, so the score needs no other network and no real data).

The task is named by content, never by path (as ``folder:`` tasks are): ``generated:G.S`` with G the
first 16 hex digits of the generating model's sha256 and S those of the sample configuration
without the model (sampler, steps, guidance, seed, precision, labels, sampler version). Samples
are deterministic given both (per-sample seeds), up to float rounding on other hardware. ``compare``
reads the two parts: a run whose model is the generator is a self-consistency run, and runs with
one S and one score protocol share a column. A name read back from a run.json gives a task without
files that computes the metric from the stored labels, which is all ``merge`` and ``finalize`` need.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import torch

from ..data.base import ImageDataset
from ..errors import DiveBenchError
from ..labels import layout_tokenizer
from .classification import ClassificationTask
from .folder import content_digest

VERSION = "1"
PREFIX = "generated"
STORED_NAME = re.compile(r"([0-9a-f]{16})\.([0-9a-f]{16})")  # the part after "generated:"
#: what identifies the model in a sample configuration (its parameterization too: "ddim" runs the
#: family's own scheduler); the rest is the sampling protocol
MODEL_KEYS = ("model_sha256", "model", "parameterization")


def samples_digest(config: dict) -> str:
    """sha256 of the sample configuration less the model: equal for two models sampled alike."""
    return content_digest("generated-samples", {k: v for k, v in sorted(config.items()) if k not in MODEL_KEYS})


@dataclass(frozen=True)
class GeneratedTask(ClassificationTask):
    """Samples of a fidelity run, labelled with the class each was generated from."""

    #: the fidelity run folder (absolute); None for a task rebuilt from its stored name
    root: str | None = None
    num_classes: int = 0
    num_items: int = 0
    generator_sha256: str = ""

    def load(self, data_root: str | None = None) -> ImageDataset:
        from ..fidelity.sample_cache import SampleCache

        if self.root is None:
            raise DiveBenchError(f"task {self.name} was rebuilt from a stored run and has no samples; score it with "
                                 "--task generated:DIR, the fidelity run folder that made them")
        run = _fidelity_run(Path(self.root))
        cache = SampleCache(Path(self.root) / "samples", run["samples"]["config"])
        images = cache.load(self.num_items)
        labels = torch.arange(self.num_items) % self.num_classes
        names = tuple(str(k) for k in range(self.num_classes))
        return ImageDataset(self.name, "generated", images, labels, names)

    def check_compatible(self, adapter, data: ImageDataset) -> None:
        k = getattr(adapter.label_space, "num_classes", None)
        if layout_tokenizer(adapter) is not None or k != self.num_classes:
            raise DiveBenchError(f"task {self.name} holds samples of a {self.num_classes}-class model; model "
                                 f"{adapter.name!r} has {k if k is not None else 'no'} classes: score a "
                                 "class-conditional model with the same label space (for self-consistency, the "
                                 "model that made them)")


def _fidelity_run(root: Path) -> dict:
    path = root / "run.json"
    try:
        run = json.loads(path.read_text())
    except FileNotFoundError:
        raise DiveBenchError(f"--task generated:{root}: no run.json there; give the --out folder of a finished "
                             "`dive-bench fidelity` run of a class-conditional model") from None
    except (OSError, ValueError) as exc:
        raise DiveBenchError(f"--task generated:{root}: run.json is unreadable ({exc}); rerun the fidelity command "
                             "that made it") from None
    if run.get("method") != "fidelity" or not isinstance(run.get("samples"), dict):
        raise DiveBenchError(f"--task generated:{root}: run.json is a {run.get('method')!r} run, not a fidelity "
                             "run with samples; give the --out folder of `dive-bench fidelity`")
    if run["samples"]["config"].get("labels") != "balanced":
        raise DiveBenchError(f"--task generated:{root}: its samples are conditioned on "
                             f"{run['samples']['config'].get('labels')!r}, not on balanced class labels; the "
                             "generated: task is for class-conditional models")
    return run


def generated_task(spec: str) -> GeneratedTask:
    """``TASKS`` factory for ``generated:SPEC``: SPEC is a fidelity run folder, or ``G.S`` (a stored name)."""
    if STORED_NAME.fullmatch(spec):
        return GeneratedTask(f"{PREFIX}:{spec}", VERSION, "generated", "generated",
                             description="a model's samples (rebuilt from a stored run: metrics only)")
    if not spec:
        raise DiveBenchError("--task generated: needs a folder: generated:DIR, the --out folder of a fidelity run")
    root = Path(spec).expanduser().resolve()
    run = _fidelity_run(root)
    config = run["samples"]["config"]
    k = int((run.get("model_info") or {}).get("num_classes") or 0)
    if k < 2:
        raise DiveBenchError(f"--task generated:{root}: the fidelity run's model has no class count (num_classes); "
                             "the generated: task is for class-conditional models")
    n = int(run["n_items"])
    name = f"{PREFIX}:{config['model_sha256'][:16]}.{samples_digest(config)[:16]}"
    return GeneratedTask(name, VERSION, "generated", "generated",
                         description=f"{n} samples of {config.get('model')} ({config.get('sampler')}, "
                                     f"{config.get('steps')} steps, guidance {config.get('guidance_scale')}), "
                                     f"{k} classes, sample i from class i mod {k}",
                         root=str(root), num_classes=k, num_items=n, generator_sha256=config["model_sha256"])
