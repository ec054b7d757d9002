"""Hostile checkpoints: original DiT/SiT files (``dit:FILE``, ``sit:FILE``) and diffusers folders
(``dit:DIR``, ``unet:DIR``, ``layout:DIR``) that are damaged, mislabelled or absurd.

Each is refused in one line naming the tensor / field / class and the fix, before the model is
built, before any weight is read into memory and before anything downloads (a latent DiT would
fetch its VAE): ``models/checkpoint.py`` checks configs and tensors by name and shape against the
architecture built on the meta device. The original state dicts here are written from the DiT
code's shapes directly (``original``), independently of the converter under test.
"""

from __future__ import annotations

import argparse
import json
import shutil
import struct

import pytest
import torch

from cli_checks import api_error, cli_error
from dive_bench.adapters import load_model
from dive_bench.util.files import ASSETS

H, DEPTH, PATCH = 16, 2, 2  # hidden 16 = 2 heads x 8


def original(channels: int = 1, classes: int = 5, side: int = 8, seed: int = 0) -> dict[str, torch.Tensor]:
    """A random facebookresearch/DiT state dict: hidden H, DEPTH blocks, patch PATCH, mlp ratio 4."""
    g = torch.Generator().manual_seed(seed)
    shapes = {"x_embedder.proj.weight": (H, channels, PATCH, PATCH), "x_embedder.proj.bias": (H,),
              "pos_embed": (1, (side // PATCH) ** 2, H),
              "t_embedder.mlp.0.weight": (H, 256), "t_embedder.mlp.0.bias": (H,),
              "t_embedder.mlp.2.weight": (H, H), "t_embedder.mlp.2.bias": (H,),
              "y_embedder.embedding_table.weight": (classes + 1, H),
              "final_layer.adaLN_modulation.1.weight": (2 * H, H), "final_layer.adaLN_modulation.1.bias": (2 * H,),
              "final_layer.linear.weight": (PATCH * PATCH * channels, H),
              "final_layer.linear.bias": (PATCH * PATCH * channels,)}
    for i in range(DEPTH):
        for name, out, inp in (("attn.qkv", 3 * H, H), ("attn.proj", H, H), ("mlp.fc1", 4 * H, H),
                               ("mlp.fc2", H, 4 * H), ("adaLN_modulation.1", 6 * H, H)):
            shapes[f"blocks.{i}.{name}.weight"], shapes[f"blocks.{i}.{name}.bias"] = (out, inp), (out,)
    return {k: torch.randn(s, generator=g) * 0.05 for k, s in shapes.items()}


def save(tmp_path, sd, name: str = "T-2-8x8.pt"):
    path = tmp_path / name
    torch.save(sd, path)
    return path


def copy_asset(tmp_path, name: str):
    return shutil.copytree(ASSETS / name, tmp_path / name)


def edit_config(folder, **changes):
    cfg = json.loads((folder / "config.json").read_text())
    cfg.update(changes)
    (folder / "config.json").write_text(json.dumps(cfg))


def raw_safetensors(path, header: dict, data: bytes = b"") -> None:
    """A .safetensors file written byte by byte: whatever header a hostile file may carry."""
    blob = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(blob)) + blob + data)


# -- original DiT / SiT files ---------------------------------------------------------------------
def test_sound_file_loads_as_pt_and_as_safetensors(tmp_path):
    """The control: a well-formed file loads, and the safetensors copy computes the same outputs."""
    from safetensors.torch import save_file

    sd = original()
    save_file(sd, tmp_path / "T-2.safetensors")
    a = load_model(f"dit:{save(tmp_path, sd)}?heads=2")
    b = load_model(f"dit:{tmp_path / 'T-2.safetensors'}?heads=2")
    x, t, y = torch.randn(2, 1, 8, 8), torch.tensor([10, 500]), torch.tensor([1, 3])
    with torch.no_grad():
        torch.testing.assert_close(a.transformer(x, timestep=t, class_labels=y).sample,
                                   b.transformer(x, timestep=t, class_labels=y).sample)


def test_one_dimensional_pos_embed(tmp_path):
    sd = original()
    sd["pos_embed"] = sd["pos_embed"].flatten()
    err = api_error(load_model, f"dit:{save(tmp_path, sd)}?heads=2")
    assert "tensor pos_embed has shape (256), expected (1, tokens, 16)" in err and "not a DiT/SiT" in err


