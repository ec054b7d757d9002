"""``--task generated:DIR``: a model's own samples as a test set (the self-consistency score).

DIR is the ``--out`` folder of a ``dive-bench fidelity`` run: its run.json and ``samples/``.

- Class-conditional model (``labels: balanced``, sample i generated with class i mod K): a
  classification set. Scoring the same model on it asks how many of the images it generated for
  class y it recovers as y, by enumeration or DIVE: a classifier-free cousin of the Classification
  Accuracy Score (CAS trains a classifier on generated images and tests it on real ones; here the
  generator is its own classifier, so the score needs no other network and no real data).
- Layout model (``labels: reference-layouts:TASK:SHA``, sample i generated from the layout of
  image i mod N of the detection task TASK): a detection set whose ground truth is the layout each
  sample was generated from, as the model saw it (the tokenized boxes). DIVE inverts each sample
  and COCO AP says how much of that layout it recovers. The reference task is loaded again and its
  images' hash checked against SHA, so the boxes are the ones the samples were drawn from.

The task is named by content, never by path (as ``folder:`` tasks are): ``generated:G.S`` with G the
first 16 hex digits of the generating model's sha256 and S those of the sample configuration
without the model (sampler, steps, guidance, seed, precision, labels, sampler version), and
``generated:G.S.layout`` for layout samples, so that a name read back knows its metric. Samples
are deterministic given both (per-sample seeds), up to float rounding on other hardware. ``compare``
reads the two parts: a run whose model is the generator is a self-consistency run, and runs with
one S and one score protocol share a column. A name read back from a run.json gives a task without
files that computes the metric from the stored labels, which is all ``merge`` needs.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import torch

from dive_bench.data.base import ImageDataset
from dive_bench.data.image_folder import MAX_CLASSES
from dive_bench.errors import DiveBenchError
from dive_bench.labels import layout_tokenizer
from dive_bench.spec.digests import MODEL_KEYS, generated_name, samples_digest  # noqa: F401  (re-exported)
from dive_bench.spec.result import RunResult
from dive_bench.tasks.classification import ClassificationTask
from dive_bench.tasks.detection import DetectionTask

VERSION = "1"
PREFIX = "generated"
STORED_NAME = re.compile(r"([0-9a-f]{16})\.([0-9a-f]{16})(\.layout)?")  # the part after "generated:"
LAYOUT_SUFFIX = ".layout"
#: ``labels`` of a layout model's fidelity samples (run/fidelity.py): the detection task whose
#: layouts conditioned them and the first 16 hex digits of its images' sha256
REFERENCE_LAYOUTS = re.compile(r"reference-layouts:(.+):([0-9a-f]{16})")
#: a sample's file name in a fidelity run's samples/ (generative/sample_cache.py)
SAMPLE_FILE = re.compile(r"[0-9]{6,}\.png")


@dataclass(frozen=True)
class GeneratedTask(ClassificationTask):
    """Samples of a fidelity run, labelled with the class each was generated from."""

    #: the fidelity run folder (absolute); None for a task rebuilt from its stored name
    root: str | None = None
    num_classes: int = 0
    num_items: int = 0
    generator_sha256: str = ""

    def load(self, data_root: str | None = None) -> ImageDataset:
        from dive_bench.generative.sample_cache import SampleCache

        if self.root is None:
            raise DiveBenchError(f"task {self.name} was rebuilt from a stored run and has no samples; score it with "
                                 "--task generated:DIR, the fidelity run folder that made them")
        run = _fidelity_run(Path(self.root))
        cache = SampleCache(Path(self.root) / "samples", run.samples["config"])
        images = cache.load(self.num_items)
        labels = torch.arange(self.num_items) % self.num_classes
        names = tuple(str(k) for k in range(self.num_classes))
        return ImageDataset(self.name, "generated", images, labels, names)

    def item_source(self) -> dict | None:
        """The name part ``G.S`` (or ``G.S.layout``): the samples are found by content, in any folder
        whose manifest's config gives this name (``report/item_images.py``); item i is sample i."""
        return {"generated": self.name.partition(":")[2]}

    def check_compatible(self, adapter, data: ImageDataset) -> None:
        k = getattr(adapter.label_space, "num_classes", None)
        if layout_tokenizer(adapter) is not None or k != self.num_classes:
            raise DiveBenchError(f"task {self.name} holds samples of a {self.num_classes}-class model; model "
                                 f"{adapter.name!r} has {k if k is not None else 'no'} classes: score a "
                                 "class-conditional model with the same label space (for self-consistency, the "
                                 "model that made them)")


