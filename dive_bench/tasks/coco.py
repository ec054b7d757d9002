"""``--task coco:INSTANCES.json:IMAGES_DIR[:SUBSET_IDS][:size=N]``: COCO box AP of a layout model.

The DIVE paper's detection protocol on COCO 2017 val (a 500-image subset) for a layout-to-image
model trained on COCO's categories. The json and images are read by the validating loader
(:func:`dive_bench.data.coco.load_coco_detection`); ``SUBSET_IDS`` is a text file of COCO image
ids, one per line (``#`` comments allowed), scored in that order (default: all images of the
json, in its order). COCO images differ in size, so ``size=N`` stretches each to N x N (the
model's resolution; no crop, so no box is cut) and scales its boxes to match; without it every
image must already have one size.

Where AP is computed: in each image's own pixels, as COCO defines it. The model sees (and
answers in) the stretched frame; its boxes are scaled back per image before pycocotools sees
them, so APs/APm/APl keep COCO's 32^2 / 96^2 pixel thresholds and the json's own areas. AP, AP50,
AP75 and the ARs are unchanged by a per-axis scale (IoU is), so only the size-split stats would
differ had we scored in the stretched frame. Each item's stored target keeps both frames: the
stretched ``annotations`` (what the model saw; generic readers of run.json pair them with the
stored predictions) and, when stretched, ``original`` (size, frame and the json's annotations).

Name and run key: as for ``folder:`` (see :mod:`.folder`), the name is ``coco:sha256=<16 hex>``
of the items' content: per image in order its id, size, the sha256 of its file's bytes and its
annotations (segmentations dropped, as box AP never reads them), plus the categories and
``size``. Neither paths nor file names are in it, and a json trimmed to the subset gives the same
name as the full file with a subset list. Targets also carry the task's category ids, so a task
rebuilt from the stored name (``merge``, ``check``) computes the same metrics without the files.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from dive_bench.data.coco import DetectionDataset, load_coco_detection, read_coco_json
from dive_bench.data.image_folder import read_bytes
from dive_bench.errors import DiveBenchError
from dive_bench.tasks.detection import DetectionTask
from dive_bench.tasks.folder import HASHED, VERSION, content_digest, hashed_name
from dive_bench.labels import layout_tokenizer
from dive_bench.metrics.coco import detections_of
from dive_bench.util.parse import describe_number, quoted, whole_number

USAGE = "coco:INSTANCES.json:IMAGES_DIR[:SUBSET_IDS][:size=N]"
#: ``size=N`` above this is refused before any image is stretched: 100,000 would allocate 30 GB
#: per image. No layout model takes more than 1024 px; the model's own size is checked after.
MAX_SIZE = 1024
#: the ``:key=value`` options of a coco: task
OPTIONS = ("size",)
#: a trailing part that is an option, not a path (a subset file named ``a=b`` is written ``./a=b``)
_OPTION = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)", re.S)


@dataclass(frozen=True)
class CocoImages(DetectionDataset):
    """A :class:`DetectionDataset` that also keeps each image's ground truth as in the json:
    ``originals[i] = {"width", "height", "annotations"}`` in the image's own pixels."""

    originals: tuple = ()


def _strip(ann: dict) -> dict:
    """An annotation as box AP needs it (polygons and RLE masks can be kilobytes per object)."""
    return {k: v for k, v in ann.items() if k != "segmentation"}


def read_subset_ids(path: Path) -> list[int]:
    """COCO image ids, one per line; blank lines and ``#`` comments are skipped."""
    try:
        text = path.read_text(encoding="utf-8-sig")  # Excel and Notepad may start it with a BOM
    except FileNotFoundError:
        raise DiveBenchError(f"subset ids file {path} does not exist; it lists COCO image ids, one per line") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DiveBenchError(f"cannot read the subset ids file {path} ({exc})") from exc
    ids = []
    for n, line in enumerate(text.splitlines(), 1):
        word = line.split("#", 1)[0].strip()
        if not word:
            continue
        value = whole_number(word)
        if value is None:
            raise DiveBenchError(f"{path} line {n}: {describe_number(word)}, not a COCO image id; write one image id "
                                 "(a whole number) a line")
        ids.append(value)
    if not ids:
        raise DiveBenchError(f"subset ids file {path} lists no image ids")
    return ids