def test_wrong_shape_qkv_is_one_line_naming_the_tensor(tmp_path, capsys):
    sd = original()
    sd["blocks.1.attn.qkv.weight"] = sd["blocks.1.attn.qkv.weight"][:40]
    err = cli_error(capsys, ["score", f"dit:{save(tmp_path, sd)}?heads=2", "--task", "digits", "--limit", "2",
                             "--out", str(tmp_path / "run")])
    assert "tensor blocks.1.attn.qkv.weight has shape (40, 16), expected (48, 16)" in err
    assert not (tmp_path / "run").exists()  # nothing stored, not even an empty --out folder


def test_wrong_rank_x_embedder_names_the_tensor_not_a_vae(tmp_path):
    sd = original(channels=4)  # 4 channels: a latent model, which would fetch its VAE
    sd["x_embedder.proj.weight"] = sd["x_embedder.proj.weight"].flatten(1)
    err = api_error(load_model, f"dit:{save(tmp_path, sd)}?heads=2")
    assert "tensor x_embedder.proj.weight has shape (16, 16), expected 4 non-zero dimensions" in err
    assert "VAE" not in err and "download" not in err


def test_latent_file_with_a_bad_tensor_is_refused_before_the_vae(tmp_path):
    sd = original(channels=4)
    sd["blocks.0.mlp.fc2.bias"] = torch.zeros(17)
    err = api_error(load_model, f"dit:{save(tmp_path, sd)}?heads=2")  # no vae= option: the default would download
    assert "tensor blocks.0.mlp.fc2.bias has shape (17), expected (16)" in err and "Hub" not in err


def test_missing_and_unexpected_tensors_few_then_a_count(tmp_path):
    sd = original()
    for i in range(DEPTH):
        for k in [k for k in sd if k.startswith(f"blocks.{i}.mlp")]:
            sd[k.replace("mlp.", "ffn.")] = sd.pop(k)
    err = api_error(load_model, f"dit:{save(tmp_path, sd)}?heads=2")
    assert "missing tensors blocks.0.mlp.fc1.bias, blocks.0.mlp.fc1.weight, blocks.0.mlp.fc2.bias, " \
           "blocks.0.mlp.fc2.weight (+4 more)" in err
    assert "unexpected tensors blocks.0.ffn.fc1.bias" in err and "(+4 more)" in err


def test_block_index_in_the_billions_is_bounded(tmp_path):
    """Depth is read as the number of distinct block indices, never the largest index (which would
    enumerate a billion expected names)."""
    sd = original()
    for k in [k for k in sd if k.startswith("blocks.1.")]:
        sd[k.replace("blocks.1.", "blocks.999999999.")] = sd.pop(k)
    err = api_error(load_model, f"dit:{save(tmp_path, sd)}?heads=2")
    assert "missing tensors blocks.1." in err and "unexpected tensors blocks.999999999." in err


def test_sit_refuses_a_dit_file_and_dit_refuses_a_sit_file(tmp_path, capsys):
    sd = original()
    dit, sit = save(tmp_path, sd, "DiT-T-2-8x8.pt"), save(tmp_path, sd, "SiT-T-2-8x8.pt")
    err = cli_error(capsys, ["score", f"sit:{dit}?heads=2", "--task", "digits", "--limit", "2",
                             "--out", str(tmp_path / "run")])
    assert "DiT (eps-predicting DDPM) checkpoint" in err and f"load it as dit:{dit}?heads=2 " in err
    err = api_error(load_model, f"dit:{sit}?heads=2")
    assert "SiT (flow-matching) checkpoint" in err and f"load it as sit:{sit}?heads=2 " in err


def test_training_args_say_which_family_whatever_the_name(tmp_path):
    sd = original()
    dit = save(tmp_path, {"ema": sd, "args": argparse.Namespace(model="DiT-XL/2")}, "ckpt-0400000.pt")
    sit = save(tmp_path, {"ema": sd, "args": argparse.Namespace(model="SiT-XL/2", path_type="Linear")}, "last.pt")
    assert "training args say model=DiT-XL/2" in api_error(load_model, f"sit:{dit}?heads=2")
    assert "training args say model=SiT-XL/2" in api_error(load_model, f"dit:{sit}?heads=2")
    assert load_model(f"sit:{sit}?heads=2").info()["parameterization"]["kind"] == "flow"


def test_pickle_with_code_is_still_refused(tmp_path):
    torch.save({"x": argparse.ArgumentParser}, tmp_path / "evil.pt")  # a global outside the allow-list
    assert "not a weights-only checkpoint" in api_error(load_model, f"dit:{tmp_path / 'evil.pt'}")


