"""Adapters: injected conditions reproduce the model's own forward (with the true label rows injected, the output is bit-identical), loading."""

from __future__ import annotations

import json

import pytest
import torch

from dive_bench.testing import make_dit, make_unet
from dive_bench.adapters import load_model
from dive_bench.adapters.dit import DiTAdapter
from dive_bench.adapters.unet import UNetAdapter
from dive_bench.errors import DiveBenchError
from dive_bench.models.class_dit import tables_are_tied, untie


def _inputs(n=6, c=1, size=8, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, c, size, size, generator=g), torch.randint(0, 1000, (n,), generator=g), torch.arange(n) % 5


@pytest.mark.parametrize("tied", [True, False])
@pytest.mark.parametrize("learn_sigma", [False, True])
def test_dit_injection_reproduces_own_forward(tied, learn_sigma):
    model = make_dit(tied=tied, learn_sigma=learn_sigma)
    adapter = DiTAdapter(model)
    assert adapter.tied is tied
    x, t, y = _inputs()
    with torch.no_grad():
        own = model(x, timestep=t, class_labels=y).sample[:, :1]
        ours = adapter.predict_noise(x, t, adapter.embed(y[:, None]))
    torch.testing.assert_close(ours, own, rtol=0, atol=0)
    # ... and a different condition changes the output, so the hooks really inject.
    with torch.no_grad():
        other = adapter.predict_noise(x, t, adapter.embed(((y + 1) % 5)[:, None]))
    assert (other - own).abs().max() > 1e-4


def test_untied_vocabulary_concatenates_block_tables():
    model = make_dit(tied=False)
    adapter = DiTAdapter(model)
    width = model.inner_dim
    assert adapter.vocabulary["class"].shape == (5, width * len(model.transformer_blocks))


def test_dit_vocabulary_excludes_cfg_null_row(dit_adapter):
    table = dit_adapter.transformer.transformer_blocks[0].norm1.emb.class_embedder.embedding_table.weight
    assert table.shape[0] == 6  # 5 classes + null
    assert dit_adapter.vocabulary["class"].shape[0] == 5


def test_unet_injection_reproduces_own_forward():
    unet = make_unet()
    adapter = UNetAdapter(unet)
    x, t, y = _inputs()
    with torch.no_grad():
        own = unet(x, t, class_labels=y).sample
        ours = adapter.predict_noise(x, t, adapter.embed(y[:, None]))
    torch.testing.assert_close(ours, own, rtol=0, atol=0)


def test_unet_null_class_excluded():
    adapter = UNetAdapter(make_unet(num_classes=6), null_class_index=5)
    assert adapter.label_space.num_classes == 5
    torch.testing.assert_close(adapter.vocabulary["class"], adapter.unet.class_embedding.weight[:5])


def test_latent_dit_pipeline_folder_roundtrip(tmp_path):
    from diffusers import AutoencoderKL, DDPMScheduler

    torch.manual_seed(0)
    vae = AutoencoderKL(in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 2,
                        up_block_types=("UpDecoderBlock2D",) * 2, block_out_channels=(8, 16),
                        latent_channels=4, norm_num_groups=4, sample_size=16)
    transformer = make_dit(in_channels=4, learn_sigma=True, sample_size=8)
    untie(transformer)
    transformer.save_pretrained(tmp_path / "transformer")
    vae.save_pretrained(tmp_path / "vae")
    DDPMScheduler(num_train_timesteps=1000, beta_schedule="linear").save_pretrained(tmp_path / "scheduler")
    adapter = load_model(f"dit:{tmp_path}")
    assert adapter.image_shape == (3, 16, 16)
    assert adapter.tied and adapter.info()["latent"]
    images = torch.rand(2, 3, 16, 16) * 2 - 1
    x0 = adapter.encode(images)
    with torch.no_grad():
        expected = vae.encode(images).latent_dist.mean * vae.config.scaling_factor
    torch.testing.assert_close(x0, expected)
    eps = adapter.predict_noise(x0, torch.tensor([10, 500]), adapter.embed(torch.tensor([[0], [3]])))
    assert eps.shape == x0.shape  # learned-sigma channels split off


def test_bare_folder_roundtrip_keeps_outputs_and_hash(tmp_path):
    model = make_dit()
    x, t, y = _inputs()
    with torch.no_grad():
        before = model(x, timestep=t, class_labels=y).sample
    untie(model)
    model.save_pretrained(tmp_path)
    (tmp_path / "dive_bench.json").write_text(json.dumps({"class_names": list("abcde")}))
    adapter = load_model(f"dit:{tmp_path}")
    assert tables_are_tied(adapter.transformer)
    assert adapter.label_space.names == tuple("abcde")
    assert len(adapter.info()["sha256"]) == 64
    with torch.no_grad():
        after = adapter.predict_noise(x, t, adapter.embed(y[:, None]))
    torch.testing.assert_close(after, before)


def test_wrong_image_size_is_a_clear_error(dit_adapter):
    with pytest.raises(DiveBenchError, match="28x28.*expects 1x8x8"):
        dit_adapter.encode(torch.zeros(2, 1, 28, 28))


def test_corrupt_checkpoint_is_a_clear_error(tmp_path):
    model = make_dit()
    untie(model)
    model.save_pretrained(tmp_path)
    weights = tmp_path / "diffusion_pytorch_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(DiveBenchError, match="corrupt or truncated"):
        load_model(f"dit:{tmp_path}")


def test_hub_id_offline_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(DiveBenchError, match="huggingface-cli download facebook/DiT-XL-2-256"):
        load_model("dit:facebook/DiT-XL-2-256")


def test_bundled_checkpoint_loads_with_metadata(digits_adapter):
    info = digits_adapter.info()
    assert info["tied_label_tables"] and info["num_classes"] == 10
    assert digits_adapter.image_shape == (1, 8, 8)
    assert not any(p.requires_grad for p in digits_adapter.transformer.parameters())
    assert not digits_adapter.transformer.training
