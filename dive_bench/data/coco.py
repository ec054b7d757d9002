"""COCO-format detection data: a validating json reader and a loader into one uint8 tensor.

pycocotools trusts its input: an annotation id 0, a duplicate image id or a box with a negative
side changes AP with no error. So every json is checked here first, and anything malformed raises
:class:`DiveBenchError` naming the entry and the fix, before a single image is read.
"""

from __future__ import annotations

import copy
import json
import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dive_bench.errors import DiveBenchError

REQUIRED_KEYS = ("images", "annotations", "categories")


@dataclass(frozen=True)
class DetectionDataset:
    """uint8 images (N, 3, H, W) with their COCO annotations, in the images' own pixel frame.

    ``annotations[i]`` holds the COCO dicts of ``image_ids[i]``; when the loader resized the images
    the boxes (and areas) were scaled with them, so they no longer match ``coco_json``, which is
    kept only as the provenance of the data. Evaluate against :meth:`to_coco`, not the file.
    """

    images: torch.Tensor
    image_ids: list[int]
    annotations: list[list[dict]]
    categories: list[dict]
    coco_json: Path

    def __post_init__(self) -> None:
        import torch  # here, not at the top: the COCO json checks below serve torch-free metrics.coco

        if self.images.dtype != torch.uint8 or self.images.ndim != 4 or self.images.shape[1] != 3:
            raise ValueError(f"images must be uint8 (N, 3, H, W), got {self.images.dtype} {tuple(self.images.shape)}")
        if not len(self.images) == len(self.image_ids) == len(self.annotations):
            raise ValueError(f"{len(self.images)} images, {len(self.image_ids)} ids and "
                             f"{len(self.annotations)} annotation lists must agree")

    def __len__(self) -> int:
        return len(self.image_ids)

    def to_coco(self) -> dict:
        """Ground truth as a COCO dict in this dataset's coordinates (subset and resize applied)."""
        height, width = int(self.images.shape[2]), int(self.images.shape[3])
        return {
            "images": [{"id": i, "width": width, "height": height} for i in self.image_ids],
            "annotations": [copy.deepcopy(a) for anns in self.annotations for a in anns],
            "categories": copy.deepcopy(self.categories),
        }


def _is_int(v: object) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _is_number(v: object) -> bool:
    return (isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))
            and math.isfinite(float(v)))


def check_bbox(bbox: object, where: str) -> None:
    """A COCO box is [x, y, width, height]: four finite numbers, width and height >= 0."""
    if not isinstance(bbox, (list, tuple)) or len(bbox) != 4 or not all(_is_number(v) for v in bbox):
        raise DiveBenchError(f"{where}: bbox must be 4 finite numbers [x, y, width, height], got {bbox!r}")
    if bbox[2] < 0 or bbox[3] < 0:
        raise DiveBenchError(f"{where}: bbox {list(bbox)} has a negative width or height; COCO boxes are "
                             "[x, y, width, height] - convert [x0, y0, x1, y1] boxes with xyxy_to_xywh")


