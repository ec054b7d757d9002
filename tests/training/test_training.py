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


def test_save_dtype_fp16_halves_the_file_and_loads_as_float32(tmp_path):
    """--save-dtype was accepted for class-dit but only the layout trainer honoured it."""
    from dataclasses import replace

    full = train_class_dit(_cfg(3), tmp_path / "a")
    half = train_class_dit(replace(_cfg(3), save_dtype="fp16"), tmp_path / "b")
    a = load_file(full / "diffusion_pytorch_model.safetensors")
    b = load_file(half / "diffusion_pytorch_model.safetensors")
    assert {t.dtype for t in b.values()} == {torch.float16}
    for k in a:
        torch.testing.assert_close(b[k].float(), a[k], rtol=1e-3, atol=1e-4)
    assert "--save-dtype fp16" in (half / "README.md").read_text()
    adapter = load_model(f"dit:{half}")
    assert next(adapter.transformer.parameters()).dtype == torch.float32


def _unet_cfg(steps):
    return ClassDiTTrainConfig(dataset="digits", preset="s", architecture="unet", steps=steps, batch_size=8,
                               checkpoint_every=3, warmup=2)


def test_class_unet_exports_a_unet_adapter_model_with_its_null_row_and_resumes(tmp_path):
    """The second architecture family: the same loop trains a UNet2DModel whose class table has a
    CFG null row; the export names the unet adapter and that row, so the vocabulary holds the 10
    digit classes only and the null condition is row 10; resuming gives the same weights."""
    import json

    straight = train_class_dit(_unet_cfg(6), tmp_path / "a")
    meta = json.loads((straight / "dive_bench.json").read_text())
    assert meta["adapter"] == "unet" and meta["null_class_index"] == 10
    adapter = load_model(f"unet:{straight}")
    table = adapter.unet.class_embedding.weight
    assert table.shape[0] == 11 and adapter.label_space.num_classes == 10
    torch.testing.assert_close(adapter.vocabulary["class"], table[:10], rtol=0, atol=0)
    torch.testing.assert_close(adapter.null_condition().view(-1), table[10], rtol=0, atol=0)
    card = (straight / "README.md").read_text()
    assert "UNet2DModel" in card and "dive-bench train class-unet" in card

    train_class_dit(_unet_cfg(3), tmp_path / "b")
    resumed = train_class_dit(_unet_cfg(6), tmp_path / "b")
    a = load_file(straight / "diffusion_pytorch_model.safetensors")
    b = load_file(resumed / "diffusion_pytorch_model.safetensors")
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0)


def test_class_unet_refuses_a_dit_preset(tmp_path):
    import pytest

    from dive_bench.errors import DiveBenchError

    with pytest.raises(DiveBenchError, match="not a class-unet preset; choose one of s"):
        train_class_dit(ClassDiTTrainConfig(dataset="digits", preset="xs", architecture="unet", steps=1), tmp_path)


def test_objective_flow_exports_a_model_that_loads_as_flow(tmp_path):
    """`train class-dit --objective flow`: the export declares the parameterization in
    dive_bench.json, the dit adapter loads it as flow (else a flow model would be scored as eps),
    the card says so; an eps export declares nothing, so eps checkpoints keep their run keys."""
    import json
    from dataclasses import replace

    flow = train_class_dit(replace(_cfg(2), objective="flow"), tmp_path / "flow")
    meta = json.loads((flow / "dive_bench.json").read_text())
    assert meta["parameterization"]["kind"] == "flow"
    adapter = load_model(f"dit:{flow}")
    assert adapter.parameterization.kind == "flow" and adapter.info()["parameterization"]["kind"] == "flow"
    assert "--objective flow" in (flow / "README.md").read_text()
    eps = train_class_dit(_cfg(2), tmp_path / "eps")
    assert "parameterization" not in json.loads((eps / "dive_bench.json").read_text())
    assert load_model(f"dit:{eps}").parameterization.kind == "ddpm-eps"
