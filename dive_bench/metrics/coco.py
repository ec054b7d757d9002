"""COCO box AP through pycocotools, with guards against its silent traps.

pycocotools scores whatever it is given: detections with an unknown category id are dropped
without a word (an unknown image id trips a bare assert), ``loadRes`` raises on an empty list and mutates its input, duplicate
image ids collapse into one image (which breaks a naive bootstrap), and xyxy boxes read as xywh
just score low. The functions here validate first, copy before pycocotools touches anything,
and keep its progress prints off stdout.

This module imports no torch (``dive-bench check`` pairs detections from run.json files with it);
boxes given as torch tensors are still accepted.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import sys
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from dive_bench.data.coco import DetectionDataset, _is_int, _is_number, check_bbox, read_coco_json, validate_coco
from dive_bench.errors import DiveBenchError

# COCOeval.stats order. -1 means "no ground truth in this slice" (e.g. apm/apl on a 32 px canvas,
# where every object is small), not a score: never average it with real values.
STAT_NAMES = ("ap", "ap50", "ap75", "aps", "apm", "apl", "ar1", "ar10", "ar100", "ars", "arm", "arl")

GroundTruth = str | Path | dict | DetectionDataset
#: a list of 4 numbers, or an array / torch tensor (..., 4)
Box = Sequence[float] | np.ndarray


def _is_tensor(x: object) -> bool:
    """A torch tensor, without importing torch: one can only exist once torch is imported."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def xyxy_to_xywh(box: Box) -> Box:
    """[x0, y0, x1, y1] -> COCO [x, y, width, height]; a list of 4, or an array/tensor (..., 4).

    Raises when x1 < x0 or y1 < y0, which is what an xywh box passed here usually looks like.
    """
    if isinstance(box, np.ndarray) or _is_tensor(box):
        if box.shape[-1] != 4:
            raise DiveBenchError(f"boxes must have a last dimension of 4, got shape {tuple(box.shape)}")
        x0, y0, x1, y1 = (box[..., i] for i in range(4))
        if bool((x1 < x0).any()) or bool((y1 < y0).any()):
            raise DiveBenchError("some boxes have x1 < x0 or y1 < y0; are they already [x, y, width, height]?")
        stack = np.stack if isinstance(box, np.ndarray) else sys.modules["torch"].stack
        return stack([x0, y0, x1 - x0, y1 - y0], -1)
    if len(box) != 4:
        raise DiveBenchError(f"a box has 4 numbers [x0, y0, x1, y1], got {box!r}")
    x0, y0, x1, y1 = (float(v) for v in box)
    if x1 < x0 or y1 < y0:
        raise DiveBenchError(f"box {list(box)} has x1 < x0 or y1 < y0; is it already [x, y, width, height]?")
    return [x0, y0, x1 - x0, y1 - y0]


def xywh_to_xyxy(box: Sequence[float]) -> list[float]:
    """COCO [x, y, width, height] -> [x0, y0, x1, y1]."""
    x, y, w, h = (float(v) for v in box)
    return [x, y, x + w, y + h]


def _gt_dict(gt: GroundTruth) -> dict:
    """A validated ground-truth dict of our own (the caller's object is never modified).

    Missing ``iscrowd`` / ``area`` are filled with 0 / box area, as ``loadRes`` does for
    detections, because COCOeval needs both and a hand-built dict often lacks them.
    """
    if isinstance(gt, DetectionDataset):
        data = gt.to_coco()
        validate_coco(data, "DetectionDataset ground truth")
    elif isinstance(gt, (str, Path)):
        data = read_coco_json(gt)
    elif isinstance(gt, dict):
        validate_coco(gt, "ground-truth dict")
        data = gt
    else:
        raise DiveBenchError(f"ground truth must be a COCO json path, a dict or a DetectionDataset, not {type(gt).__name__}")
    annotations = []
    for ann in data["annotations"]:
        ann = dict(ann)
        ann.setdefault("iscrowd", 0)
        ann.setdefault("area", float(ann["bbox"][2]) * float(ann["bbox"][3]))
        annotations.append(ann)
    return {"images": [dict(i) for i in data["images"]], "annotations": annotations,
            "categories": copy.deepcopy(data["categories"])}


