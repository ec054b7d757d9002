"""The in-domain feature extractor for canvases: composition labels, its training augmentation,
its registration (metric names carry the domain: fd_canvas) and the fidelity reference split."""

from __future__ import annotations

import json

import pytest
import torch

from dive_bench.data.canvas import DEFAULT_CLASSES, make_canvas_dataset
from dive_bench.data.canvas_compositions import composition_labels, composition_name, compositions
from dive_bench.data.coco import load_coco_detection
from dive_bench.errors import DiveBenchError
from dive_bench.util.files import ASSETS


def test_the_label_space_is_every_count_vector_of_one_to_three_objects_once():
    space = compositions(3, 3)
    assert len(space) == 19 == len(set(space))  # 3 + 6 + 10
    assert all(1 <= sum(c) <= 3 for c in space) and space[0] == (1, 0, 0)
    assert composition_name((2, 0, 1), DEFAULT_CLASSES) == "2 square + 1 triangle"


def test_composition_labels_count_the_objects_of_each_class(tmp_path):
    json_path = make_canvas_dataset(tmp_path, split="val", num_images=30, seed=2)
    data = load_coco_detection(json_path, json_path.parent / "images")
    space = compositions(3, 3)
    labels = composition_labels(data.annotations, [1, 2, 3], space)
    for anns, label in zip(data.annotations, labels.tolist()):
        counts = space[label]
        assert counts == tuple(sum(a["category_id"] == k for a in anns) for k in (1, 2, 3))
    assert len(set(labels.tolist())) > 5  # 30 canvases: many compositions, not one


def test_canvas_augmentation_flips_but_never_shifts():
    from dive_bench.training.feature_extractor import _augment

    x = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).reshape(2, 3, 8, 8)
    for seed in range(6):
        out = _augment(x, torch.Generator().manual_seed(seed), "flip")
        for a, b in zip(out, x):
            assert torch.equal(a, b) or torch.equal(a, b.flip(-1))
        assert torch.equal(_augment(x, torch.Generator().manual_seed(seed), "none"), x)
    shifted = [_augment(x, torch.Generator().manual_seed(s), "flip-shift") for s in range(6)]
    assert any(not (torch.equal(o[0], x[0]) or torch.equal(o[0], x[0].flip(-1))) for o in shifted)


def test_an_unknown_augmentation_is_refused():
    from dive_bench.spec.options import validate
    from dive_bench.training.feature_extractor import FeatureExtractorTrainConfig

    with pytest.raises(DiveBenchError, match="augment"):
        validate(FeatureExtractorTrainConfig(dataset="canvas", augment="rotate"))


def _tiny_classifier(folder, dataset: str) -> None:
    from dive_bench.generative.classifier_net import ClassifierConfig, SmallClassifier

    torch.manual_seed(0)
    SmallClassifier(ClassifierConfig(in_channels=3, image_size=32, num_classes=19, widths=(4, 4, 8))).save(folder)
    (folder / "dive_bench.json").write_text(json.dumps({"kind": "feature-extractor", "dataset": dataset}))


def test_a_canvas_classifier_names_its_metrics_after_the_canvas_domain(tmp_path):
    from dive_bench.generative.resolve import resolve_extractor

    _tiny_classifier(tmp_path, "canvas")
    ext = resolve_extractor(f"classifier:{tmp_path}")
    assert ext.metric_names == {"fid": "fd_canvas", "is": "is_canvas", "kid": "kid_canvas",
                                "precision": "precision_canvas", "recall": "recall_canvas"}
    net = ext.create(torch.device("cpu"))
    canvases = torch.randint(0, 256, (5, 3, 32, 32), dtype=torch.uint8)
    feats, logits = net(canvases)
    assert feats.shape == (5, 8) and logits.shape == (5, 19)


def test_the_bundled_canvas_classifier_is_registered_small_and_reads_canvases():
    from dive_bench.generative.classifier_net import SmallClassifier
    from dive_bench.generative.extractors import BUNDLED
    from dive_bench.generative.resolve import available_extractors, resolve_extractor

    assert "canvas-classifier" in BUNDLED and "canvas-classifier" in available_extractors()
    ext = resolve_extractor("canvas")  # the alias
    assert ext.name == "canvas-classifier" and ext.metric_names["fid"] == "fd_canvas"
    assert ext.metric_names["is"] == "is_canvas"
    folder = ASSETS / "canvas-classifier"
    assert (folder / "model.safetensors").stat().st_size < 1_000_000 and (folder / "README.md").is_file()
    meta = json.loads((folder / "dive_bench.json").read_text())
    assert meta["dataset"] == "canvas" and len(meta["class_names"]) == 19
    net = SmallClassifier.load(folder)
    assert (net.config.in_channels, net.config.image_size, net.config.num_classes) == (3, 32, 19)
    assert net.feature_dim == 64 and meta["test_accuracy"] > 0.95


def test_the_fidelity_reference_split_is_large_and_apart_from_the_scored_splits():
    from dive_bench.tasks import TASKS

    ref = TASKS.get("canvas-det-ref")
    assert ref.kind == "detection" and ref.num_images == 2000
    # FD needs many more reference images than feature dimensions (the bundled canvas extractor: 64)
    assert ref.num_images >= 30 * 64
    assert ref.split not in {TASKS.get(t).split for t in ("canvas-det", "canvas-det-dev")} | {"train", "test"}


def test_train_feature_extractor_on_canvases_writes_a_canvas_extractor_and_its_command(tmp_path, monkeypatch, capsys):
    """End to end on 24 canvases: the canvas dataset, --augment flip and --widths reach the model and
    its card, and the folder resolves to an extractor whose scores are named fd_canvas."""
    from dive_bench.cli.main import main
    from dive_bench.data import canvas_compositions
    from dive_bench.generative.classifier_net import SmallClassifier
    from dive_bench.generative.resolve import resolve_extractor

    monkeypatch.setattr(canvas_compositions, "SPLITS", {"train": 24, "test": 12})
    assert main(["train", "feature-extractor", "--dataset", "canvas", "--steps", "3", "--batch-size", "8",
                 "--augment", "flip", "--widths", "4,4,8", "--data-root", str(tmp_path / "data"),
                 "--out", str(tmp_path / "out")]) == 0
    dest = tmp_path / "out" / "model"
    card = (dest / "README.md").read_text()
    assert "--dataset canvas --steps 3 --batch-size 8" in card and "--augment flip --widths 4,4,8" in card
    assert "`fd_canvas`" in card and "canvas test split, 12 images" in card
    net = SmallClassifier.load(dest)
    assert net.config.widths == (4, 4, 8) and net.config.in_channels == 3 and net.config.num_classes == 19
    assert resolve_extractor(f"classifier:{dest}").metric_names["fid"] == "fd_canvas"
    capsys.readouterr()
    assert main(["train", "feature-extractor", "--dataset", "canvas", "--widths", "4,4", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "--widths '4,4'" in err and err.count("\n") == 1