@dataclass(frozen=True)
class GeneratedLayoutTask(DetectionTask):
    """Samples of a layout model's fidelity run; each one's ground truth is the layout it was
    generated from. Targets carry their category ids and image size, so the metric needs nothing
    but stored results (a task rebuilt from its name has no reference)."""

    root: str | None = None
    num_items: int = 0
    generator_sha256: str = ""
    #: the detection task whose layouts conditioned the samples, and its images' sha256 prefix
    reference: str = ""
    reference_sha256: str = ""

    def load(self, data_root: str | None = None):
        from dive_bench.data.coco import DetectionDataset
        from dive_bench.generative.metrics import images_sha256
        from dive_bench.generative.sample_cache import SampleCache
        from dive_bench.tasks import TASKS

        if self.root is None:
            raise DiveBenchError(f"task {self.name} was rebuilt from a stored run and has no samples; score it with "
                                 "--task generated:DIR, the fidelity run folder that made them")
        run = _fidelity_run(Path(self.root))
        ref_task = TASKS.get(self.reference)
        ref = ref_task.load(data_root)
        if images_sha256(ref.images)[:16] != self.reference_sha256:
            raise DiveBenchError(f"--task generated:{self.root}: the samples were drawn from the layouts of "
                                 f"{self.reference} images with sha256 {self.reference_sha256}..., but {self.reference} "
                                 "here has other images (another version or data root); score where the fidelity "
                                 "run was made, or rerun it")
        tok = _tokenizer(ref_task, ref.categories)
        images = SampleCache(Path(self.root) / "samples", run.samples["config"]).load(self.num_items)
        annotations = [_layout_used(tok, ref.annotations[i % len(ref)], i + 1) for i in range(self.num_items)]
        for ann_id, a in enumerate((a for objs in annotations for a in objs), start=1):
            a["id"] = ann_id
        return DetectionDataset(images, list(range(1, self.num_items + 1)), annotations, ref.categories,
                                ref.coco_json)

    def item_source(self) -> dict | None:
        """The name part ``G.S`` (or ``G.S.layout``): the samples are found by content, in any folder
        whose manifest's config gives this name (``report/item_images.py``); item i is sample i."""
        return {"generated": self.name.partition(":")[2]}

    def categories(self) -> list[dict]:
        return [{"id": i + 1, "name": n} for i, n in enumerate(self.classes)]

    def target(self, data, i: int) -> dict:
        height, width = int(data.images.shape[2]), int(data.images.shape[3])
        return {"image_id": int(data.image_ids[i]), "annotations": data.annotations[i],
                "category_ids": sorted(int(c["id"]) for c in data.categories), "width": width, "height": height}

    def ground_truth(self, targets: list[dict]) -> dict:
        """A COCO ground truth from stored targets alone (their own category ids and sizes)."""
        ids = targets[0]["category_ids"] if targets else []
        return {"images": [{"id": t["image_id"], "width": t["width"], "height": t["height"]} for t in targets],
                "annotations": [a for t in targets for a in t["annotations"]],
                "categories": [{"id": i, "name": str(i)} for i in ids]}

    def check_compatible(self, adapter, data) -> None:
        from dive_bench.tasks import TASKS

        tok = layout_tokenizer(adapter)
        want = _tokenizer(TASKS.get(self.reference), data.categories)
        if tok is None or (tuple(tok.category_ids), tok.grid, tok.max_objects) != (
                tuple(want.category_ids), want.grid, want.max_objects):
            raise DiveBenchError(f"task {self.name} holds samples of a layout model drawn from {self.reference} "
                                 f"layouts; model {adapter.name!r} "
                                 + ("is class-conditional" if tok is None else "has another layout vocabulary")
                                 + ": score a layout model with the same categories and grid (for "
                                 "self-consistency, the model that made them)")