def validate_coco(data: object, source: str, *, need_files: bool = False) -> None:
    """Raise :class:`DiveBenchError` for a ground-truth dict that pycocotools would mis-score.

    ``need_files`` also requires ``file_name``, ``width`` and ``height`` on every image (the
    loader reads pixels; evaluation alone does not need them).
    """
    if isinstance(data, list):
        raise DiveBenchError(f"{source} is a list, which looks like detection results; a ground-truth file is a "
                             "JSON object with 'images', 'annotations' and 'categories'")
    if not isinstance(data, dict):
        raise DiveBenchError(f"{source}: a COCO ground truth must be a JSON object, got {type(data).__name__}")
    missing = [k for k in REQUIRED_KEYS if k not in data]
    if missing:
        raise DiveBenchError(f"{source}: missing key(s) {', '.join(repr(k) for k in missing)}; a COCO instances "
                             "file needs 'images', 'annotations' and 'categories' (use [] when there are none)")
    for key in REQUIRED_KEYS:
        if not isinstance(data[key], list):
            raise DiveBenchError(f"{source}: {key!r} must be a list, got {type(data[key]).__name__}")

    category_ids: set[int] = set()
    for n, cat in enumerate(data["categories"]):
        if not isinstance(cat, dict) or not _is_int(cat.get("id")):
            raise DiveBenchError(f"{source}: category #{n} needs an integer 'id', got {cat!r}")
        if cat["id"] in category_ids:
            raise DiveBenchError(f"{source}: duplicate category id {cat['id']}; every category needs its own id")
        category_ids.add(int(cat["id"]))

    image_ids: set[int] = set()
    for n, img in enumerate(data["images"]):
        if not isinstance(img, dict) or not _is_int(img.get("id")):
            raise DiveBenchError(f"{source}: image #{n} needs an integer 'id', got {img!r}")
        if img["id"] in image_ids:
            raise DiveBenchError(f"{source}: duplicate image id {img['id']} (image #{n}); pycocotools collapses "
                                 "duplicates into one image, so give every image its own id")
        image_ids.add(int(img["id"]))
        for key in ("width", "height"):
            if (key in img or need_files) and not (_is_int(img.get(key)) and img[key] > 0):
                raise DiveBenchError(f"{source}: image id {img['id']} needs a positive integer {key!r}, got {img.get(key)!r}")
        if need_files and not (isinstance(img.get("file_name"), str) and img["file_name"]):
            raise DiveBenchError(f"{source}: image id {img['id']} has no 'file_name'; the loader needs it to find the pixels")

    ann_ids: set[int] = set()
    for n, ann in enumerate(data["annotations"]):
        if not isinstance(ann, dict):
            raise DiveBenchError(f"{source}: annotation #{n} must be an object, got {ann!r}")
        aid = ann.get("id")
        where = f"{source}: annotation #{n} (id {aid!r})"
        if not _is_int(aid) or aid < 1:
            raise DiveBenchError(f"{where}: annotation ids must be integers >= 1 (pycocotools reads id 0 as "
                                 "'unmatched' and silently lowers AP); renumber annotations from 1")
        if aid in ann_ids:
            raise DiveBenchError(f"{where}: duplicate annotation id {aid}; renumber annotations uniquely from 1")
        ann_ids.add(int(aid))
        if not _is_int(ann.get("image_id")) or ann["image_id"] not in image_ids:
            raise DiveBenchError(f"{where}: image_id {ann.get('image_id')!r} is not in 'images'")
        if not _is_int(ann.get("category_id")) or ann["category_id"] not in category_ids:
            raise DiveBenchError(f"{where}: category_id {ann.get('category_id')!r} is not in 'categories' "
                                 f"(known: {sorted(category_ids)})")
        check_bbox(ann.get("bbox"), where)
        if "area" in ann and not (_is_number(ann["area"]) and ann["area"] >= 0):
            raise DiveBenchError(f"{where}: area must be a number >= 0, got {ann['area']!r}")
        if "iscrowd" in ann and ann["iscrowd"] not in (0, 1):
            raise DiveBenchError(f"{where}: iscrowd must be 0 or 1, got {ann['iscrowd']!r}")


def read_coco_json(path: str | Path, *, need_files: bool = False) -> dict:
    """Read and validate a COCO ground-truth json (see :func:`validate_coco`)."""
    path = Path(path)
    if not path.is_file():
        raise DiveBenchError(f"COCO json {path} does not exist; check the path")
    try:
        data = json.loads(path.read_bytes())
    except (ValueError, RecursionError) as exc:
        # ValueError: bad JSON, bad UTF-8, or an integer past Python's 4,300-digit limit;
        # RecursionError: arrays nested thousands deep
        detail = " ".join(str(exc).split())[:120] or type(exc).__name__
        raise DiveBenchError(f"{path} is not valid JSON ({detail}); re-export or re-download the annotation "
                             "file") from None
    except OSError as exc:
        raise DiveBenchError(f"cannot read {path} ({exc.strerror or exc}); check its permissions") from None
    validate_coco(data, str(path), need_files=need_files)
    return data


def _scaled(ann: dict, sx: float, sy: float) -> dict:
    out = copy.deepcopy(ann)
    x, y, w, h = ann["bbox"]
    out["bbox"] = [x * sx, y * sy, w * sx, h * sy]
    if "area" in out:
        out["area"] = out["area"] * sx * sy
    # Polygons/RLE are not rescaled; a stale mask next to a scaled box would be worse than none.
    out.pop("segmentation", None)
    return out


def _read_image(path: Path, img: dict, image_size: int | None) -> tuple[np.ndarray, float, float]:
    if not path.is_file():
        raise DiveBenchError(f"image file {path} (image id {img['id']}) is missing; check image_dir")
    try:
        return _decode_image(path, img, image_size)
    except DiveBenchError:
        raise
    except (OSError, ValueError, SyntaxError) as exc:  # PIL: UnidentifiedImageError, truncated data, ...
        detail = " ".join(str(exc).split())[:100] or type(exc).__name__
        raise DiveBenchError(f"{path} (image id {img['id']}) is truncated or not a readable image ({detail}); "
                             "replace it with a good copy") from exc


