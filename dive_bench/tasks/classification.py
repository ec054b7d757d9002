"""Classification: accuracy of predicted class labels, with a Wilson 95% interval."""

from __future__ import annotations

from dataclasses import dataclass, field

from dive_bench.data import DATASETS
from dive_bench.data.base import ImageDataset
from dive_bench.metrics.stats import wilson_interval
from dive_bench.labels import layout_tokenizer


@dataclass(frozen=True)
class ClassificationTask:
    name: str
    #: bump when the items or the metric change, so old and new runs are never compared
    version: str
    dataset: str
    split: str
    description: str = ""
    kind: str = "classification"
    #: per-method settings this task's runs start from (the user's options override them)
    method_defaults: dict = field(default_factory=dict)
    #: the task of this one's dev split (same classes, images for tuning), if it has one: --method
    #: auto's accuracy guard compares DIVE with enumeration on its labelled images
    dev: str | None = None
    #: declared by the task and stored in run.json, so reports and checks know the headline
    #: metric and its direction without importing the task
    metric_info: dict = field(default_factory=lambda: {"primary": "accuracy", "higher_is_better": {"accuracy": True},
                                                       "display": {"accuracy": "Accuracy"}})

    def load(self, data_root: str | None = None) -> ImageDataset:
        return DATASETS.get(self.dataset)(split=self.split, root=data_root)

    def item_source(self) -> dict | None:
        """Where the items' pixels come from, stored in run.json (``item_source``) so that a torch-free
        report can show them (``report/item_images.py``): the registered dataset and split."""
        return {"dataset": self.dataset, "split": self.split}

    def target(self, data: ImageDataset, i: int) -> int:
        return int(data.labels[i])

    def check_compatible(self, adapter, data: ImageDataset) -> None:
        from dive_bench.errors import DiveBenchError

        k = getattr(adapter.label_space, "num_classes", None)
        if layout_tokenizer(adapter) is not None or data.num_classes != k:
            raise DiveBenchError(f"task {self.name!r} has {data.num_classes} classes but model {adapter.name!r} "
                                 f"has {k}; pick a class-conditional model trained on this dataset")

    def metrics(self, predictions: list[int], targets: list[int]) -> dict:
        if len(predictions) != len(targets):
            raise ValueError(f"{len(predictions)} predictions for {len(targets)} targets")
        n = len(targets)
        correct = sum(int(p) == int(t) for p, t in zip(predictions, targets))
        lo, hi = wilson_interval(correct, n)
        return {"accuracy": {"value": correct / n if n else float("nan"), "ci_low": lo, "ci_high": hi,
                             "n": n, "correct": correct, "interval": "wilson95"}}
