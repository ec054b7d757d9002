"""The images of the items a run scored, for ``dive-bench report``'s galleries, with no torch.

A run.json stores item ids, not pixels. Its ``item_source`` (written by ``merge`` from the task's
``item_source()``) says where the pixels come from, and this module reads them with the numpy
halves of the dataset loaders (``data/idx.py``, ``data/glyphs.py``, ``data/canvas.py``,
``data/coco.py``): the same code the torch loaders wrap, so a gallery shows exactly what the
model saw (before any resize). Samples are found by content (``report/item_samples.py``).

Runs stored before ``item_source`` existed fall back on their task name, for the built-in
classification tasks only (:data:`LEGACY_TASKS`: their test split); a canvas run needs its
``item_source`` (``leaderboards/add_sources.py`` adds it to stored runs).

Nothing here raises for an absent dataset: :class:`ItemImages` says in ``missing`` why and how
to get it, so one run without images never stops a report of many.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from dive_bench.errors import DiveBenchError
from dive_bench.report.item_pixels import ItemImages, hwc
from dive_bench.report.item_samples import generated_samples, samples_of
from dive_bench.spec.result import RunResult

#: task name -> item_source of runs stored before item_source: the registered classification tasks
#: whose items are their dataset's test split (tasks/builtin.py, tasks/numbers.py)
LEGACY_TASKS = {name: {"dataset": name, "split": "test"}
                for name in ("fmnist", "digits", "numbers-10", "numbers-100", "numbers-1000")}
#: the canvas parameters of an item_source, as ``data.canvas.ensure_canvas`` takes them
CANVAS_KEYS = ("split", "num_images", "seed", "image_size", "max_objects", "grid", "classes", "class_sizes")


def dataset_arrays(dataset: str, split: str, data_root: str | Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 images (N, C, H, W), int64 labels) of a registered classification dataset, or a
    DiveBenchError saying why not (unknown here, files absent)."""
    from dive_bench.data import glyphs, idx

    if dataset == "fmnist":
        problem = idx.fmnist_missing(data_root)
        if problem:
            raise DiveBenchError(problem)
        return idx.fmnist_arrays(split, data_root)
    if dataset == "digits":
        return glyphs.digits_arrays(split)
    if dataset in glyphs.NUMBERS_DATASETS:
        images, numbers, _ = glyphs.numbers_arrays(glyphs.NUMBERS_DATASETS[dataset], split)
        return images, numbers.astype(np.int64)
    raise DiveBenchError(f"the report cannot read dataset {dataset!r} without torch (it reads fmnist, digits, "
                         f"{', '.join(glyphs.NUMBERS_DATASETS)} and canvas); its images are not shown")


def _dataset_images(dataset: str, split: str, data_root: str | Path | None) -> ItemImages:
    what = f"{dataset} {split} split"
    try:
        images, _ = dataset_arrays(dataset, split, data_root)
    except DiveBenchError as exc:
        return ItemImages.unavailable(what, str(exc))
    if dataset == "fmnist":
        from dive_bench.data.idx import fmnist_root

        what += f" from {fmnist_root(data_root)}"
    return ItemImages(what, read=hwc(images), count=len(images))


def _coco_images(json_path: Path, image_dir: Path, ids: list[int] | None, what: str) -> ItemImages:
    """Item i: the i-th image of ``ids`` (default: the json's order), at its stored size."""
    from dive_bench.data.coco import read_coco_image, read_coco_json

    try:
        data = read_coco_json(json_path, need_files=True)
    except DiveBenchError as exc:
        return ItemImages.unavailable(what, str(exc))
    order = [img["id"] for img in data["images"]] if ids is None else list(ids)
    return ItemImages(f"{what} ({json_path})", read=lambda i: read_coco_image(data, image_dir, order[i]),
                      count=len(order))


