"""Original-format DiT / SiT checkpoints (issue 16 item 4): ``dit:FILE.pt`` converts in memory.

A tiny diffusers DiT (``make_dit``) is written back in the original layout by ``to_original``
below (the inverse of ``adapters/dit_original.py``, written independently here), loaded through
``load_model`` and compared with (a) the diffusers twin and (b) ``original_forward``, a plain-torch
transcription of facebookresearch/DiT's forward that knows nothing of diffusers.
"""

from __future__ import annotations

import argparse
import math

import pytest
import torch
import torch.nn.functional as F

from cli_checks import cli_error, one_line
from dive_bench.adapters import load_model
from dive_bench.cli.main import main
from dive_bench.errors import DiveBenchError
from dive_bench.testing import make_dit

HEADS = 2  # testing.TINY: 2 heads of width 8


def faithful_twin(num_classes: int = 5, learn_sigma: bool = False, seed: int = 0):
    """``make_dit`` with what the original DiT has and diffusers' defaults lack: one timestep MLP
    shared by all blocks, LayerNorm eps 1e-6 and timestep frequencies exp(-ln(1e4) i / half)."""
    model = make_dit(num_classes=num_classes, learn_sigma=learn_sigma, seed=seed)
    first = model.transformer_blocks[0].norm1.emb
    for block in model.transformer_blocks:
        block.norm1.emb.timestep_embedder.load_state_dict(first.timestep_embedder.state_dict())
        block.norm1.emb.time_proj.downscale_freq_shift = 0
        for norm in (block.norm1.norm, block.norm3):
            norm.eps = 1e-6
    return model


def to_original(model) -> dict[str, torch.Tensor]:
    """A diffusers DiT (tied tables, shared timestep MLP) as facebookresearch/DiT's state dict."""
    sd = {k: v.detach().clone() for k, v in model.state_dict().items()}
    out = {"x_embedder.proj.weight": sd["pos_embed.proj.weight"], "x_embedder.proj.bias": sd["pos_embed.proj.bias"],
           "pos_embed": model.pos_embed.pos_embed.detach().clone(),
           "final_layer.adaLN_modulation.1.weight": sd["proj_out_1.weight"],
           "final_layer.adaLN_modulation.1.bias": sd["proj_out_1.bias"],
           "final_layer.linear.weight": sd["proj_out_2.weight"], "final_layer.linear.bias": sd["proj_out_2.bias"],
           "y_embedder.embedding_table.weight":
               sd["transformer_blocks.0.norm1.emb.class_embedder.embedding_table.weight"]}
    for part in ("weight", "bias"):
        out[f"t_embedder.mlp.0.{part}"] = sd[f"transformer_blocks.0.norm1.emb.timestep_embedder.linear_1.{part}"]
        out[f"t_embedder.mlp.2.{part}"] = sd[f"transformer_blocks.0.norm1.emb.timestep_embedder.linear_2.{part}"]
        for i in range(len(model.transformer_blocks)):
            b = f"transformer_blocks.{i}."
            out[f"blocks.{i}.attn.qkv.{part}"] = torch.cat([sd[f"{b}attn1.to_{x}.{part}"] for x in "qkv"])
            out[f"blocks.{i}.attn.proj.{part}"] = sd[f"{b}attn1.to_out.0.{part}"]
            out[f"blocks.{i}.mlp.fc1.{part}"] = sd[f"{b}ff.net.0.proj.{part}"]
            out[f"blocks.{i}.mlp.fc2.{part}"] = sd[f"{b}ff.net.2.{part}"]
            out[f"blocks.{i}.adaLN_modulation.1.{part}"] = sd[f"{b}norm1.linear.{part}"]
    return out