def _tokenizer(task: DetectionTask, categories: list[dict]):
    """The layout tokens the fidelity run drew its conditions with (run/fidelity.py tokenizes the
    reference's annotations with the model's tokenizer; check_compatible ensures they agree)."""
    from dive_bench.labels import LayoutTokenizer

    return LayoutTokenizer(tuple(int(c["id"]) for c in categories), grid=task.grid, max_objects=task.max_objects,
                           image_size=task.image_size)


def _layout_used(tok, annotations: list[dict], image_id: int) -> list[dict]:
    """An image's boxes as the model was conditioned on them: through the tokenizer and back
    (boxes snap to the grid; on canvases they already lie on it; a box that collapses to nothing
    was not in the condition and is dropped). The area is the box's own when the box moved, the
    reference's otherwise (the shape's pixels on canvases)."""
    out = []
    for obj in tok.decode(tok.encode(annotations)):  # encode keeps the order: slot k is object k
        ann = annotations[obj["slot"]]
        moved = [round(v, 6) for v in obj["bbox"]] != [round(float(v), 6) for v in ann["bbox"]]
        w, h = obj["bbox"][2], obj["bbox"][3]
        out.append({"image_id": image_id, "category_id": obj["category_id"], "bbox": obj["bbox"],
                    "area": float(w * h) if moved else ann["area"], "iscrowd": 0})
    return out


def _fidelity_run(root: Path) -> RunResult:
    """The fidelity run.json in ``root``, with one line for each reason it cannot give samples."""
    path = root / "run.json"
    try:
        payload = json.loads(path.read_text())
    except FileNotFoundError:
        raise DiveBenchError(f"--task generated:{root}: no run.json there; give the --out folder of a finished "
                             "`dive-bench fidelity` run of a class-conditional model") from None
    except (OSError, ValueError) as exc:
        raise DiveBenchError(f"--task generated:{root}: run.json is unreadable ({exc}); rerun the fidelity command "
                             "that made it") from None
    if not isinstance(payload, dict):
        raise DiveBenchError(f"--task generated:{root}: run.json holds a JSON {type(payload).__name__}, not a run; "
                             "rerun the fidelity command that made it")
    run = RunResult.checked(payload, str(path))
    if run.method != "fidelity" or run.samples is None:
        raise DiveBenchError(f"--task generated:{root}: run.json is a {(run.method or None)!r} run, not a fidelity "
                             "run with samples; give the --out folder of `dive-bench fidelity`")
    labels = run.samples["config"].get("labels")
    if labels != "balanced" and not REFERENCE_LAYOUTS.fullmatch(str(labels)):
        raise DiveBenchError(f"--task generated:{root}: its samples are conditioned on {labels!r}, neither balanced "
                             "class labels nor the layouts of a detection set; rerun `dive-bench fidelity` with this "
                             "version")
    return run


def _sample_count(root: Path, run: RunResult) -> int:
    """The run's sample count, checked against the PNGs in samples/ before anything of that
    length is built (an edited run.json could ask for 10^12 samples)."""
    n = run.n_items
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise DiveBenchError(f"--task generated:{root}: run.json has no sample count (n_items {n!r}); rerun the "
                             "fidelity command that made it")
    try:
        present = sum(1 for f in os.listdir(root / "samples") if SAMPLE_FILE.fullmatch(f))
    except OSError as exc:
        raise DiveBenchError(f"--task generated:{root}: cannot list its samples folder ({exc.strerror or exc}); "
                             "rerun the fidelity command that made it, or fix the folder's permissions") from None
    if present < n:
        raise DiveBenchError(f"--task generated:{root}: run.json counts {n:,} samples but samples/ holds {present:,}; "
                             "rerun the fidelity command that made it to regenerate the missing ones")
    return n


