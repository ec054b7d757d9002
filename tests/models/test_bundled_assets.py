"""The bundled checkpoints: each registered name has a folder with a model card that says how it
was made, class-conditional ones load with their label space, and all assets stay under the 40 MB
budget (the brief's limit, so a clone and a wheel stay small)."""

from __future__ import annotations

import pytest

from dive_bench.adapters import CHECKPOINTS, load_model
from dive_bench.util.files import ASSETS

BUDGET_MB = 40


def test_bundled_assets_fit_the_budget():
    total = sum(f.stat().st_size for f in ASSETS.rglob("*") if f.is_file())
    assert total < BUDGET_MB * 2**20, f"{total / 2**20:.1f} MB of bundled assets (budget {BUDGET_MB} MB)"


@pytest.mark.parametrize("name", CHECKPOINTS.names())
def test_every_bundled_checkpoint_has_a_card_with_its_command(name):
    ckpt = CHECKPOINTS.get(name)
    card = (ckpt.path / "README.md").read_text()
    assert "Command" in card and "dive-bench train" in card, f"{name}: the model card names no training command"


@pytest.mark.parametrize("name, adapter", [("dit-fmnist-s-1k", "dit"), ("unet-fmnist-s", "unet")])
def test_the_comparison_rows_load_with_fashion_mnist_labels(name, adapter):
    model = load_model(name)
    info = model.info()
    assert info["adapter"] == adapter and info["num_classes"] == 10 and info["image_shape"] == [1, 28, 28]
    assert model.label_space.names[1] == "Trouser"  # class names travel in dive_bench.json
