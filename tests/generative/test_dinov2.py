"""FD_DINOv2 (EDM2's protocol through timm): preprocessing, weights policy (sha256, safe load,
offline), and the command end to end on the bundled Fashion-MNIST models with seeded random
weights of a 2-block DINOv2-style ViT (ViT-L on one CPU core would take minutes per image set)."""

from __future__ import annotations

import json
import math

import pytest
import torch

from dive_bench.cli.main import main
from dive_bench.errors import DiveBenchError
from dive_bench.generative import dinov2
from dive_bench.generative.extractors import file_sha256
from dive_bench.generative.resolve import resolve_extractor
from dive_bench.generative.metrics import compute_metrics
from factories import write_idx_split

TINY = "dinov2-vit-t2"  # test-only variant: ViT-S/14 width, 2 blocks


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory):
    """The test variant registered for this module, and its seeded random weights (safetensors)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(dinov2.VARIANTS, TINY, dinov2.Variant("vit_small_patch14_dinov2", "timm/none", "none", 384,
                                                          {"depth": 2}))
        yield dinov2.build_random_dinov2_weights(tmp_path_factory.mktemp("dinov2") / "tiny.safetensors", TINY)


def test_preprocessing_is_bicubic_antialiased_224_with_imagenet_normalisation():
    grey = (torch.arange(28 * 28).reshape(1, 1, 28, 28) * 7 % 256).to(torch.uint8)
    rgb = torch.stack([grey[0, 0], 255 - grey[0, 0], grey[0, 0].flip(0)])[None]
    for x in (grey, rgb):
        x3 = x.expand(-1, 3, -1, -1).float()
        ref = torch.nn.functional.interpolate(x3, size=(224, 224), mode="bicubic", antialias=True) / 255
        ref = (ref - torch.tensor(dinov2.MEAN).view(1, 3, 1, 1)) / torch.tensor(dinov2.STD).view(1, 3, 1, 1)
        out = dinov2.preprocess(x)
        assert out.shape == (1, 3, 224, 224) and out.dtype == torch.float32
        assert torch.equal(out, ref)
    out = dinov2.preprocess(grey)
    assert torch.allclose(out[:, 0] * dinov2.STD[0] + dinov2.MEAN[0], out[:, 1] * dinov2.STD[1] + dinov2.MEAN[1],
                          atol=1e-6)  # grey replicated to 3 channels
    # antialiasing differs from plain bicubic when downsampling: the flag is not a no-op
    big = (torch.rand(1, 3, 512, 512, generator=torch.Generator().manual_seed(0)) * 255).to(torch.uint8)
    plain = torch.nn.functional.interpolate(big.float(), size=(224, 224), mode="bicubic", antialias=False) / 255
    plain = (plain - torch.tensor(dinov2.MEAN).view(1, 3, 1, 1)) / torch.tensor(dinov2.STD).view(1, 3, 1, 1)
    assert not torch.allclose(dinov2.preprocess(big), plain, atol=1e-3)
    with pytest.raises(ValueError, match="uint8"):
        dinov2.preprocess(grey.float())


def test_features_are_the_normed_cls_token_and_meta_checkpoints_load(tiny_weights):
    state = dinov2.read_verified(tiny_weights, TINY, file_sha256(tiny_weights))
    model = dinov2.build_model(TINY, state)
    x = dinov2.preprocess((torch.rand(3, 1, 28, 28, generator=torch.Generator().manual_seed(1)) * 255).to(torch.uint8))
    with torch.no_grad():
        tokens = model.forward_features(x)
        feats = model(x)
    assert feats.shape == (3, 384) and torch.allclose(feats, tokens[:, 0])
    assert feats.std(0).mean() > 1e-2  # image-dependent, not collapsed
    # Meta's layout: a mask token and the 37x37 grid of the 518-pixel model, resampled as the hub does
    meta = dict(state, mask_token=torch.zeros(1, 384), pos_embed=torch.randn(1, 1 + 37 * 37, 384))
    grid = dinov2.hub_resample_pos_embed(meta["pos_embed"])
    assert grid.shape == (1, 257, 384) and torch.equal(grid[:, 0], meta["pos_embed"][:, 0])
    loaded = dinov2.build_model(TINY, meta)
    assert torch.equal(loaded.pos_embed, grid)


def test_fd_of_a_set_with_itself_is_zero(tiny_weights, fmnist_test, tmp_path):
    ext = resolve_extractor(TINY, dinov2_weights=tiny_weights)
    images = fmnist_test.images[:32]
    out = compute_metrics(images, images, ext, cache=tmp_path / "cache")
    assert set(out) == {"fd_dinov2", "_timing", "_reference"}
    assert abs(out["fd_dinov2"]["value"]) < 1e-6 and out["fd_dinov2"]["feature_dim"] == 384
    other = compute_metrics(fmnist_test.images[32:64], images, ext, cache=tmp_path / "cache", bootstrap=3)
    assert other["_reference"]["from_cache"] and other["fd_dinov2"]["value"] > 1e-3
    assert len(other["fd_dinov2"]["bootstrap"]) == 3  # FD replicates without IS (no logits)
    print("fd_dinov2 self", out["fd_dinov2"]["value"], "other 32 vs 32", other["fd_dinov2"]["value"])


def test_fd_dinov2_of_the_bundled_fmnist_models(tiny_weights, fmnist_test, capsys, tmp_path):
    from dive_bench.report.comparison_table import fidelity_metrics
    from dive_bench.report.fidelity import _higher as report_higher
    from dive_bench.report.grouping import fidelity_table_key as group_key

    root = write_idx_split(tmp_path / "ref", fmnist_test.images[:64], fmnist_test.labels[:64])
    runs = {}
    for model in ("dit-fmnist-s", "dit-fmnist-b"):
        out = tmp_path / model
        code = main(["fidelity", model, "--reference", "fmnist", "--data-root", str(root), "--num-samples", "64",
                     "--steps", "5", "--feature-extractor", TINY, "--dinov2-weights", str(tiny_weights),
                     "--out", str(out), "--cache-dir", str(tmp_path / "cache"), "--quiet"])
        assert code == 0, capsys.readouterr().err
        runs[model] = json.loads((out / "run.json").read_text())
    for run in runs.values():
        assert set(run["metrics"]) == {"fd_dinov2"}  # never a `fid` key: Inception FID is another column
        fd = run["metrics"]["fd_dinov2"]
        assert math.isfinite(fd["value"]) and fd["value"] > 0 and fd["extractor"] == TINY
        assert run["method_config"]["feature_extractor"] == TINY
        assert run["method_config"]["extractor_weights_sha256"] == file_sha256(tiny_weights)
        assert run["metric_info"] == {"primary": "fd_dinov2", "higher_is_better": {"fd_dinov2": False}}
    assert runs["dit-fmnist-b"]["timings"]["reference_from_cache"] is True
    assert fidelity_metrics(list(runs.values())) == {"fd_dinov2": False}
    legacy = {k: v for k, v in runs["dit-fmnist-s"].items() if k != "metric_info"}  # the built-in tables
    assert fidelity_metrics([legacy]) == {"fd_dinov2": False} and report_higher([legacy], "fd_dinov2") is False
    inception_like = dict(runs["dit-fmnist-s"], method_config={**runs["dit-fmnist-s"]["method_config"],
                                                               "feature_extractor": "inception-v3-compat"})
    assert group_key(inception_like) != group_key(runs["dit-fmnist-s"])
    assert "fd_dinov2" in capsys.readouterr().out


def test_sha256_pin_and_wrong_files_are_refused_in_one_line(tiny_weights, offline_env, capsys, tmp_path):
    good = file_sha256(tiny_weights)
    other = tmp_path / "other.safetensors"
    other.write_bytes(tiny_weights.read_bytes()[:-1] + b" ")
    with pytest.raises(DiveBenchError) as err:
        resolve_extractor(TINY, dinov2_weights=other, dinov2_sha256=good)
    assert len(str(err.value).splitlines()) == 1 and "pinned" in str(err.value)
    with pytest.raises(DiveBenchError, match="expected"):  # the file changed after the run recorded its hash
        dinov2.read_verified(other, TINY, good)
    wrong = tmp_path / "wrong.pth"
    torch.save({"a": torch.zeros(2)}, wrong)
    with pytest.raises(DiveBenchError, match=f"not a {TINY} state dict"):
        resolve_extractor(TINY, dinov2_weights=wrong)
    pickled = tmp_path / "code.pth"
    torch.save({"model": object()}, pickled)
    with pytest.raises(DiveBenchError, match="plain tensor state dict"):
        resolve_extractor(TINY, dinov2_weights=pickled)
    out = tmp_path / "run"
    code = main(["fidelity", "dit-fmnist-s", "--reference", "fmnist", "--num-samples", "4", "--steps", "2",
                 "--feature-extractor", TINY, "--dinov2-weights", str(tiny_weights), "--dinov2-sha256", "0" * 64,
                 "--out", str(out), "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "pinned" in err and not out.exists()


def test_offline_without_weights_fails_with_one_line(offline_env, capsys, tmp_path):
    out = tmp_path / "run"
    code = main(["fidelity", "dit-fmnist-s", "--reference", "fmnist", "--num-samples", "4", "--steps", "2",
                 "--feature-extractor", "dinov2-vit-l14", "--out", str(out), "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and err.startswith("dive-bench: error:")
    assert "offline" in err and "--dinov2-weights" in err and "vit_large_patch14_dinov2" in err
    assert not out.exists()  # refused before any sampling
    offline_env.joinpath("missing").mkdir()
    code = main(["fidelity", "dit-fmnist-s", "--reference", "fmnist", "--feature-extractor", "dinov2-vit-b14",
                 "--dinov2-weights", str(offline_env / "missing" / "w.safetensors"), "--out", str(out), "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "does not exist" in err