def _canvas_images(source: dict, data_root: str | Path | None) -> ItemImages:
    """A canvas split, generated into the cache on first use as the scoring run did."""
    from dive_bench.data.canvas import ensure_canvas

    what = f"canvas {source.get('split')} split ({source.get('num_images')} images)"
    try:
        params = {k: source[k] for k in CANVAS_KEYS}
        sizes = params.pop("class_sizes")
        json_path = ensure_canvas(Path(data_root) if data_root else None, params.pop("split"), params.pop("num_images"),
                                  params.pop("seed"), classes=tuple(params.pop("classes")),
                                  class_sizes=None if sizes is None else tuple(tuple(wh) for wh in sizes), **params)
    except KeyError as exc:
        return ItemImages.unavailable(what, f"run.json item_source lacks the canvas parameter {exc}; rerun "
                                            "`dive-bench merge` on the run (or leaderboards/add_sources.py)")
    except (DiveBenchError, TypeError, ValueError) as exc:
        return ItemImages.unavailable(what, f"the canvas split cannot be made here ({exc})")
    return _coco_images(json_path, json_path.parent / "images", None, what)


def source_of(run: RunResult) -> dict:
    """The run's ``item_source``, else (runs stored before it) the legacy entry of its task, else {}."""
    return run.item_source or LEGACY_TASKS.get(run.task, {})


def images_of(run: RunResult, search: Sequence[Path] = (), *, data_root: str | Path | None = None) -> ItemImages:
    """The pixels of ``run``'s items (item id -> image), or why they are not here (``missing``).

    ``search``: folders that may hold sample folders (a fidelity run's, a ``generated:`` run's);
    ``data_root``: as ``--data-root`` of the scoring run (the Fashion-MNIST folder, the canvas cache)."""
    if run.kind == "fidelity":
        return samples_of(run, search)
    source = source_of(run)
    if "generated" in source or run.task.startswith("generated:"):
        return generated_samples(str(source.get("generated") or run.task.partition(":")[2]), search, run.n_items)
    if source.get("dataset") == "canvas":
        return _canvas_images(source, data_root)
    if "dataset" in source:
        return _dataset_images(str(source["dataset"]), str(source.get("split", "test")), data_root)
    if "coco_json" in source:
        ids = source.get("subset_ids")
        return _coco_images(Path(source["coco_json"]), Path(str(source.get("image_dir"))), ids, f"task {run.task}")
    if "folder" in source:
        return ItemImages.unavailable(f"task {run.task}", f"images of folder: tasks ({source['folder']}) are not shown "
                                                          "yet: reading them torch-free is not implemented")
    return ItemImages.unavailable(f"task {run.task}", f"run {run.name} records no item_source and task {run.task!r} "
                                  "is not a built-in classification task; rerun `dive-bench merge` on its folder "
                                  "with this version (or leaderboards/add_sources.py) to record where its items are")


def real_by_class(reference: dict, per_class: int, *,
                  data_root: str | Path | None = None) -> dict[int, list[np.ndarray]] | str:
    """The first ``per_class`` real images of each class of a fidelity run's reference (its
    ``reference`` record, ``spec`` ``DATASET[:SPLIT]``): class -> images ((H, W) or (H, W, 3)),
    or one sentence why not (a layout reference has no classes; a dataset not here)."""
    spec = str(reference.get("spec") or "")
    dataset, _, split = spec.partition(":")
    if not dataset:
        return "the run's reference records no dataset (reference.spec); rerun `dive-bench fidelity` with this version"
    if dataset.startswith("canvas"):
        return f"reference {spec} is not class-conditional (a layout set), so it has no real images per class"
    try:
        images, labels = dataset_arrays(dataset, split or "test", data_root)
    except DiveBenchError as exc:
        return str(exc)
    read = hwc(images)
    out: dict[int, list[np.ndarray]] = {}
    for c in sorted(int(v) for v in np.unique(labels)):
        out[c] = [read(int(i)) for i in np.flatnonzero(labels == c)[:max(per_class, 0)]]
    return out


__all__ = ["LEGACY_TASKS", "ItemImages", "dataset_arrays", "images_of", "real_by_class", "samples_of", "source_of"]