def test_folder_bin_with_pickled_code_is_refused_before_diffusers_reads_it(tmp_path):
    """diffusers falls back to an unsafe torch.load for .bin weights; the shape check reads them
    with weights_only first, so code in the pickle never runs."""
    folder = copy_asset(tmp_path, "dit-digits-xs")
    (folder / "diffusion_pytorch_model.safetensors").unlink()
    torch.save({"proj_out_2.bias": argparse.ArgumentParser}, folder / "diffusion_pytorch_model.bin")
    err = api_error(load_model, f"dit:{folder}")
    assert "refused to load" in err and "diffusion_pytorch_model.bin: it is not a weights-only file" in err


def test_truncated_original_files(tmp_path):
    from safetensors.torch import save_file

    data = save(tmp_path, original()).read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    assert "could not read" in api_error(load_model, f"dit:{tmp_path / 'cut.pt'}?heads=2")
    save_file(original(), tmp_path / "whole.safetensors")
    data = (tmp_path / "whole.safetensors").read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[:-100])
    err = api_error(load_model, f"dit:{tmp_path / 'cut.safetensors'}?heads=2")
    assert "cut.safetensors is truncated: tensor" in err and "re-download" in err


def test_safetensors_header_claiming_huge_tensors_is_refused_from_the_header(tmp_path):
    """Shape 10^6 x 10^6 (4 TB of float32) over 16 bytes, or offsets past the end: refused by reading
    the header alone (no allocation could get that far: 4 TB would fail, not be refused)."""
    raw_safetensors(tmp_path / "huge.safetensors", {"x_embedder.proj.weight": {
        "dtype": "F32", "shape": [10 ** 6, 10 ** 6], "data_offsets": [0, 16]}}, b"\0" * 16)
    err = api_error(load_model, f"dit:{tmp_path / 'huge.safetensors'}")
    assert "header gives tensor x_embedder.proj.weight shape (1000000, 1000000) in F32 (4,000,000,000,000 bytes) " \
           "but 16 bytes of data" in err
    raw_safetensors(tmp_path / "far.safetensors", {"w": {"dtype": "F32", "shape": [2 ** 38],
                                                         "data_offsets": [0, 2 ** 40]}}, b"\0" * 16)
    assert "is truncated: tensor w ends at byte 1,099,511,627,776" in api_error(
        load_model, f"dit:{tmp_path / 'far.safetensors'}")
    (tmp_path / "len.safetensors").write_bytes(struct.pack("<Q", 2 ** 62) + b"{}")
    assert "cannot hold the header it announces" in api_error(load_model, f"dit:{tmp_path / 'len.safetensors'}")


def test_image_size_option_cannot_allocate_a_huge_position_table(tmp_path):
    sd = original()
    del sd["pos_embed"]
    err = api_error(load_model, f"dit:{save(tmp_path, sd, 'nosize.pt')}?heads=2&image_size=1000000")
    assert "gives 250,000,000,000 tokens" in err and "image_size" in err


# -- diffusers folders ----------------------------------------------------------------------------
@pytest.mark.parametrize("prefix", ["unet", "layout"])
def test_folder_adapters_given_a_pt_file_say_what_loads_it(tmp_path, capsys, prefix):
    path = save(tmp_path, original())
    err = cli_error(capsys, ["score", f"{prefix}:{path}?heads=2", "--task", "digits", "--limit", "2",
                             "--out", str(tmp_path / "run")])
    assert f"{path} is a single file, but {prefix}: takes a diffusers" in err and "dit:FILE or sit:FILE" in err
    assert "?heads" not in err


def test_folder_with_original_file_options(tmp_path):
    folder = copy_asset(tmp_path, "unet-fmnist-s")
    assert "drop ?heads=2" in api_error(load_model, f"unet:{folder}?heads=2")


@pytest.mark.parametrize("prefix, asset, found, expected, fix", [
    ("dit", "unet-fmnist-s", "UNet2DModel", "DiTTransformer2DModel", "load it with unet:DIR"),
    ("unet", "dit-digits-xs", "DiTTransformer2DModel", "UNet2DModel", "load it with dit:DIR"),
    ("layout", "dit-digits-xs", "DiTTransformer2DModel", "LayoutDiT", "load it with dit:DIR"),
    ("dit", "layout-canvas-xs", "LayoutDiT", "DiTTransformer2DModel", "load it with layout:DIR"),
])
def test_another_models_config_names_both_classes_and_the_prefix(tmp_path, prefix, asset, found, expected, fix):
    folder = copy_asset(tmp_path, asset)
    err = api_error(load_model, f"{prefix}:{folder}")
    assert f"config.json describes {found}, not a {expected}; {fix}" in err and "corrupt" not in err


