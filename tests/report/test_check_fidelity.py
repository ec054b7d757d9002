"""The fidelity gate (``report.check_fidelity``) on synthetic features where the answer is known:
replicates made by the same functions ``fidelity --bootstrap`` calls, stored in run.json payloads
of the layout ``fidelity`` writes, judged by ``report.check.verdict``."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dive_bench.generative.metrics import (BOOTSTRAP_SEED, HALF_SAMPLE, bootstrap_replicates,
                                           frechet_distance_features, half_sample_kid, half_sample_prc,
                                           half_sample_replicates)
from dive_bench.report.check import INCOMPARABLE, PASS, REGRESSION, verdict
from factories import fidelity_run

B = 200  # the fewest replicates the gate accepts


def _ref() -> np.ndarray:
    return np.random.default_rng(1).normal(size=(400, 6))


def _gen(n: int = 300) -> np.ndarray:
    return np.random.default_rng(2).normal(size=(n, 6))


def _run(gen: np.ndarray, ref: np.ndarray, *, n_boot: int = B, seed: int = BOOTSTRAP_SEED) -> dict:
    """A fidelity run.json payload whose FD, KID, precision and recall come with replicates."""
    fd = frechet_distance_features(gen, ref)
    run = fidelity_run("m", 1000, fd, 0.5, num_samples=len(gen))
    fd_reps = bootstrap_replicates(gen, None, ref, None, n_boot=n_boot, splits=1, rng_seed=0, seed=seed)["fid"]
    run["metrics"]["fd_fmnist"].update(bootstrap=fd_reps, bootstrap_seed=seed, n_generated=len(gen))
    full = np.arange(len(gen))[None]
    g, r = torch.from_numpy(gen), torch.from_numpy(ref)
    prec, rec = half_sample_prc(g, r, full, 3)
    points = {"kid": half_sample_kid(g, r, full)[0], "precision": prec[0], "recall": rec[0]}
    for family, reps in half_sample_replicates(gen, ref, n_boot=n_boot, k=3, seed=seed).items():
        run["metrics"][f"{family}_fmnist"] = {"value": points[family], "bootstrap": reps, "bootstrap_seed": seed,
                                              "bootstrap_scheme": HALF_SAMPLE, "n_generated": len(gen)}
    return run


@pytest.fixture(scope="module")
def base() -> dict:
    return _run(_gen(), _ref())


def test_identical_samples_pass_in_both_modes(base):
    """A rerun with the same seeds makes the same samples: every paired difference is 0."""
    for mode in ("regression", "noninferiority"):
        v = verdict(_run(_gen(), _ref()), base, mode=mode)
        assert v.status == PASS, v.markdown()
        assert {m.metric for m in v.metrics} == {"fd_fmnist", "kid_fmnist", "precision_fmnist", "recall_fmnist"}
    assert "one-sided p=1" in verdict(_run(_gen(), _ref()), base).markdown()
    assert "95% upper bound of the drop 0.0000" in verdict(_run(_gen(), _ref()), base, mode="noninferiority").markdown()


def test_a_shift_raises_fd_by_its_closed_form_and_fails():
    """Shifting every generated feature by d moves the generated mean only, so FD rises by exactly
    |d|^2 + 2 d.(mu_gen - mu_ref) (the covariances, hence the trace term, are unchanged)."""
    gen, ref = _gen(), _ref()
    d = np.full(6, 0.25)
    base, cand = _run(gen, ref), _run(gen + d, ref)
    rise = cand["metrics"]["fd_fmnist"]["value"] - base["metrics"]["fd_fmnist"]["value"]
    assert rise == pytest.approx(d @ d + 2 * d @ (gen.mean(0) - ref.mean(0)), rel=1e-9)
    v = verdict(cand, base, margins={"fd_fmnist": 0.05})
    assert v.status == REGRESSION, v.markdown()
    fd = next(m for m in v.metrics if m.metric == "fd_fmnist")
    assert fd.regressed and "paired replicates (200, N of N with replacement), one-sided p=0" in fd.detail
    # a margin above the (known) rise tolerates it in regression mode
    assert verdict(cand, base, margins={"fd_fmnist": rise + 0.1, "kid_fmnist": 1.0, "precision_fmnist": 0.9,
                                        "recall_fmnist": 0.9}).status == PASS


def test_noninferiority_needs_the_upper_bound_inside_the_margin():
    """A rise of about 0.04: within a margin of 1 it is shown non-inferior; with margin 0 it is not."""
    gen, ref = _gen(), _ref()
    base, cand = _run(gen, ref), _run(gen + 0.02, ref)
    wide = {"fd_fmnist": 1.0, "kid_fmnist": 1.0, "precision_fmnist": 0.5, "recall_fmnist": 0.5}
    assert verdict(cand, base, margins=wide, mode="noninferiority").status == PASS
    v = verdict(cand, base, mode="noninferiority")
    assert v.status == REGRESSION and next(m for m in v.metrics if m.metric == "fd_fmnist").regressed


def test_different_n_is_incomparable_and_named(base):
    v = verdict(_run(_gen(200), _ref()), base)
    assert v.status == INCOMPARABLE
    assert v.reason.startswith("different N (--num-samples): baseline 300, current 200;")


@pytest.mark.parametrize("edit, phrase", [
    (lambda m: m.update(bootstrap=m["bootstrap"][:50]), "stores 50 replicates of fd_fmnist"),
    (lambda m: m.pop("bootstrap"), "stores 0 replicates of fd_fmnist"),
    (lambda m: m.update(bootstrap_seed=7), "baseline seed 0, current 7"),
    (lambda m: m.update(bootstrap_scheme=HALF_SAMPLE), "unknown scheme ('half-sample')"),
    (lambda m: m.update(n_generated=299), "baseline N 300, current 299"),
])
def test_replicates_that_cannot_be_paired_are_incomparable(base, edit, phrase):
    cand = _run(_gen(), _ref())
    edit(cand["metrics"]["fd_fmnist"])
    v = verdict(cand, base)
    assert v.status == INCOMPARABLE and phrase in v.reason, v.reason
    assert "--bootstrap 200" in v.reason
