"""The numbers datasets (data/numbers.py): numbers composed from held-out digit glyphs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dive_bench.data import DATASETS
from dive_bench.data import numbers as nb
from dive_bench.tasks import TASKS

KS = (10, 100, 1000)


def _load(k: int, split: str):
    return DATASETS.get(f"numbers-{k}")(split=split)


def test_glyph_splits_are_disjoint_and_cover_all_glyphs():
    parts = [set(nb.glyph_indices(s).tolist()) for s in nb.SPLITS]
    assert sum(map(len, parts)) == len(set().union(*parts)) == 1797
    # test glyphs are the digits task's test images (its last 500)
    assert nb.glyph_indices("test").tolist() == list(range(1297, 1797))


@pytest.mark.parametrize("k", KS)
@pytest.mark.parametrize("split", nb.SPLITS)
def test_same_seed_same_bytes_and_seed_matters(k, split):
    a, b = _load(k, split), _load(k, split)
    assert a.images.numpy().tobytes() == b.images.numpy().tobytes()
    assert torch.equal(a.labels, b.labels) and torch.equal(a.glyph_ids, b.glyph_ids)
    other = nb.make_numbers(len(str(k - 1)), split, seed=1)
    assert not torch.equal(a.images, other.images)


@pytest.mark.parametrize("k", KS)
@pytest.mark.parametrize("split", nb.SPLITS)
def test_images_use_only_their_split_glyphs(k, split):
    data = _load(k, split)
    allowed = set(nb.glyph_indices(split).tolist())
    used = set(data.glyph_ids.flatten().tolist())
    assert used <= allowed
    # and the glyph drawn for each digit is a glyph of that digit
    digits = nb.digits_of(data.labels.numpy(), data.num_digits)
    assert (nb._glyphs()[1][data.glyph_ids.numpy()] == digits).all()


def test_training_batches_never_use_dev_or_test_glyphs():
    train = _load(1000, "train")
    held_out = np.concatenate([nb.glyph_indices("dev"), nb.glyph_indices("test")])
    glyphs = nb._glyphs()[0]
    g = torch.Generator().manual_seed(3)
    images, labels = train.sample_batch(g, 256)
    assert images.dtype == torch.uint8 and images.shape == (256, 1, 16, 16)
    # Identify each cell's glyph by its pixels: no held-out glyph has the pixels of a train glyph
    # (checked here), so a cell equal to a train glyph of its digit is that train glyph.
    train_bytes = {g.tobytes() for g in glyphs[nb.glyph_indices("train")]}
    assert not train_bytes & {g.tobytes() for g in glyphs[held_out]}
    pools = nb._pools("train")
    digits = nb.digits_of(labels.numpy(), 3)
    for i in range(256):
        for j, (r, c) in enumerate(nb.CELLS):
            cell = images[i, 0, r * 8:(r + 1) * 8, c * 8:(c + 1) * 8].numpy()
            assert (glyphs[pools[digits[i, j]]] == cell).all(axis=(1, 2)).any()
    assert len(set(labels.tolist())) > 200  # classes drawn uniformly from all 1000
    # the per-step sampler is fixed by its generator's seed
    again, labels2 = train.sample_batch(torch.Generator().manual_seed(3), 256)
    assert torch.equal(images, again) and torch.equal(labels, labels2)


@pytest.mark.parametrize("k", KS)
@pytest.mark.parametrize("split", ("dev", "test"))
def test_every_class_equally_often_in_shuffled_order(k, split):
    data = _load(k, split)
    counts = torch.bincount(data.labels, minlength=k)
    assert len(counts) == k and counts.min() == counts.max() == nb.PER_CLASS[split][data.num_digits]
    assert data.num_classes == k and data.class_names[7] == "7".zfill(len(str(k - 1)))
    # shuffled, so --limit N takes a spread of classes rather than the first few
    assert len(set(data.labels[:50].tolist())) > min(k, 50) // 2


def test_cells_hold_the_source_glyphs_and_unused_cells_are_blank():
    glyphs = nb._glyphs()[0]
    for k, filled in ((10, [2]), (100, [1, 2]), (1000, [0, 1, 2])):
        data = _load(k, "test")
        for i in (0, 1, len(data) - 1):
            img = data.images[i, 0].numpy()
            cells = {j: img[r * 8:(r + 1) * 8, c * 8:(c + 1) * 8] for j, (r, c) in enumerate(nb.CELLS)}
            for col, j in enumerate(filled):
                assert np.array_equal(cells[j], glyphs[int(data.glyph_ids[i, col])])
            for j in set(range(3)) - set(filled):
                assert not cells[j].any()
            assert not img[8:, 8:].any()  # the fourth cell is always blank
    # leading zeros are drawn: class 7 of numbers-1000 shows three glyphs, two of them zeros
    data = _load(1000, "test")
    i = int((data.labels == 7).nonzero()[0])
    assert nb._glyphs()[1][data.glyph_ids[i].numpy()].tolist() == [0, 0, 7]


def test_tasks_load_through_registry_and_share_image_size():
    shapes = set()
    for k in KS:
        for name, split in ((f"numbers-{k}", "test"), (f"numbers-{k}-dev", "dev")):
            task = TASKS.get(name)
            assert (task.dataset, task.split) == (f"numbers-{k}", split)
            data = task.load()
            assert data.num_classes == k
            shapes.add(data.image_shape)
    assert shapes == {(1, 16, 16)}
    assert len(TASKS.get("numbers-1000").load()) == 2000


def test_bad_split_is_refused():
    from dive_bench.errors import DiveBenchError

    with pytest.raises(DiveBenchError, match="splits"):
        _load(100, "val")


def test_class_dit_trains_on_per_step_composites_and_resumes(tmp_path):
    from dive_bench.training.class_dit import ClassDiTTrainConfig, train_class_dit

    cfg = ClassDiTTrainConfig(dataset="numbers-10", preset="xs", steps=2, batch_size=4, checkpoint_every=1)
    dest = train_class_dit(cfg, tmp_path / "a")
    assert "fresh composites every step" in (dest / "README.md").read_text()
    full = torch.load(tmp_path / "a" / "train_state.pt", weights_only=True)
    train_class_dit(ClassDiTTrainConfig(**{**cfg.__dict__, "steps": 1}), tmp_path / "b")
    resumed = torch.load(tmp_path / "b" / "train_state.pt", weights_only=True)
    assert resumed["step"] == 1
    train_class_dit(cfg, tmp_path / "b")  # resumes at step 1: the same batches as the uninterrupted run
    resumed = torch.load(tmp_path / "b" / "train_state.pt", weights_only=True)
    assert all(torch.equal(full["ema"][k], resumed["ema"][k]) for k in full["ema"])