def _clean_detections(detections: Sequence[dict], gt: dict) -> list[dict]:
    """Validated plain-Python copies; unknown ids raise instead of being ignored by pycocotools."""
    if isinstance(detections, (str, Path, dict)):
        raise DiveBenchError("detections must be a list of dicts (use read_detections for a results file)")
    image_ids = {img["id"] for img in gt["images"]}
    category_ids = {cat["id"] for cat in gt["categories"]}
    out = []
    for n, det in enumerate(detections):
        where = f"detection #{n}"
        if not isinstance(det, dict):
            raise DiveBenchError(f"{where} must be a dict with image_id, category_id, bbox, score; got {det!r}")
        missing = [k for k in ("image_id", "category_id", "bbox", "score") if k not in det]
        if missing:
            raise DiveBenchError(f"{where} lacks {', '.join(missing)}")
        if not _is_int(det["image_id"]) or det["image_id"] not in image_ids:
            raise DiveBenchError(f"{where}: image_id {det['image_id']!r} is not in the ground truth "
                                 "(pycocotools fails on it with a bare assert); check the image id mapping")
        if not _is_int(det["category_id"]) or det["category_id"] not in category_ids:
            raise DiveBenchError(f"{where}: category_id {det['category_id']!r} is not a ground-truth category "
                                 f"{sorted(category_ids)} (pycocotools would drop it silently); check the label mapping")
        bbox = det["bbox"]
        if isinstance(bbox, np.ndarray) or _is_tensor(bbox):
            bbox = bbox.tolist()
        check_bbox(bbox, where)
        if not _is_number(det["score"]):
            raise DiveBenchError(f"{where}: score must be a finite number, got {det['score']!r}")
        out.append({"image_id": int(det["image_id"]), "category_id": int(det["category_id"]),
                    "bbox": [float(v) for v in bbox], "score": float(det["score"])})
    return out


def read_detections(path: str | Path) -> list[dict]:
    """A COCO results file (a JSON list of detections); contents are checked by :func:`coco_ap`."""
    path = Path(path)
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError as exc:
        raise DiveBenchError(f"detections file {path} does not exist") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DiveBenchError(f"{path} is not valid JSON ({exc})") from exc
    if not isinstance(data, list):
        raise DiveBenchError(f"{path} must hold a JSON list of detections, got {type(data).__name__}")
    return data