@dataclass(frozen=True)
class _Items:
    digest: str
    ids: list[int]
    categories: list[tuple[int, str]]
    originals: list[dict]


def _read_items(json_path: Path, image_dir: Path, subset: list[int] | None, size: int | None) -> _Items:
    data = read_coco_json(json_path, need_files=True)
    if not image_dir.is_dir():
        raise DiveBenchError(f"COCO image folder {image_dir} does not exist or is not a folder; check IMAGES_DIR in "
                             f"{USAGE}")
    by_id = {img["id"]: img for img in data["images"]}
    ids = [img["id"] for img in data["images"]] if subset is None else list(subset)
    unknown = [i for i in ids if i not in by_id]
    if unknown:
        raise DiveBenchError(f"subset ids {unknown[:5]} are not image ids in {json_path}")
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise DiveBenchError(f"image id {dup} is listed twice in the subset; COCO evaluation would merge the copies")
    if not ids:
        raise DiveBenchError(f"{json_path} has no images to score")
    sizes = sorted({(by_id[i]["width"], by_id[i]["height"]) for i in ids})
    if size is None and len(sizes) > 1:
        shown = ", ".join(f"{w}x{h}" for w, h in sizes[:3])
        raise DiveBenchError(f"the images of {json_path} have {len(sizes)} sizes ({shown}, ...); add :size=N to the "
                             f"task ({USAGE}) to stretch each to N x N, the model's resolution (AP stays in each "
                             "image's own pixels)")
    anns = defaultdict(list)
    for a in data["annotations"]:
        anns[a["image_id"]].append(_strip(a))
    if not any(anns[i] for i in ids):
        which = "has no annotations" if not data["annotations"] else (
            f"has no annotations on the {len(ids)} selected image(s)")
        raise DiveBenchError(f"{json_path} {which}, so box AP is undefined (pycocotools would report -1); give the "
                             "instances json with its boxes, or select images that have some")
    items, originals = [], []
    for i in ids:
        img = by_id[i]
        path = image_dir / img["file_name"]
        if not path.is_file():
            raise DiveBenchError(f"image file {path} (image id {i}) is missing; check IMAGES_DIR")
        items.append([i, img["width"], img["height"], hashlib.sha256(read_bytes(path)).hexdigest(), anns[i]])
        originals.append({"width": img["width"], "height": img["height"], "annotations": anns[i]})
    categories = sorted((int(c["id"]), str(c.get("name", c["id"]))) for c in data["categories"])
    digest = content_digest("coco", {"size": size, "categories": [list(c) for c in categories], "items": items})
    return _Items(digest, ids, categories, originals)


