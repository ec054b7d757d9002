"""The tiny training run the sweep tests score: ``train class-dit --save-every 2`` on digits keeps
checkpoints at steps 2, 4 and 6 (about a second on one core), trained once per session and shared
by the one-worker (test_sweep.py) and many-worker (test_sweep_shards.py) sweep tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def trained(tmp_path_factory):
    from dive_bench.training.class_dit import ClassDiTTrainConfig, train_class_dit

    out = tmp_path_factory.mktemp("train")
    cfg = ClassDiTTrainConfig(dataset="digits", preset="xs", steps=6, batch_size=8, checkpoint_every=3, warmup=2,
                              save_every=2)
    train_class_dit(cfg, out)
    return out
