"""Real hub checkpoints: opt-in (`pytest -m hub`), needs internet and ~3 GB of downloads."""

from __future__ import annotations

import pytest
import torch


@pytest.mark.hub
def test_dit_xl_loads_from_hub_and_reproduces_forward(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    from dive_bench.adapters import load_model

    adapter = load_model("dit:facebook/DiT-XL-2-256")
    assert adapter.image_shape == (3, 256, 256) and adapter.label_space.num_classes == 1000
    assert adapter.tied  # converted from the original DiT: identical copies in every block
    x = torch.randn(2, 4, 32, 32)
    t = torch.tensor([10, 500])
    y = torch.tensor([1, 207])
    with torch.no_grad():
        own = adapter.transformer(x, timestep=t, class_labels=y).sample[:, :4]
        ours = adapter.predict_noise(x, t, adapter.embed(y[:, None]))
    torch.testing.assert_close(ours, own)
