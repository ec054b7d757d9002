"""The bundled layout model ``layout-canvas-s``: the gate it was trained to pass and what DIVE
must do on it. These run the real checkpoint (a few MB, shipped in the package), so a retrained
or corrupted model that stops using box positions fails here, not in a user's detection table."""

from __future__ import annotations

import pytest
import torch

from dive_bench.adapters import load_model
from dive_bench.data.base import to_model_range
from dive_bench.inversion import DiveConfig, ProbeSet, invert
from dive_bench.inversion.layout.repairs import prior_repairs
from dive_bench.inversion.layout.scoring import scored_detections
from dive_bench.diagnostics.position_check import position_sensitivity
from dive_bench.tasks import TASKS


@pytest.fixture(scope="module")
def layout_canvas_s():
    return load_model("layout-canvas-s")


@pytest.fixture(scope="module")
def val():
    task = TASKS.get("canvas-det")
    return task.load()


def test_bundled_model_loads_in_float32_with_both_priors(layout_canvas_s):
    assert layout_canvas_s.model.dtype == torch.float32
    assert set(layout_canvas_s.priors) == {"joint", "decoupled"}
    info = layout_canvas_s.info()
    assert info["adapter"] == "layout" and len(info["sha256"]) == 64 and info["prior_params"]["joint"] > 0


def test_bundled_model_passes_the_position_check(layout_canvas_s, val):
    """The gate of issue 3: the true layout beats a quarter-box shift, a wrong class and a removed
    object in >= 90% of held-out images (40 here to keep the suite fast; the closing note reports 100)."""
    rates = position_sensitivity(layout_canvas_s, val, layout_canvas_s.tokenizer, num_images=40)
    assert all(v >= 0.9 for v in rates.values()), rates


def test_inversion_started_from_the_true_layout_keeps_it_and_scores_ap_one(layout_canvas_s, val):
    """DIVE's gradient search (prior, cosine snapping) started at the truth must not wander off it:
    the prediction decodes to the true boxes. Neighbour repairs are off here: they score every
    one-cell move of a box side, and the model's 20-probe monitor prefers one of those to the
    truth in 7 of the first 12 val images (measured 2026-11-26), a limit of the model and its
    monitor that this test of the search and decoding machinery must not depend on."""
    task = TASKS.get("canvas-det")
    ids = [0, 1, 2, 3]
    tok = layout_canvas_s.tokenizer
    x0 = layout_canvas_s.encode(to_model_range(val.images[ids]))
    cfg = DiveConfig.of(**{**task.method_defaults["dive"], "init": "labels", "steps": 20, "monitor_every": 5,
                        "neighbour_repairs": False})
    probes = ProbeSet.build(tuple(x0.shape[1:]), interval=cfg.probes.interval, seed=cfg.probes.probe_seed)
    truth = torch.stack([tok.encode(val.annotations[i]) for i in ids])
    results = invert(layout_canvas_s, x0, probes, cfg, seeds=[0, 1, 2, 3], init_labels=truth)
    preds = [scored_detections(layout_canvas_s, x, r.labels, probes, cfg.probes.loss, cfg.probes.weighting)[0] for x, r in zip(x0, results)]
    targets = [task.target(val, i) for i in ids]
    for p, t in zip(preds, targets):
        assert sorted((d["category_id"], d["bbox"]) for d in p) == sorted((a["category_id"], a["bbox"]) for a in t["annotations"])
    assert task.metrics(preds, targets)["ap"]["value"] == pytest.approx(1.0)


def test_prior_check_separates_the_trained_prior_from_an_untrained_one(layout_canvas_s, val):
    """The bundled joint prior prefers real layouts to random tokens (0.96 on 100 val layouts);
    the same architecture untrained is at chance (0.49), so the check measures learning.
    (The bundled priors do not yet reach 0.9 on every edit: see README, "layout prior".)"""
    import copy

    from dive_bench.diagnostics.prior_check import prior_plausibility

    trained = prior_plausibility(layout_canvas_s, val, "joint", num_images=100, draws=64)
    untrained_model = copy.copy(layout_canvas_s)
    fresh = copy.deepcopy(layout_canvas_s.priors["joint"])
    torch.manual_seed(0)
    for p in fresh.parameters():
        torch.nn.init.normal_(p, std=0.02)
    untrained_model.priors = {"joint": fresh}
    untrained = prior_plausibility(untrained_model, val, "joint", num_images=100, draws=64)
    assert trained["random"] >= 0.9
    assert untrained["random"] <= 0.75
    assert trained["tiny"] > untrained["tiny"] + 0.2  # measured 0.89 vs 0.41


def test_sized_priors_pass_the_prior_check_including_one_cell_resizes():
    """layout-canvas-s-sized: priors that noise a subset of slots and predict each slot's clean
    embedding as a vocabulary mixture. On canvas-det-sized (one size per class) they must prefer
    the true layout to every edit, including a box one grid cell wider or narrower, which is the
    error DIVE makes and which the paper-style priors scored at chance (0.52-0.57)."""
    from dive_bench.diagnostics.prior_check import SIZED_EDITS, prior_plausibility

    model = load_model("layout-canvas-s-sized")
    assert set(model.priors) == {"joint", "decoupled"} and model.image_model_sha256 == load_model("layout-canvas-s").image_model_sha256
    sized_val = TASKS.get("canvas-det-sized").load()
    rates = prior_plausibility(model, sized_val, "joint", num_images=100, draws=32, edits=SIZED_EDITS)
    assert all(v >= 0.9 for v in rates.values()), rates


def test_masked_canvas_det_priors_pass_the_prior_check_the_paper_style_ones_fail():
    """layout-canvas-s-masked: the masked priors trained on canvas-det layouts. The paper-style
    priors of layout-canvas-s scored 0.78 / 0.89 / 0.52 / 0.96 on these edits (README); these
    must prefer the true layout in >= 90% of val layouts on every edit, the prior's own gate."""
    from dive_bench.diagnostics.prior_check import prior_plausibility

    model = load_model("layout-canvas-s-masked")
    assert set(model.priors) == {"joint", "decoupled"}
    assert model.image_model_sha256 == load_model("layout-canvas-s").image_model_sha256
    val = TASKS.get("canvas-det").load()
    rates = prior_plausibility(model, val, "joint", num_images=100, draws=32)
    assert all(v >= 0.9 for v in rates.values()), rates


def test_sized_prior_repairs_propose_the_true_layout_for_a_one_cell_resize():
    """prior_repairs hides one slot at a time and reads it back from the others: on a true layout
    it proposes (almost) nothing, and for a box made one cell wider or narrower it proposes the
    true layout back (the prior knows each class's size)."""
    from dive_bench.diagnostics.prior_check import implausible

    model = load_model("layout-canvas-s-sized")
    tok = model.tokenizer
    sized_val = TASKS.get("canvas-det-sized").load()
    g = torch.Generator().manual_seed(0)
    truths = [tok.encode(a) for a in sized_val.annotations[:40] if a]
    quiet = sum(len(prior_repairs(model, t)) == 0 for t in truths)
    found = sum(any(torch.equal(r, t) for r in prior_repairs(model, implausible(t, tok, "resized", g))) for t in truths)
    assert quiet >= 0.9 * len(truths) and found >= 0.9 * len(truths), (quiet, found, len(truths))
