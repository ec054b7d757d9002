"""Fidelity metrics: Frechet distance vs closed forms and torch-fidelity, extractors, weights policy,
reference cache, the CLI end to end (offline, Inception weights built at test time)."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from dive_bench.cli.main import main
from dive_bench.errors import DiveBenchError
from dive_bench.generative.fid import frechet_distance, gaussian_stats
from dive_bench.generative.extractors import ASSETS, resolve_inception_weights
from dive_bench.generative.resolve import resolve_extractor
from dive_bench.generative.metrics import (UInt8Images, compute_metrics, extract_features, frechet_distance_features,
                                         reference_features)
from factories import write_idx_split


def _full_fmnist_installed() -> bool:
    """The full test split where the loader looks: $DIVE_BENCH_FMNIST_ROOT, else the Debian path."""
    from dive_bench.data.fashion_mnist import DEFAULT_ROOT, ROOT_ENV

    root = Path(os.environ.get(ROOT_ENV) or DEFAULT_ROOT)
    return any((root / f"t10k-images-idx3-ubyte{ext}").exists() for ext in (".gz", ""))


# CI installs the package and never skips (as in datasets/test_data.py)
requires_full_fmnist = pytest.mark.skipif(
    not _full_fmnist_installed() and not os.environ.get("CI"),
    reason="needs the full Fashion-MNIST test split (10,000 images): apt-get install dataset-fashion-mnist "
           "or set $DIVE_BENCH_FMNIST_ROOT; the other fidelity tests use the committed 500-image slice")


@pytest.fixture(scope="session")
def fmnist_full():
    from dive_bench.data import DATASETS

    return DATASETS.get("fmnist")(split="test")


# -- Frechet distance ---------------------------------------------------------------------------------------

def _exact_moments(rng, n, mu, var):
    """n samples whose sample mean is exactly mu and sample covariance exactly diag(var)."""
    z = rng.standard_normal((n, len(mu)))
    z -= z.mean(0)
    z = z @ np.linalg.inv(np.linalg.cholesky(np.cov(z, rowvar=False))).T  # whiten: sample cov = I
    return mu + z * np.sqrt(var)


def test_fd_of_two_gaussian_feature_sets_equals_the_closed_form():
    # For diagonal Gaussians FD = |mu1 - mu2|^2 + sum (sqrt(a_i) - sqrt(b_i))^2; feature sets with
    # exactly those moments must give exactly that, through both statistics paths.
    rng = np.random.default_rng(0)
    d = 16
    a, b = rng.uniform(0.2, 2.0, d), rng.uniform(0.2, 2.0, d)
    mu1, mu2 = rng.standard_normal(d), rng.standard_normal(d)
    closed = float(np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2))
    f1, f2 = _exact_moments(rng, 500, mu1, a), _exact_moments(rng, 800, mu2, b)
    assert frechet_distance_features(f1, f2) == pytest.approx(closed, rel=1e-9)       # N > D: dive_bench.generative.fid
    g1, g2 = _exact_moments(rng, 12, mu1[:8], a[:8]), _exact_moments(rng, 40, mu2[:8], b[:8])
    closed8 = float(np.sum((mu1[:8] - mu2[:8]) ** 2) + np.sum((np.sqrt(a[:8]) - np.sqrt(b[:8])) ** 2))
    assert frechet_distance_features(g1, g2) == pytest.approx(closed8, rel=1e-9)
    # and sampled (not moment-matched) Gaussians converge to it
    h1 = mu1 + rng.standard_normal((200_000, d)) * np.sqrt(a)
    h2 = mu2 + rng.standard_normal((200_000, d)) * np.sqrt(b)
    assert frechet_distance_features(h1, h2) == pytest.approx(closed, rel=0.01)


def test_low_rank_fd_is_exact_where_covariance_forms_lose_digits():
    mpmath = pytest.importorskip("mpmath")
    rng = np.random.default_rng(1)
    d = 64
    f1 = rng.standard_normal((20, d)) * rng.uniform(0.5, 2, d) + 0.3
    f2 = rng.standard_normal((30, d))
    # 40-digit reference: tr((S1 S2)^1/2) = sum of singular values of A B' (A, B centred and scaled)
    mpmath.mp.dps = 40
    a = (f1 - f1.mean(0)) / np.sqrt(19)
    b = (f2 - f2.mean(0)) / np.sqrt(29)
    trace = sum(mpmath.svd_r(mpmath.matrix((a @ b.T).tolist()), compute_uv=False))
    diff = f1.mean(0) - f2.mean(0)
    exact = float(diff @ diff + (a * a).sum() + (b * b).sum() - 2 * trace)
    assert frechet_distance_features(f1, f2) == pytest.approx(exact, rel=1e-12)
    # the D x D forms (eigh here, sqrtm in torch-fidelity) pick up sqrt(rounding) from the
    # ~44 zero eigenvalues of a rank-deficient covariance: close, but not to 1e-8
    assert frechet_distance(*gaussian_stats(f1), *gaussian_stats(f2)) == pytest.approx(exact, rel=1e-6)
    assert abs(frechet_distance_features(f1, f1)) < 1e-9


def test_fd_of_a_set_with_itself_is_zero_and_precision_recall_are_one(fmnist_test, tmp_path):
    ext = resolve_extractor("fmnist-classifier")
    images = fmnist_test.images[:200]
    m = compute_metrics(images, images, ext, cache=tmp_path)
    assert abs(m["fd_fmnist"]["value"]) < 1e-6
    assert m["precision_fmnist"]["value"] == 1.0 and m["recall_fmnist"]["value"] == 1.0
    # unbiased MMD^2 of a set with itself (same subsets) is slightly negative, never clearly positive
    assert -0.05 < m["kid_fmnist"]["value"] <= 0.0
    assert "fid" not in m and "is" not in m  # in-domain scores never use Inception's names


# -- in-domain extractor vs torch-fidelity's own pipeline ------------------------------------------------------

def test_in_domain_metrics_match_torch_fidelity_calculate_metrics(fmnist_test, tmp_path):
    import torch_fidelity

    ext = resolve_extractor("fmnist")
    gen, ref = fmnist_test.images[:200], fmnist_test.images[250:500]  # disjoint halves of the slice
    ours = compute_metrics(gen, ref, ext, cache=tmp_path)
    theirs = torch_fidelity.calculate_metrics(
        input1=UInt8Images(gen), input2=UInt8Images(ref), cuda=False, fid=True, isc=True, kid=True, prc=True,
        feature_extractor=ext.name, feature_extractor_weights_path=str(ext.weights_path), cache=False,
        verbose=False, kid_subset_size=200, save_cpu_ram=True)
    assert ours["fd_fmnist"]["value"] == pytest.approx(theirs["frechet_inception_distance"], rel=1e-5)
    assert ours["is_fmnist"]["value"] == pytest.approx(theirs["inception_score_mean"], rel=1e-6)
    assert ours["kid_fmnist"]["value"] == pytest.approx(theirs["kernel_inception_distance_mean"], rel=1e-4, abs=1e-7)
    assert ours["precision_fmnist"]["value"] == pytest.approx(theirs["precision"])
    assert ours["recall_fmnist"]["value"] == pytest.approx(theirs["recall"])
    # a different distribution (only trousers vs everything) is far away and less diverse
    trousers = fmnist_test.images[fmnist_test.labels == 1]  # 50
    other = compute_metrics(trousers, ref, ext, cache=tmp_path)
    assert other["fd_fmnist"]["value"] > 10 * ours["fd_fmnist"]["value"]
    assert other["is_fmnist"]["value"] < ours["is_fmnist"]["value"] / 3
    assert other["recall_fmnist"]["value"] < ours["recall_fmnist"]["value"]


def _card_accuracy(folder: Path) -> float:
    card = (folder / "README.md").read_text()
    assert "dive-bench train feature-extractor" in card
    return float(re.search(r"Test accuracy \(fmnist test split, 10000 images\): ([\d.]+)%", card).group(1))


def test_in_domain_extractor_is_accurate_and_small(fmnist_test):
    from dive_bench.generative.classifier_net import SmallClassifier

    folder = ASSETS / "fmnist-classifier"
    assert (folder / "model.safetensors").stat().st_size < 2_000_000
    assert _card_accuracy(folder) > 88
    net = SmallClassifier.load(folder)
    with torch.no_grad():
        pred = net(fmnist_test.images).argmax(1)
    assert (pred == fmnist_test.labels).float().mean() > 0.88  # 461 / 500 on the slice
    # every class is recognised, not just the easy ones
    per_class = torch.stack([(pred[fmnist_test.labels == c] == c).float().mean() for c in range(10)])
    assert per_class.min() > 0.5


@requires_full_fmnist
def test_in_domain_extractor_accuracy_on_the_full_test_split_is_its_model_card(fmnist_full):
    from dive_bench.generative.classifier_net import SmallClassifier

    folder = ASSETS / "fmnist-classifier"
    net = SmallClassifier.load(folder)
    assert len(fmnist_full) == 10_000
    with torch.no_grad():
        pred = torch.cat([net(batch).argmax(1) for batch in fmnist_full.images.split(1000)])
    accuracy = 100 * (pred == fmnist_full.labels).float().mean().item()
    assert accuracy == pytest.approx(_card_accuracy(folder), abs=0.1)  # card: 90.21% (9021 / 10000)


def test_features_do_not_depend_on_batch_size(fmnist_test, inception_weights):
    images = fmnist_test.images[:5]
    ext = resolve_extractor("fmnist-classifier")
    a, b = extract_features(images, ext, batch_size=2), extract_features(images, ext, batch_size=5)
    assert torch.allclose(a["penultimate"], b["penultimate"], atol=1e-5)
    inc = resolve_extractor("inception-v3-compat", inception_weights)
    a, b = extract_features(images[:3], inc, batch_size=1), extract_features(images[:3], inc, batch_size=3)
    assert a["2048"].shape == (3, 2048) and a["logits_unbiased"].shape == (3, 1008)
    assert torch.allclose(a["2048"], b["2048"], atol=1e-4, rtol=1e-4)


# -- reference cache --------------------------------------------------------------------------------------------

def test_reference_cache_is_keyed_by_images_and_weights(fmnist_test, tmp_path):
    from safetensors.torch import load_file, save_file

    folder = tmp_path / "extractor"
    shutil.copytree(ASSETS / "fmnist-classifier", folder)
    ref = fmnist_test.images[:64]
    ext = resolve_extractor(f"classifier:{folder}")
    f1, _, _, hit = reference_features(ref, ext, cache=tmp_path / "cache")
    assert not hit
    f1b, _, _, hit = reference_features(ref, ext, cache=tmp_path / "cache")
    assert hit and np.array_equal(f1, f1b)
    _, _, _, hit = reference_features(fmnist_test.images[1:65], ext, cache=tmp_path / "cache")
    assert not hit  # other reference content
    state = load_file(folder / "model.safetensors")
    key = next(k for k in state if k.endswith("weight") and state[k].ndim == 4)
    state[key] = state[key] * 1.5
    save_file(state, folder / "model.safetensors")
    changed = resolve_extractor(f"classifier:{folder}")
    assert changed.weights_sha256 != ext.weights_sha256
    f2, _, _, hit = reference_features(ref, changed, cache=tmp_path / "cache")
    assert not hit and not np.allclose(f1, f2)  # new weights never reuse old statistics
    files = sorted(p.name for p in (tmp_path / "cache" / "fidelity").iterdir())
    assert len(files) == 3 and all(f.endswith(".npz") and not f.startswith(".") for f in files)


# -- Inception weights policy -----------------------------------------------------------------------------------

def test_offline_without_weights_fails_with_one_line(offline_env, capsys, tmp_path):
    out = tmp_path / "run"
    code = main(["fidelity", "dit-fmnist-s", "--reference", "fmnist", "--num-samples", "4", "--steps", "2",
                 "--out", str(out), "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and err.startswith("dive-bench: error:")
    assert "--inception-weights" in err and "weights-inception-2015-12-05" in err
    assert not out.exists()  # refused before any sampling


def test_failed_download_and_bad_files_are_one_clear_error(offline_env, monkeypatch, tmp_path):
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.delenv("DIVE_BENCH_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)

    def unreachable(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(torch.hub, "download_url_to_file", unreachable)
    with pytest.raises(DiveBenchError, match="could not download.*--inception-weights"):
        resolve_inception_weights()
    with pytest.raises(DiveBenchError, match="does not exist"):
        resolve_inception_weights(tmp_path / "nope.pth")
    wrong = tmp_path / "wrong.pth"
    torch.save({"a": torch.zeros(2)}, wrong)
    with pytest.raises(DiveBenchError, match="not an inception-v3-compat state dict"):
        resolve_inception_weights(wrong)
    monkeypatch.setenv("DIVE_BENCH_INCEPTION_WEIGHTS", str(tmp_path / "missing.pth"))
    with pytest.raises(DiveBenchError, match="DIVE_BENCH_INCEPTION_WEIGHTS"):
        resolve_inception_weights()


def test_weights_in_the_torch_hub_cache_are_used_offline(offline_env, inception_weights):
    from dive_bench.generative.extractors import hub_checkpoint_path

    target = hub_checkpoint_path()
    target.parent.mkdir(parents=True)
    target.symlink_to(inception_weights)
    assert resolve_inception_weights() == target


# -- the command, end to end ------------------------------------------------------------------------------------

def test_fidelity_cli_with_inception_offline(offline_env, inception_weights, fmnist_test, capsys, tmp_path):
    from dive_bench.generative.extractors import file_sha256

    root = write_idx_split(tmp_path / "ref", fmnist_test.images[:6], fmnist_test.labels[:6])
    out = tmp_path / "run"
    code = main(["fidelity", "dit-fmnist-s", "--reference", "fmnist", "--data-root", str(root), "--num-samples", "6",
                 "--steps", "2", "--inception-weights", str(inception_weights), "--out", str(out),
                 "--cache-dir", str(tmp_path / "cache"), "--quiet", "--feature-batch-size", "6"])
    assert code == 0, capsys.readouterr().err
    run = json.loads((out / "run.json").read_text())
    assert set(run["metrics"]) == {"fid", "is", "kid", "precision", "recall"}
    assert run["metrics"]["fid"]["value"] > 0 and run["metrics"]["fid"]["n_generated"] == 6
    assert run["metrics"]["is"]["value"] > 1.0 and "std" in run["metrics"]["kid"]
    assert run["method_config"]["extractor_weights_sha256"] == file_sha256(inception_weights)
    assert run["feature_extractor"]["name"] == "inception-v3-compat"
    assert "fid" in capsys.readouterr().out


def test_fidelity_cli_in_domain_run_json_resume_leaderboard_and_check(fmnist_test, capsys, tmp_path):
    from dive_bench.report.check import INCOMPARABLE, load_run, verdict
    from dive_bench.report.leaderboard import leaderboard_markdown, load_runs

    root = write_idx_split(tmp_path / "ref", fmnist_test.images[:40], fmnist_test.labels[:40])
    args = ["fidelity", "dit-fmnist-s", "--reference", "fmnist", "--data-root", str(root), "--steps", "2",
            "--feature-extractor", "fmnist-classifier", "--cache-dir", str(tmp_path / "cache"), "--quiet",
            "--out", str(tmp_path / "run"), "--batch-size", "7"]
    assert main([*args, "--num-samples", "12"]) == 0
    first = json.loads((tmp_path / "run" / "run.json").read_text())
    assert main([*args, "--num-samples", "20"]) == 0
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["timings"]["generated_this_invocation"] == 8 and first["timings"]["generated_this_invocation"] == 12
    assert run["timings"]["reference_from_cache"] is True
    assert set(run["metrics"]) == {"fd_fmnist", "is_fmnist", "kid_fmnist", "precision_fmnist", "recall_fmnist"}
    cfg = run["method_config"]
    assert (cfg["sampler"], cfg["steps"], cfg["guidance_scale"], cfg["seed"], cfg["num_samples"]) == ("ddim", 2, 1.0, 0, 20)
    assert cfg["feature_extractor"] == "fmnist-classifier" and len(cfg["extractor_weights_sha256"]) == 64
    assert run["model_info"]["sha256"] and run["timings"]["seconds_per_1000_samples"] > 0
    # a different sampler config in the same folder is refused, not mixed
    assert main([*args, "--num-samples", "20", "--steps", "3"]) == 2
    assert "another configuration" in capsys.readouterr().err
    # leaderboard: its own table with the in-domain metrics as columns
    md = leaderboard_markdown(load_runs([str(tmp_path / "run")]))
    assert "fd_fmnist" in md and "`dit-fmnist-s`" in md and "fmnist-classifier" in md
    # check: a fidelity run without replicates cannot be paired -> incomparable with the fix, never a crash
    dive_run = next(Path(__file__).resolve().parents[2].glob("leaderboards/runs/dit-fmnist-s-dive*/run.json"), None)
    assert verdict(run, run).status == INCOMPARABLE and "--bootstrap 200" in verdict(run, run).reason
    if dive_run is not None:
        assert verdict(run, load_run(dive_run)).status == INCOMPARABLE
    assert main(["check", str(tmp_path / "run"), "--baseline", str(tmp_path / "run")]) == 2
    # --bootstrap 200 on the cached samples: every metric gets paired replicates, and the run passes against itself
    assert main([*args, "--num-samples", "20", "--bootstrap", "200"]) == 0
    booted = json.loads((tmp_path / "run" / "run.json").read_text())
    assert booted["timings"]["generated_this_invocation"] == 0
    for name, m in booted["metrics"].items():
        assert len(m["bootstrap"]) == 200 and m["bootstrap_seed"] == 0, name
        assert m.get("bootstrap_scheme") == (None if name.split("_")[0] in ("fd", "is") else "half-sample"), name
        assert m["value"] == run["metrics"][name]["value"]  # replicates change no value
    assert main(["check", str(tmp_path / "run"), "--baseline", str(tmp_path / "run")]) == 0
