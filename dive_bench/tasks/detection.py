"""Detection: layouts found by inversion -> boxes -> COCO AP (pycocotools) with a bootstrap CI."""

from __future__ import annotations

from dataclasses import dataclass, field

from dive_bench.data.canvas import DEFAULT_CLASSES, load_canvas
from dive_bench.errors import DiveBenchError
from dive_bench.metrics.coco import bootstrap_ap, coco_ap, detections_of
from dive_bench.labels import layout_tokenizer

REPORTED = ("ap", "ap50", "ap75", "aps", "apm", "apl", "ar1", "ar10", "ar100")


@dataclass(frozen=True)
class DetectionTask:
    name: str
    version: str
    split: str
    num_images: int
    data_seed: int = 0
    image_size: int = 32
    max_objects: int = 3
    grid: int = 17
    classes: tuple[str, ...] = DEFAULT_CLASSES
    #: fixed (width, height) in grid cells per class (canvas-det-sized); None: uniform sizes
    class_sizes: tuple[tuple[int, int], ...] | None = None
    description: str = ""
    kind: str = "detection"
    #: see ClassificationTask.metric_info; -1 from pycocotools means "no ground truth of that size"
    metric_info: dict = field(default_factory=lambda: {
        "primary": "ap", "higher_is_better": {k: True for k in REPORTED},
        "display": {"ap": "AP", "ap50": "AP50", "ap75": "AP75", "aps": "APs", "apm": "APm", "apl": "APl"}})
    n_boot: int = 200
    #: the paper's detection settings (cosine snapping, image + prior loss) except the init: from
    #: all-[none] the straight-through gradient never flips a slot (AP 0 after 200 steps), so slots
    #: start from a coarse single-object enumeration (``--init none`` gives the paper's init). Short
    #: refinement (30 steps of 6 probes) keeps a 100-image CPU table in reach. The prior weight
    #: was chosen on canvas-det-dev (leaderboards/tune_prior.sh, best dev AP of 0.01-1 x 1 or 8
    #: draws): at 1.0 the prior's gradient is 4-20x the image's at the true layout and pulls boxes
    #: off their objects (dev AP75 0.20 vs 0.48 without prior).
    method_defaults: dict = field(default_factory=lambda: {"dive": DetectionTask.default_dive()})

    @staticmethod
    def default_dive() -> dict:
        # neighbour repairs: chosen on canvas-det-dev (leaderboards/tuning/TUNING.md), AP 64.6 with
        # them against 53.6 without (the prior adds nothing there: 63.6 without it)
        return {"init": "coarse", "snap_distance": "cosine", "prior_weight": 0.1, "interval": 50, "steps": 30, "weighting": "x0",
                "probes_per_step": 6, "monitor_every": 5, "neighbour_repairs": True}

    def load(self, data_root: str | None = None):
        from pathlib import Path

        return load_canvas(Path(data_root) if data_root else None, self.split, self.num_images, seed=self.data_seed,
                           image_size=self.image_size, max_objects=self.max_objects, grid=self.grid, classes=self.classes,
                           class_sizes=self.class_sizes)

    def item_source(self) -> dict | None:
        """The canvas parameters that regenerate the items (``data.canvas.ensure_canvas``), stored in
        run.json (``item_source``) so that a torch-free report can show the images."""
        return {"dataset": "canvas", "split": self.split, "num_images": self.num_images, "seed": self.data_seed,
                "image_size": self.image_size, "max_objects": self.max_objects, "grid": self.grid,
                "classes": list(self.classes),
                "class_sizes": None if self.class_sizes is None else [list(wh) for wh in self.class_sizes]}

    def categories(self) -> list[dict]:
        return [{"id": i + 1, "name": n} for i, n in enumerate(self.classes)]

    def target(self, data, i: int) -> dict:
        return {"image_id": int(data.image_ids[i]), "annotations": data.annotations[i]}

    def check_compatible(self, adapter, data) -> None:
        tok = layout_tokenizer(adapter)
        if tok is None:
            raise DiveBenchError(f"task {self.name!r} needs a layout-conditional model (e.g. layout-canvas-s), "
                                 f"but {adapter.name!r} is class-conditional")
        ids = tuple(c["id"] for c in data.categories)
        if tuple(tok.category_ids) != ids:
            raise DiveBenchError(f"model {adapter.name!r} knows categories {tok.category_ids}, task {self.name!r} has {ids}")

    def ground_truth(self, targets: list[dict]) -> dict:
        """A COCO ground-truth dict for the images of ``targets`` (as stored per item)."""
        return {"images": [{"id": t["image_id"], "width": self.image_size, "height": self.image_size} for t in targets],
                "annotations": [a for t in targets for a in t["annotations"]], "categories": self.categories()}

    @staticmethod
    def detections(predictions: list[list[dict]], targets: list[dict]) -> list[dict]:
        """Per-image box lists -> one COCO result list, each box tagged with its image id."""
        return detections_of(predictions, targets)

    def metrics(self, predictions: list[list[dict]], targets: list[dict]) -> dict:
        gt, dets = self.ground_truth(targets), self.detections(predictions, targets)
        if not gt["annotations"]:
            # pycocotools answers -1 ("no ground truth") for every stat: never a score to report
            raise DiveBenchError(f"the {len(targets)} scored image(s) of task {self.name} hold no ground-truth boxes, so "
                                 "box AP is undefined; score images that have annotations (another --items or --limit)")
        point = coco_ap(gt, dets)
        ci = bootstrap_ap(gt, dets, n_boot=self.n_boot, seed=0, stats=("ap", "ap50", "ap75"))
        out = {}
        for k in REPORTED:
            out[k] = {"value": point[k], "n": len(targets)}
            if k in ci:
                out[k].update(ci_low=ci[k][0], ci_high=ci[k][1], interval=f"bootstrap95 over images ({self.n_boot})")
        return out