def generated_task(spec: str) -> GeneratedTask | GeneratedLayoutTask:
    """``TASKS`` factory for ``generated:SPEC``: SPEC is a fidelity run folder, or ``G.S[.layout]``
    (a stored name)."""
    stored = STORED_NAME.fullmatch(spec)
    if stored and stored.group(3):
        return GeneratedLayoutTask(f"{PREFIX}:{spec}", VERSION, "generated", 0,
                                   description="a layout model's samples (rebuilt from a stored run: metrics only)")
    if stored:
        return GeneratedTask(f"{PREFIX}:{spec}", VERSION, "generated", "generated",
                             description="a model's samples (rebuilt from a stored run: metrics only)")
    if not spec:
        raise DiveBenchError("--task generated: needs a folder: generated:DIR, the --out folder of a fidelity run")
    root = Path(spec).expanduser().resolve()
    run = _fidelity_run(root)
    config = run.samples["config"]
    n = _sample_count(root, run)
    name = f"{PREFIX}:{generated_name(config)}"
    sampled = (f"{n} samples of {config.get('model')} ({config.get('sampler')}, {config.get('steps')} steps, "
               f"guidance {config.get('guidance_scale')})")
    layouts = REFERENCE_LAYOUTS.fullmatch(str(config.get("labels")))
    if layouts:
        return _layout_task(root, name + LAYOUT_SUFFIX, sampled, n, config, *layouts.groups())
    k = int(run.label_space.num_classes or 0)
    if k > MAX_CLASSES:  # before a label or class name per class is built
        raise DiveBenchError(f"--task generated:{root}: run.json says the model has {k:,} classes, more than any "
                             f"class-conditional model (at most {MAX_CLASSES:,}); rerun the fidelity command that made it")
    if k < 2:
        raise DiveBenchError(f"--task generated:{root}: the fidelity run's model has no class count (num_classes); "
                             "rerun `dive-bench fidelity` with this version")
    return GeneratedTask(name, VERSION, "generated", "generated",
                         description=f"{sampled}, {k} classes, sample i from class i mod {k}",
                         root=str(root), num_classes=k, num_items=n, generator_sha256=config["model_sha256"])


def _layout_task(root: Path, name: str, sampled: str, n: int, config: dict, reference: str,
                 reference_sha: str) -> GeneratedLayoutTask:
    """The detection variant: the reference task's grid, categories and DIVE defaults (the
    protocol the model is scored with on real images of that set)."""
    from dive_bench.tasks import TASKS

    if reference not in TASKS:
        raise DiveBenchError(f"--task generated:{root}: its samples were drawn from the layouts of task "
                             f"{reference!r}, which this installation does not have; score where the fidelity run "
                             "was made")
    ref = TASKS.get(reference)
    if getattr(ref, "kind", None) != "detection" or not isinstance(ref, DetectionTask):
        raise DiveBenchError(f"--task generated:{root}: the samples' layouts come from {reference!r}, which is not "
                             "a built-in detection task with a grid; rerun `dive-bench fidelity` with this version")
    return GeneratedLayoutTask(name, VERSION, "generated", n, image_size=ref.image_size, max_objects=ref.max_objects,
                               grid=ref.grid, classes=ref.classes, class_sizes=ref.class_sizes,
                               description=f"{sampled}, sample i from the layout of {reference} image i mod "
                                           f"{ref.num_images}",
                               method_defaults=ref.method_defaults, root=str(root), num_items=n,
                               generator_sha256=config["model_sha256"], reference=reference,
                               reference_sha256=reference_sha)