@dataclass(frozen=True)
class CocoTask(DetectionTask):
    """COCO-format detection from a json and an image folder; COCO box AP with a bootstrap CI
    (:meth:`DetectionTask.metrics`) in each image's own pixels."""

    json_path: str | None = None
    image_dir: str | None = None
    subset_ids: tuple[int, ...] | None = None
    #: N of ``size=N`` (images stretched to N x N), or None (stored size)
    resize: int | None = None
    #: full sha256 of the items (the name holds its first 16 hex digits)
    digest: str = ""
    #: (id, name) of the json's categories; empty for a task rebuilt from its stored name
    category_names: tuple[tuple[int, str], ...] = ()

    def load(self, data_root: str | None = None) -> CocoImages:
        """The images (stretched to ``size`` if given) with their boxes; ``data_root`` is not used."""
        if self.json_path is None:
            raise DiveBenchError(f"task {self.name} was rebuilt from a stored run and has no files; score it with "
                                 f"--task {USAGE}, files whose content has this hash")
        items = _read_items(Path(self.json_path), Path(self.image_dir), list(self.subset_ids or []) or None,
                            self.resize)
        if items.digest != self.digest:
            raise DiveBenchError(f"the json or images of {self.name} ({self.json_path}) changed after the task was "
                                 "named; rerun to score them as they are now")
        d = load_coco_detection(self.json_path, self.image_dir, subset_ids=items.ids, image_size=self.resize)
        return CocoImages(d.images, d.image_ids, d.annotations, d.categories, d.coco_json,
                          originals=tuple(items.originals))

    def item_source(self) -> dict | None:
        """The json, image folder, subset and size the items were read with, and their digest (None
        for a task rebuilt from its stored name, which has no files)."""
        if self.json_path is None:
            return None
        return {"coco_json": self.json_path, "image_dir": self.image_dir,
                "subset_ids": None if self.subset_ids is None else list(self.subset_ids), "size": self.resize,
                "digest": self.digest}

    def categories(self) -> list[dict]:
        return [{"id": i, "name": n} for i, n in self.category_names]

    def check_compatible(self, adapter, data) -> None:
        """The json's categories must be the model's, matched by name where the model has names.

        Ids alone are not enough: a json exported with another category table (ids 1, 2, 3 meaning
        disk, triangle, square) passes an id check and scores every box against the wrong class.
        Where ids and names disagree we refuse rather than let either win: a permuted table is a
        mistake in one of the two, the user knows which, and one edit of the json fixes it, where
        remapping would score boxes under ids the user's file does not have."""
        tok = layout_tokenizer(adapter)
        if tok is None:
            raise DiveBenchError(f"task {self.name} ({self.json_path}) needs a layout-conditional model trained on its "
                                 f"categories, but {adapter.name!r} is class-conditional")
        task = {c["id"]: c.get("name") for c in data.categories}
        names = tuple(getattr(adapter.label_space, "names", ()) or ())
        model = dict(zip(tok.category_ids, names))
        real_names = len(names) == len(tok.category_ids) and list(names) != [str(i) for i in range(len(names))]
        if real_names:
            self._check_names(adapter, task, model)
        only_task = sorted(set(task) - set(tok.category_ids))
        only_model = sorted(set(tok.category_ids) - set(task))
        if only_task or only_model:
            def shown(ids: list[int], names: dict) -> str:
                text = ", ".join(f"{i} {names[i]!r}" if names.get(i) else str(i) for i in ids[:8])
                return text + (f" (+{len(ids) - 8} more)" if len(ids) > 8 else "") if ids else "none"

            raise DiveBenchError(f"model {adapter.name!r} and task {self.name} ({self.json_path}) disagree on "
                                 f"categories: only in the task: {shown(only_task, task)}; only in the model: "
                                 f"{shown(only_model, model)} ({len(task)} task vs {len(tok.category_ids)} model "
                                 "categories); use a layout model trained on this json's categories")

    def _check_names(self, adapter, task: dict, model: dict) -> None:
        by_name = {str(n): i for i, n in model.items()}
        nameless = [i for i, n in task.items() if not isinstance(n, str) or not n]
        if nameless:
            raise DiveBenchError(f"{self.json_path}: categories {nameless[:8]} have no 'name', and model "
                                 f"{adapter.name!r} matches categories by name; add the names "
                                 f"({', '.join(map(repr, by_name))})")
        unknown = sorted(n for n in task.values() if n not in by_name)
        if unknown:
            raise DiveBenchError(f"{self.json_path} has categories model {adapter.name!r} does not know: "
                                 f"{', '.join(map(repr, unknown[:8]))}" + (f" (+{len(unknown) - 8} more)" if
                                                                           len(unknown) > 8 else "")
                                 + f" (it knows {', '.join(map(repr, list(by_name)[:12]))}); score a layout model "
                                 "trained on this json's categories, or drop those categories and their boxes")
        moved = [(n, i, by_name[n]) for i, n in sorted(task.items()) if by_name[n] != i]
        if moved:
            shown = "; ".join(f"{n!r} is id {i} in the json, {j} in the model" for n, i, j in moved[:4])
            table = ", ".join(f"{n}={i}" for n, i in by_name.items())
            raise DiveBenchError(f"{self.json_path} and model {adapter.name!r} number the categories differently "
                                 f"({shown}), so boxes would be scored against the wrong class; renumber the json's "
                                 f"categories and annotations to the model's ids ({table})")
        missing = sorted(set(model) - set(task))
        if missing:
            raise DiveBenchError(f"{self.json_path} lacks the model's categories "
                                 f"{', '.join(repr(model[i]) for i in missing[:8])}; list all of the model's "
                                 f"categories ({', '.join(map(repr, by_name))}) in 'categories', with or without boxes")

    def target(self, data: CocoImages, i: int) -> dict:
        """The image's boxes in the model's frame, the task's category ids, and (when stretched)
        the json's own boxes and size (``original``), which the metric uses."""
        height, width = int(data.images.shape[2]), int(data.images.shape[3])
        t = {"image_id": int(data.image_ids[i]), "annotations": [_strip(a) for a in data.annotations[i]],
             "category_ids": sorted(int(c["id"]) for c in data.categories)}
        o = data.originals[i]
        if (o["width"], o["height"]) != (width, height):
            t["original"] = {"width": o["width"], "height": o["height"], "frame": [width, height],
                             "annotations": o["annotations"]}
        return t

    def ground_truth(self, targets: list[dict]) -> dict:
        """A COCO ground truth in each image's own pixels, from stored targets alone."""
        names = dict(self.category_names)
        ids = targets[0]["category_ids"] if targets else [i for i, _ in self.category_names]
        images, annotations = [], []
        for t in targets:
            o = t.get("original")
            images.append({"id": t["image_id"], **({"width": o["width"], "height": o["height"]} if o else {})})
            annotations += o["annotations"] if o else t["annotations"]
        return {"images": images, "annotations": annotations,
                "categories": [{"id": i, "name": names.get(i, str(i))} for i in ids]}

    def detections(self, predictions: list[list[dict]], targets: list[dict]) -> list[dict]:
        """Per-image boxes (model frame) -> one COCO result list in each image's own pixels."""
        return detections_of(predictions, targets)