def _decode_image(path: Path, img: dict, image_size: int | None) -> tuple[np.ndarray, float, float]:
    from PIL import Image

    from dive_bench.data.pixels import open_bounded

    # the header's size is checked (bounded, then against the json) before any pixel is decoded
    with open_bounded(path, f"{path} (image id {img['id']})") as im:
        if im.size != (img["width"], img["height"]):
            raise DiveBenchError(f"{path} is {im.size[0]}x{im.size[1]} but the json says {img['width']}x{img['height']}; "
                                 "the boxes would be misplaced - fix the json or the image folder")
        im = im.convert("RGB")
        sx = sy = 1.0
        if image_size is not None and im.size != (image_size, image_size):
            sx, sy = image_size / im.size[0], image_size / im.size[1]
            im = im.resize((image_size, image_size), Image.Resampling.BICUBIC)
        return np.asarray(im, dtype=np.uint8), sx, sy


def read_coco_image(json_data: dict, image_dir: str | Path, image_id: int) -> np.ndarray:
    """One image of a checked COCO dict (:func:`read_coco_json` with ``need_files``) as uint8
    (H, W, 3) RGB at its stored size: the pixels :func:`load_coco_detection` loads, one at a time,
    with no torch (the HTML report shows the images a run scored)."""
    img = next((im for im in json_data["images"] if im["id"] == image_id), None)
    if img is None:
        raise DiveBenchError(f"image id {image_id} is not in the COCO json; pass an id from its 'images'")
    return _read_image(Path(image_dir) / img["file_name"], img, None)[0]


def load_coco_detection(json_path: str | Path, image_dir: str | Path, *, subset_ids: list[int] | None = None,
                        image_size: int | None = None) -> DetectionDataset:
    """Load a COCO instances json and its images into one tensor.

    ``subset_ids`` picks images by COCO id, in the given order (default: the json's order).
    ``image_size`` stretches every image to a square of that size (no crop, so no box is cut)
    and scales the boxes by the same per-axis factors. Without it all images must share a size.
    """
    import torch

    json_path, image_dir = Path(json_path), Path(image_dir)
    data = read_coco_json(json_path, need_files=True)
    by_id = {img["id"]: img for img in data["images"]}
    if subset_ids is None:
        ids = [img["id"] for img in data["images"]]
    else:
        ids = list(subset_ids)
        unknown = [i for i in ids if i not in by_id]
        if unknown:
            raise DiveBenchError(f"subset ids {unknown[:5]} are not image ids in {json_path}")
        if len(set(ids)) != len(ids):
            raise DiveBenchError("subset_ids has duplicates; COCO evaluation would collapse them into one image")
    if image_size is not None and (not _is_int(image_size) or image_size < 1):
        raise DiveBenchError(f"image_size must be a positive integer, got {image_size!r}")
    from dive_bench.data.pixels import MAX_IMAGE_PIXELS

    if image_size is not None and image_size * image_size > MAX_IMAGE_PIXELS:  # before any image is stretched
        raise DiveBenchError(f"image_size {image_size} would stretch every image to more than {MAX_IMAGE_PIXELS:,} "
                             "pixels; use the model's resolution")

    anns_by_image: dict[int, list[dict]] = defaultdict(list)
    for ann in data["annotations"]:
        anns_by_image[ann["image_id"]].append(ann)

    arrays, annotations = [], []
    for i in ids:
        array, sx, sy = _read_image(image_dir / by_id[i]["file_name"], by_id[i], image_size)
        arrays.append(array)
        annotations.append([_scaled(a, sx, sy) if (sx, sy) != (1.0, 1.0) else copy.deepcopy(a)
                            for a in anns_by_image[i]])
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        raise DiveBenchError(f"images in {image_dir} have different sizes {sorted(s[:2] for s in shapes)[:3]}...; "
                             "pass image_size to resize them to one square size")
    if arrays:
        images = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()
    else:
        side = image_size or 0
        images = torch.zeros((0, 3, side, side), dtype=torch.uint8)
    return DetectionDataset(images, [int(i) for i in ids], annotations, copy.deepcopy(data["categories"]), json_path)