def test_another_librarys_config(tmp_path):
    folder = copy_asset(tmp_path, "dit-digits-xs")
    (folder / "config.json").write_text(json.dumps({"architectures": ["ViTModel"], "model_type": "vit",
                                                    "hidden_size": 768}))
    err = api_error(load_model, f"dit:{folder}")
    assert "describes ViTModel (a transformers config), not a DiTTransformer2DModel" in err


@pytest.mark.parametrize("text, says", [("{not json", "is not valid JSON"),
                                        ("[1, 2]", "holds a JSON list, not an object of model settings")])
def test_config_that_is_not_a_json_object(tmp_path, text, says):
    folder = copy_asset(tmp_path, "dit-digits-xs")
    (folder / "config.json").write_text(text)
    assert says in api_error(load_model, f"dit:{folder}")


@pytest.mark.parametrize("prefix, asset, change, says", [
    ("dit", "dit-digits-xs", {"attention_head_dim": 10 ** 9}, "attention_head_dim=1000000000 is not a usable model size"),
    ("dit", "dit-digits-xs", {"num_layers": -1}, "num_layers=-1 is not a usable model size (0 to 1024)"),
    ("dit", "dit-digits-xs", {"num_layers": 10 ** 6}, "num_layers=1000000 is not a usable model size"),
    ("dit", "dit-digits-xs", {"sample_size": 2 ** 20}, "its sizes give a pos_embed.pos_embed table of shape"),
    ("unet", "unet-fmnist-s", {"block_out_channels": [8, -16, 32]}, "block_out_channels[1]=-16"),
    ("layout", "layout-canvas-xs", {"width": 10 ** 8}, "width=100000000 is not a usable model size"),
    ("layout", "layout-canvas-xs", {"heads": 3}, "its settings do not build a model"),
])
def test_absurd_config_sizes_are_refused_before_building(tmp_path, prefix, asset, change, says):
    folder = copy_asset(tmp_path, asset)
    edit_config(folder, **change)
    assert says in api_error(load_model, f"{prefix}:{folder}")


def test_weights_of_another_size(tmp_path, capsys):
    folder = copy_asset(tmp_path, "dit-digits-xs")
    shutil.copy(ASSETS / "dit-fmnist-s" / "diffusion_pytorch_model.safetensors", folder)
    err = cli_error(capsys, ["score", f"dit:{folder}", "--task", "digits", "--limit", "2",
                             "--out", str(tmp_path / "run")])
    assert "missing tensors transformer_blocks.2." in err and "the weights do not belong to this config.json" in err


def test_one_wrong_tensor_in_a_folder(tmp_path):
    from safetensors.torch import load_file, save_file

    folder = copy_asset(tmp_path, "unet-fmnist-s")
    sd = load_file(folder / "diffusion_pytorch_model.safetensors")
    sd["class_embedding.weight"] = sd["class_embedding.weight"][:5]
    save_file(sd, folder / "diffusion_pytorch_model.safetensors")
    assert "tensor class_embedding.weight has shape (5, 32), expected (11, 32)" in api_error(
        load_model, f"unet:{folder}")


def test_truncated_folder_weights(tmp_path):
    folder = copy_asset(tmp_path, "layout-canvas-xs")
    weights = folder / "diffusion_pytorch_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-1000])
    err = api_error(load_model, f"layout:{folder}")
    assert "diffusion_pytorch_model.safetensors is truncated: tensor" in err and "corrupt" not in err


def test_folder_without_weights_or_config(tmp_path):
    folder = copy_asset(tmp_path, "dit-digits-xs")
    (folder / "diffusion_pytorch_model.safetensors").unlink()
    assert "has a config.json but no weights" in api_error(load_model, f"dit:{folder}")
    (folder / "config.json").unlink()
    assert "has no config.json, so it is not a diffusers model folder" in api_error(load_model, f"dit:{folder}")


def test_damaged_layout_prior(tmp_path):
    folder = copy_asset(tmp_path, "layout-canvas-s")
    edit_config(folder / "prior", depth=-3)
    assert "prior/config.json: depth=-3" in api_error(load_model, f"layout:{folder}")


def test_nan_weights_are_refused_before_scoring(tmp_path, capsys):
    from safetensors.torch import load_file, save_file

    folder = copy_asset(tmp_path, "dit-digits-xs")
    sd = load_file(folder / "diffusion_pytorch_model.safetensors")
    sd["proj_out_2.weight"][0, 0] = float("nan")
    save_file(sd, folder / "diffusion_pytorch_model.safetensors")
    err = cli_error(capsys, ["score", f"dit:{folder}", "--task", "digits", "--limit", "2", "--method", "enumerate",
                             "--out", str(tmp_path / "run")])
    assert "proj_out_2.weight (1 non-finite values" in err