def original_forward(sd: dict[str, torch.Tensor], x, t, y, heads: int) -> torch.Tensor:
    """facebookresearch/DiT's ``DiT.forward``, written out with torch.nn.functional."""
    w = sd["x_embedder.proj.weight"]
    dim, patch = w.shape[0], w.shape[-1]
    h = F.conv2d(x, w, sd["x_embedder.proj.bias"], stride=patch).flatten(2).transpose(1, 2) + sd["pos_embed"]
    half = 128
    freqs = torch.exp(-math.log(10000) * torch.arange(half, dtype=torch.float32) / half)
    args = t[:, None].float() * freqs[None]
    temb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    temb = F.linear(F.silu(F.linear(temb, sd["t_embedder.mlp.0.weight"], sd["t_embedder.mlp.0.bias"])),
                    sd["t_embedder.mlp.2.weight"], sd["t_embedder.mlp.2.bias"])
    c = temb + sd["y_embedder.embedding_table.weight"][y]

    def modulate(v, shift, scale):
        return F.layer_norm(v, (dim,), eps=1e-6) * (1 + scale[:, None]) + shift[:, None]

    depth = len({k.split(".")[1] for k in sd if k.startswith("blocks.")})
    n, tokens = h.shape[:2]
    for i in range(depth):
        p = {k[len(f"blocks.{i}."):]: v for k, v in sd.items() if k.startswith(f"blocks.{i}.")}
        mods = F.linear(F.silu(c), p["adaLN_modulation.1.weight"], p["adaLN_modulation.1.bias"]).chunk(6, dim=1)
        qkv = F.linear(modulate(h, mods[0], mods[1]), p["attn.qkv.weight"], p["attn.qkv.bias"])
        q, k, v = qkv.reshape(n, tokens, 3, heads, dim // heads).permute(2, 0, 3, 1, 4)
        att = ((q @ k.transpose(-2, -1)) * (dim // heads) ** -0.5).softmax(dim=-1) @ v
        att = F.linear(att.transpose(1, 2).reshape(n, tokens, dim), p["attn.proj.weight"], p["attn.proj.bias"])
        h = h + mods[2][:, None] * att
        mlp = F.gelu(F.linear(modulate(h, mods[3], mods[4]), p["mlp.fc1.weight"], p["mlp.fc1.bias"]),
                     approximate="tanh")
        h = h + mods[5][:, None] * F.linear(mlp, p["mlp.fc2.weight"], p["mlp.fc2.bias"])
    shift, scale = F.linear(F.silu(c), sd["final_layer.adaLN_modulation.1.weight"],
                            sd["final_layer.adaLN_modulation.1.bias"]).chunk(2, dim=1)
    h = F.linear(modulate(h, shift, scale), sd["final_layer.linear.weight"], sd["final_layer.linear.bias"])
    side, out_c = math.isqrt(tokens), h.shape[-1] // patch ** 2
    h = torch.einsum("nhwpqc->nchpwq", h.reshape(n, side, side, patch, patch, out_c))
    return h.reshape(n, out_c, side * patch, side * patch)


def _inputs(n: int = 6, num_classes: int = 5, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n, 1, 8, 8, generator=g), torch.randint(0, 1000, (n,), generator=g),
            torch.randint(0, num_classes, (n,), generator=g))


def _save(tmp_path, sd, name: str = "DiT-T-2-8x8.pt"):
    path = tmp_path / name
    torch.save(sd, path)
    return path


@pytest.mark.parametrize("learn_sigma", [False, True])
def test_converted_forward_matches_twin_and_original(tmp_path, learn_sigma):
    twin = faithful_twin(learn_sigma=learn_sigma)
    sd = to_original(twin)
    adapter = load_model(f"dit:{_save(tmp_path, sd)}?heads={HEADS}")
    x, t, y = _inputs()
    with torch.no_grad():
        got = adapter.transformer(x, timestep=t, class_labels=y).sample
        want = twin(x, timestep=t, class_labels=y).sample
        ref = original_forward(sd, x, t, y, HEADS)
        eps = adapter.predict_noise(x, t, adapter.embed(y[:, None]))
    assert got.shape == (6, 2 if learn_sigma else 1, 8, 8)
    diff_twin, diff_ref = (got - want).abs().max().item(), (got - ref).abs().max().item()
    print(f"max abs diff learn_sigma={learn_sigma}: twin {diff_twin:.3g}, original forward {diff_ref:.3g}")
    assert diff_twin < 1e-6 and diff_ref < 1e-6
    assert torch.allclose(eps, want[:, :1], atol=1e-6)
    assert adapter.tied and adapter.num_classes == 5 and adapter.null_condition() is not None
    assert adapter.info()["params"] == sum(p.numel() for p in adapter.transformer.parameters())


def test_diffusers_defaults_are_not_the_original_forward(tmp_path):
    """Why the converter sets eps 1e-6 and the /half frequencies: diffusers' own DiT defaults differ."""
    twin = faithful_twin()
    plain = make_dit()
    plain.load_state_dict(twin.state_dict())
    x, t, y = _inputs()
    with torch.no_grad():
        ref = original_forward(to_original(twin), x, t, y, HEADS)
        assert (plain(x, timestep=t, class_labels=y).sample - ref).abs().max() > 1e-4


def test_training_checkpoint_and_table_without_null_row(tmp_path):
    twin = faithful_twin()
    sd = to_original(twin)
    sd["y_embedder.embedding_table.weight"] = sd["y_embedder.embedding_table.weight"][:5]  # trained without dropout
    path = _save(tmp_path, {"model": sd, "ema": sd, "args": argparse.Namespace(model="DiT-T/2", epochs=1)})
    adapter = load_model(f"dit:{path}?heads={HEADS}&num_classes=5")
    assert adapter.num_classes == 5 and adapter.null_condition() is None
    x, t, y = _inputs()
    with torch.no_grad():
        assert (adapter.transformer(x, timestep=t, class_labels=y).sample
                - original_forward(sd, x, t, y, HEADS)).abs().max() < 1e-6


def test_size_from_option_when_pos_embed_absent(tmp_path):
    sd = to_original(faithful_twin())
    pos = sd.pop("pos_embed")
    with pytest.raises(DiveBenchError, match="image_size"):
        load_model(f"dit:{_save(tmp_path, sd, 'nosize.pt')}?heads={HEADS}")
    adapter = load_model(f"dit:{tmp_path / 'nosize.pt'}?heads={HEADS}&image_size=8")
    assert torch.allclose(adapter.transformer.pos_embed.pos_embed, pos, atol=1e-6)  # diffusers' sincos = DiT's
    with pytest.raises(DiveBenchError, match="pos_embed is for 8x8"):
        load_model(f"dit:{_save(tmp_path, to_original(faithful_twin()))}?heads={HEADS}&image_size=16")


def test_bad_files_are_one_line_errors(tmp_path, capsys):
    garbage = _save(tmp_path, {"encoder.weight": torch.zeros(3), "x_embedder.proj.weight": torch.zeros(1)}, "g.pt")
    err = cli_error(capsys, ["score", f"dit:{garbage}", "--task", "digits", "--limit", "2", "--method", "enumerate",
                             "--out", str(tmp_path / "g")])
    assert "not an original DiT/SiT state dict" in err and "encoder.weight" in err and "t_embedder" in err
    torch.save({"x": _NotAWeight()}, tmp_path / "evil.pt")
    with pytest.raises(DiveBenchError, match="not a weights-only checkpoint") as info:
        load_model(f"dit:{tmp_path / 'evil.pt'}")
    one_line(str(info.value))
    (tmp_path / "cut.pt").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(DiveBenchError, match="could not read"):
        load_model(f"dit:{tmp_path / 'cut.pt'}")
    with pytest.raises(DiveBenchError, match="does not exist"):
        load_model(f"dit:{tmp_path / 'absent.pt'}")
    with pytest.raises(DiveBenchError, match="unknown option"):
        load_model(f"dit:{garbage}?head=2")
    with pytest.raises(DiveBenchError, match="divisible by heads=3"):
        load_model(f"dit:{_save(tmp_path, to_original(faithful_twin()))}?heads=3")


class _NotAWeight:
    """Stands for arbitrary pickled code: weights_only=True must refuse it."""


def test_sit_is_scored_as_a_flow_model(tmp_path):
    """SiT: x = s x_data + (1 - s) noise at its time s, network time s itself, output the velocity
    x_data - noise; dive_bench's eps estimate at its time t = 1 - s is x + t * (noise - x_data)."""
    path = _save(tmp_path, to_original(faithful_twin(learn_sigma=True)), "SiT-T-2-8x8.pt")
    with pytest.raises(DiveBenchError, match="sit:"):
        load_model(f"dit:{path}?heads={HEADS}")
    adapter = load_model(f"sit:{path}?heads={HEADS}")
    info = adapter.info()
    assert info["adapter"] == "sit" and info["parameterization"]["kind"] == "flow"
    x, _, y = _inputs()
    t = torch.linspace(0.1, 0.9, len(x))
    cond = adapter.embed(y[:, None])
    with torch.no_grad():
        out = adapter.transformer(x, timestep=1 - t, class_labels=y).sample[:, : x.shape[1]]
        eps = adapter.predict_noise(x, t, cond)
    torch.testing.assert_close(eps, x + (1 - t).view(-1, 1, 1, 1) * (-out))
    images = adapter.sample(y[:2], steps=3, scheduler="euler")
    assert images.dtype == torch.uint8


def test_cli_scores_a_sit_checkpoint_as_flow_and_keys_the_parameterization(tmp_path):
    import json

    sd = to_original(faithful_twin(num_classes=10))
    sit, dit = _save(tmp_path, sd, "SiT-T-2-8x8.pt"), _save(tmp_path, sd, "DiT-T-2-8x8.pt")
    for spec, out in ((f"sit:{sit}?heads={HEADS}", "s"), (f"dit:{dit}?heads={HEADS}", "d")):
        rc = main(["score", spec, "--task", "digits", "--limit", "2", "--method", "enumerate",
                   "--out", str(tmp_path / out), "--interval", "100", "--quiet"])
        assert rc == 0
    s, d = (json.loads((tmp_path / o / "run.json").read_text()) for o in ("s", "d"))
    assert s["model_info"]["parameterization"] == {"kind": "flow", "time_scale": 1.0, "data_at_one": True}
    assert "parameterization" not in d["model_info"]


def test_cli_scores_original_checkpoint_on_digits(tmp_path):
    path = _save(tmp_path, to_original(faithful_twin(num_classes=10)))
    rc = main(["score", f"dit:{path}?heads={HEADS}", "--task", "digits", "--limit", "2", "--method", "enumerate",
               "--out", str(tmp_path / "run"), "--interval", "100", "--quiet"])
    assert rc == 0
    assert (tmp_path / "run" / "run.json").exists()