def _parse(spec: str) -> tuple[Path, Path, Path | None, int | None]:
    """The parts of ``coco:SPEC``. Trailing ``key=value`` parts are options, read strictly: an
    unknown key or a value that is not a whole number is refused, never taken for a file name."""
    parts = spec.split(":")
    options: dict[str, str] = {}
    while len(parts) > 2 and (m := _OPTION.fullmatch(parts[-1])):
        key, value = m.groups()
        if key not in OPTIONS:
            raise DiveBenchError(f"--task coco:...: unknown option {quoted(key)}; the options are {', '.join(OPTIONS)} "
                                 f"({USAGE}); a subset ids file named like an option is written ./{key}=...")
        if key in options:
            raise DiveBenchError(f"--task coco:...: option {key!r} is given twice; give it once")
        options[key] = value
        parts.pop()
    size = None
    if "size" in options:
        size = whole_number(options["size"], max_digits=9)
        if size is None:
            raise DiveBenchError(f"--task coco:...: size {describe_number(options['size'], 9)}; write size=N with N the "
                                 "model's resolution in pixels, e.g. size=32")
        if not 1 <= size <= MAX_SIZE:
            raise DiveBenchError(f"--task coco:...: size must be from 1 to {MAX_SIZE} (the model's resolution in pixels), "
                                 f"got {size}")
    if len(parts) not in (2, 3) or not all(parts):
        raise DiveBenchError(f"task {quoted('coco:' + spec, 300)} must look like {USAGE} (paths may not contain ':')")
    return (Path(parts[0]).expanduser(), Path(parts[1]).expanduser(),
            Path(parts[2]).expanduser() if len(parts) == 3 else None, size)


def coco_task(spec: str) -> CocoTask:
    """``TASKS`` factory for ``coco:SPEC``: the files of :data:`USAGE`, or ``sha256=<16 hex>`` (a stored name)."""
    if HASHED.fullmatch(spec):
        return CocoTask(f"coco:{spec}", VERSION, "val", 0, image_size=0, classes=(),
                        description="COCO-format set named by content (rebuilt from a stored run: metrics only)")
    json_path, image_dir, subset_file, size = _parse(spec)
    subset = read_subset_ids(subset_file) if subset_file else None
    items = _read_items(json_path, image_dir, subset, size)
    return CocoTask(hashed_name("coco", items.digest), VERSION, "val", len(items.ids), image_size=size or 0,
                    classes=tuple(n for _, n in items.categories),
                    description=f"COCO-format detection, {len(items.ids)} images, {len(items.categories)} categories"
                                + (f", stretched to {size}x{size}" if size else ""),
                    json_path=str(json_path.resolve()), image_dir=str(image_dir.resolve()),
                    subset_ids=tuple(items.ids) if subset is not None else None, resize=size, digest=items.digest,
                    category_names=tuple(items.categories))
