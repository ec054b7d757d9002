"""class-dit training: exports a loadable tied checkpoint; a resumed run equals an uninterrupted one."""

from __future__ import annotations

import torch
from safetensors.torch import load_file

from dive_bench.adapters import load_model
from dive_bench.training.class_dit import ClassDiTTrainConfig, train_class_dit


def _cfg(steps):
    return ClassDiTTrainConfig(dataset="digits", preset="xs", steps=steps, batch_size=8, checkpoint_every=3, warmup=2)


def test_training_exports_tied_loadable_model(tmp_path):
    dest = train_class_dit(_cfg(4), tmp_path)
    adapter = load_model(f"dit:{dest}")
    assert adapter.tied and adapter.label_space.num_classes == 10
    assert adapter.label_space.names[3] == "3"
    card = (dest / "README.md").read_text()
    assert "4 steps" in card and "seed 0" in card


def test_resume_matches_uninterrupted(tmp_path):
    straight = train_class_dit(_cfg(6), tmp_path / "a")
    train_class_dit(_cfg(3), tmp_path / "b")           # "killed" after the step-3 checkpoint
    resumed = train_class_dit(_cfg(6), tmp_path / "b")  # same command, longer: resumes at step 3
    a = load_file(straight / "diffusion_pytorch_model.safetensors")
    b = load_file(resumed / "diffusion_pytorch_model.safetensors")
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0)