def _evaluate(gt: dict, detections: list[dict]) -> np.ndarray:
    """The 12 COCOeval bbox stats for an already validated ground truth and detections."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = gt
        coco_gt.createIndex()
        if detections:
            coco_dt = coco_gt.loadRes(copy.deepcopy(detections))
        else:
            # loadRes raises on []; an empty result set scores 0 where there is ground truth.
            coco_dt = COCO()
            coco_dt.dataset = {"images": list(gt["images"]), "annotations": [],
                               "categories": copy.deepcopy(gt["categories"])}
            coco_dt.createIndex()
        evaluator = COCOeval(coco_gt, coco_dt, iouType="bbox")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return np.asarray(evaluator.stats, dtype=np.float64)


def coco_ap(gt_json_or_dict: GroundTruth, detections: Sequence[dict]) -> dict[str, float]:
    """COCO box AP/AR of ``detections`` ({image_id, category_id, bbox [x, y, w, h], score}).

    Returns the 12 COCOeval stats under :data:`STAT_NAMES`. A value of -1 means the ground truth
    has no object in that slice (size range), so the stat is undefined, not bad. An empty
    detection list gives 0 wherever there is ground truth. COCOeval keeps at most the 100
    highest-scoring detections per image.
    """
    gt = _gt_dict(gt_json_or_dict)
    stats = _evaluate(gt, _clean_detections(detections, gt))
    return {name: float(v) for name, v in zip(STAT_NAMES, stats)}


def resample_images(gt: dict, detections: list[dict], indices: Sequence[int]) -> tuple[dict, list[dict]]:
    """Build a ground truth whose k-th image is a copy of image ``indices[k]`` of ``gt``.

    Every copy gets a NEW image id (k + 1) and its annotations new ids, with the detections
    remapped to match: pycocotools keys images by id, so repeated ids merge copies into one image
    (one detection budget, cross-copy matching), and selecting annotations by id keeps them once.
    ``gt`` must be validated (see :func:`coco_ap`).
    """
    return _resample(gt, _by_image(gt["annotations"]), _by_image(detections), indices)


def _by_image(items: Sequence[dict]) -> dict[int, list[dict]]:
    grouped: dict[int, list[dict]] = defaultdict(list)
    for item in items:
        grouped[item["image_id"]].append(item)
    return grouped


def _resample(gt: dict, anns_by_image: dict, dets_by_image: dict, indices: Sequence[int]) -> tuple[dict, list[dict]]:
    images, annotations, detections = [], [], []
    for k, index in enumerate(indices):
        image = gt["images"][int(index)]
        new_id = k + 1
        images.append({**image, "id": new_id})
        for ann in anns_by_image.get(image["id"], ()):
            annotations.append({**ann, "id": len(annotations) + 1, "image_id": new_id})
        for det in dets_by_image.get(image["id"], ()):
            detections.append({**det, "image_id": new_id})
    return {"images": images, "annotations": annotations, "categories": gt["categories"]}, detections


def bootstrap_ap(gt: GroundTruth, detections: Sequence[dict], *, n_boot: int = 200, seed: int = 0,
                 stats: Sequence[str] = ("ap", "ap50", "ap75")) -> dict[str, tuple[float, float]]:
    """95% percentile bootstrap intervals of COCO stats, resampling images with replacement.

    Images (with all their objects and detections) are the resampling unit because detections
    within an image are not independent. Replicates where a stat is -1 (the resample has no
    ground truth in that slice) are left out of that stat's interval; if every replicate is -1
    the interval is (-1, -1).
    """
    unknown = [s for s in stats if s not in STAT_NAMES]
    if unknown:
        raise DiveBenchError(f"unknown stat(s) {unknown}; choose from {', '.join(STAT_NAMES)}")
    if n_boot < 1:
        raise DiveBenchError(f"n_boot must be >= 1, got {n_boot}")
    gt_dict = _gt_dict(gt)
    clean = _clean_detections(detections, gt_dict)
    n = len(gt_dict["images"])
    if n == 0:
        raise DiveBenchError("the ground truth has no images to resample")
    anns_by_image, dets_by_image = _by_image(gt_dict["annotations"]), _by_image(clean)
    rng = np.random.default_rng(seed)
    columns = [STAT_NAMES.index(s) for s in stats]
    draws = np.empty((n_boot, len(columns)))
    for b in range(n_boot):
        sample_gt, sample_dets = _resample(gt_dict, anns_by_image, dets_by_image, rng.integers(0, n, size=n))
        draws[b] = _evaluate(sample_gt, sample_dets)[columns]
    out = {}
    for j, name in enumerate(stats):
        values = draws[:, j][draws[:, j] >= 0]
        if values.size == 0:
            out[name] = (-1.0, -1.0)
        else:
            lo, hi = np.percentile(values, [2.5, 97.5])
            out[name] = (float(lo), float(hi))
    return out


def paired_ap_drops(gt: GroundTruth, baseline: Sequence[dict], current: Sequence[dict], *, n_boot: int = 200,
                    seed: int = 0, stats: Sequence[str] = ("ap", "ap50", "ap75")) -> dict[str, np.ndarray]:
    """Bootstrap replicates of (baseline - current) for each stat, both runs resampled with the
    SAME images each time, so the difference keeps the pairing (image difficulty cancels). NaN
    where a replicate has no ground truth for the stat (a size slice absent from the resample)."""
    gt_dict = _gt_dict(gt)
    base, cur = _clean_detections(baseline, gt_dict), _clean_detections(current, gt_dict)
    n = len(gt_dict["images"])
    anns = _by_image(gt_dict["annotations"])
    base_by, cur_by = _by_image(base), _by_image(cur)
    rng = np.random.default_rng(seed)
    columns = [STAT_NAMES.index(s) for s in stats]
    drops = np.empty((n_boot, len(columns)))
    for b in range(n_boot):
        idx = rng.integers(0, n, size=n)
        g, d_base = _resample(gt_dict, anns, base_by, idx)
        _, d_cur = _resample(gt_dict, anns, cur_by, idx)
        b_stats, c_stats = _evaluate(g, d_base)[columns], _evaluate(g, d_cur)[columns]
        # -1: this resample has no ground truth of that size slice; no difference to speak of
        drops[b] = np.where((b_stats < 0) | (c_stats < 0), np.nan, b_stats - c_stats)
    return {name: drops[:, j] for j, name in enumerate(stats)}


def ground_truth_of(targets: list[dict], *predictions: list[list[dict]]) -> dict:
    """A COCO ground-truth dict from per-item targets as stored in run.json
    (``{"image_id", "annotations"[, "category_ids"][, "original"]}``), with the categories of the
    targets, their annotations and the given per-image predictions. COCOeval averages AP over
    categories that have ground truth only, so this gives the task's own numbers without the task.
    A target scored in a resized frame keeps the image's own boxes in ``original``: AP is computed
    in each image's own pixels, as COCO defines it."""
    cats = sorted({c for t in targets for c in t.get("category_ids", ())}
                  | {a["category_id"] for t in targets for a in t["annotations"]}
                  | {d["category_id"] for p in predictions for dets in p for d in dets})
    images, annotations = [], []
    for t in targets:
        o = t.get("original")
        images.append({"id": t["image_id"], **({"width": o["width"], "height": o["height"]} if o else {})})
        annotations += o["annotations"] if o else t["annotations"]
    return {"images": images, "annotations": annotations, "categories": [{"id": c} for c in cats]}


def detections_of(predictions: list[list[dict]], targets: list[dict]) -> list[dict]:
    """Per-image box lists -> one COCO result list, each box tagged with its image id and, for a
    target scored in a resized frame, scaled back to the image's own pixels."""
    out = []
    for p, t in zip(predictions, targets):
        o = t.get("original")
        sx, sy = (o["width"] / o["frame"][0], o["height"] / o["frame"][1]) if o else (1.0, 1.0)
        for d in p:
            x, y, w, h = d["bbox"]
            out.append({**d, "image_id": t["image_id"], "bbox": [x * sx, y * sy, w * sx, h * sy] if o else d["bbox"]})
    return out


__all__ = ["STAT_NAMES", "bootstrap_ap", "coco_ap", "detections_of", "ground_truth_of", "paired_ap_drops",
           "read_detections", "resample_images", "xywh_to_xyxy", "xyxy_to_xywh"]
