"""Layout tokens, the layout model behind the adapter, the layout prior and layout inversion."""

from __future__ import annotations

import pytest
import torch

from dive_bench.adapters.layout import LayoutAdapter
from dive_bench.data.canvas import load_canvas
from dive_bench.errors import DiveBenchError
from dive_bench.inversion import DiveConfig, ProbeSet, invert
from dive_bench.diagnostics.position_check import perturb
from dive_bench.models.layout_dit import LayoutDiT
from dive_bench.models.layout_prior import DecoupledPrior, LayoutPrior
from dive_bench.tasks import TASKS
from dive_bench.labels import LayoutTokenizer

TOK = LayoutTokenizer((1, 2, 3), grid=17, max_objects=3, image_size=32)


@pytest.fixture(scope="module")
def canvas():
    return load_canvas(None, "val", 12, seed=0)


def tiny_adapter(priors=None, seed=0):
    torch.manual_seed(seed)
    model = LayoutDiT(width=32, depth=1, heads=2, slot_dim=16)
    with torch.no_grad():  # wake the zero-initialised output layers so the model depends on its input
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return LayoutAdapter(model, TOK, priors=priors)


def test_tokenizer_round_trip(canvas):
    for anns in canvas.annotations:
        tokens = TOK.encode(anns)
        assert tokens.shape == (15,)
        decoded = TOK.decode(tokens)
        assert [(d["category_id"], d["bbox"]) for d in decoded] == [(a["category_id"], [float(v) for v in a["bbox"]]) for a in anns]
    g = torch.Generator().manual_seed(0)
    shuffled = TOK.decode(TOK.encode(canvas.annotations[0], generator=g))
    assert sorted(map(str, (d["bbox"] for d in shuffled))) == sorted(map(str, ([float(v) for v in a["bbox"]] for a in canvas.annotations[0])))


def test_tokenizer_drops_none_and_illegal_boxes():
    t = TOK.empty()
    assert TOK.decode(t) == []
    t[:5] = torch.tensor([0, 4, 4, 2, 8])  # x1 <= x0
    t[5:10] = torch.tensor([1, 2, 2, 6, TOK.none_coord])  # a [none] coordinate
    t[10:15] = torch.tensor([2, 1, 1, 3, 3])
    assert TOK.decode(t) == [{"slot": 2, "category_id": 3, "bbox": [2.0, 2.0, 4.0, 4.0]}]
    with pytest.raises(DiveBenchError, match="raise max_objects"):
        TOK.encode([{"category_id": 1, "bbox": [0, 0, 4, 4]}] * 4)
    with pytest.raises(DiveBenchError, match="category id 7"):
        TOK.encode([{"category_id": 7, "bbox": [0, 0, 4, 4]}])


def test_vocabularies_are_disjoint_kinds_with_none_rows():
    a = tiny_adapter()
    assert a.vocabulary["class"].shape == (4, 16) and a.vocabulary["coord"].shape == (18, 16)
    assert a.slot_kinds[:5] == ("class", "coord", "coord", "coord", "coord")
    assert a.none_index == {"class": 3, "coord": 17}


def test_injected_true_layout_reproduces_model_forward(canvas):
    a = tiny_adapter()
    tokens = torch.stack([TOK.encode(x) for x in canvas.annotations[:4]])
    x = torch.randn(4, 3, 32, 32)
    t = torch.tensor([10, 300, 600, 990])
    with torch.no_grad():
        own = a.model(x, t, a.model.embed_tokens(tokens))
        ours = a.predict_noise(x, t, a.embed(tokens))
        moved = a.predict_noise(x, t, a.embed(torch.stack([perturb(tk, TOK, "shift") for tk in tokens])))
    torch.testing.assert_close(ours, own, rtol=0, atol=0)
    assert (moved - own).abs().max() > 1e-5  # box positions reach the output


def test_layout_model_and_prior_round_trip(tmp_path, canvas):
    import json
    from diffusers import DDPMScheduler

    prior = LayoutPrior(tuple(range(15)), slot_dim=16, width=32, depth=1, heads=2)
    decoupled = DecoupledPrior({"class": LayoutPrior((0, 5, 10), 16, 32, 1, 2),
                                "coord": LayoutPrior(tuple(i for i in range(15) if i % 5), 16, 32, 1, 2)})
    a = tiny_adapter(priors={"joint": prior, "decoupled": decoupled})
    a.model.save_pretrained(tmp_path)
    DDPMScheduler(num_train_timesteps=1000, beta_schedule="linear").save_pretrained(tmp_path)
    prior.save_pretrained(tmp_path / "prior")
    decoupled.save_pretrained(tmp_path / "prior-decoupled")
    (tmp_path / "dive_bench.json").write_text(json.dumps({"category_ids": [1, 2, 3], "class_names": ["square", "disk", "triangle"]}))
    b = LayoutAdapter.from_pretrained(str(tmp_path))
    tokens = torch.stack([TOK.encode(x) for x in canvas.annotations[:3]])
    cond = b.embed(tokens)
    x, t = torch.randn(3, 3, 32, 32), torch.tensor([5, 500, 900])
    torch.testing.assert_close(b.predict_noise(x, t, cond), a.predict_noise(x, t, a.embed(tokens)))
    noise = torch.randn(cond.shape)
    for variant in ("joint", "decoupled"):
        torch.testing.assert_close(b.prior_loss(cond, t, noise, variant), a.prior_loss(cond, t, noise, variant))
    assert set(b.priors) == {"joint", "decoupled"}
    # a retrained prior changes the checkpoint's hash (results depend on it) but not the image
    # model's, which keys what only the image model decides (the cached coarse seeds)
    torch.manual_seed(1)
    LayoutPrior(tuple(range(15)), slot_dim=16, width=32, depth=1, heads=2).save_pretrained(tmp_path / "prior")
    c = LayoutAdapter.from_pretrained(str(tmp_path))
    assert c.info()["sha256"] != b.info()["sha256"]
    assert c.image_model_sha256 == b.image_model_sha256
    # a training loop that changes the live image model's weights gets another seed key (its
    # cached seeds came from other weights); putting the weights back gives the file's key again
    saved = {k: v.clone() for k, v in c.model.state_dict().items()}
    with torch.no_grad():
        next(c.model.parameters()).add_(0.01)
    assert c.image_model_sha256 not in (b.image_model_sha256, None)
    c.model.load_state_dict(saved)
    assert c.image_model_sha256 == b.image_model_sha256
    with pytest.raises(DiveBenchError, match="--no-prior"):
        tiny_adapter().prior_loss(cond, t, noise)
    # a second prior set beside the first (layout-canvas-s-sized): loaded on request, and part of
    # neither the hash of the default set nor its own of the default's priors
    torch.manual_seed(2)
    sized = LayoutPrior(tuple(range(15)), slot_dim=16, width=32, depth=1, heads=2)
    sized.save_pretrained(tmp_path / "sized" / "prior")
    assert LayoutAdapter.from_pretrained(str(tmp_path)).info()["sha256"] == c.info()["sha256"]
    d = LayoutAdapter.from_pretrained(str(tmp_path), prior_set="sized")
    assert set(d.priors) == {"joint"} and d.image_model_sha256 == c.image_model_sha256
    assert d.info()["sha256"] not in (c.info()["sha256"], d.image_model_sha256)
    torch.testing.assert_close(d.prior_loss(cond, t, noise), sized.loss(cond, t, noise, d.schedule))
    with pytest.raises(DiveBenchError, match="no prior set 'nope'"):
        LayoutAdapter.from_pretrained(str(tmp_path), prior_set="nope")


def test_layout_dive_gradients_reach_slots_through_image_and_prior(canvas):
    prior = LayoutPrior(tuple(range(15)), slot_dim=16, width=32, depth=1, heads=2)
    a = tiny_adapter(priors={"joint": prior})
    before = {k: v.clone() for k, v in a.model.state_dict().items()}
    x0 = a.encode(canvas.images[:2].float() / 127.5 - 1)
    probes = ProbeSet.build((3, 32, 32), interval=100)
    cfg = DiveConfig.of(steps=6, probes_per_step=3, monitor_every=3, interval=100, init="none", snap_distance="cosine", prior_weight=1.0)
    res = invert(a, x0, probes, cfg, seeds=[1, 2])
    assert all(len(r.labels) == 15 and r.evaluations > 0 for r in res)
    assert all(torch.equal(before[k], v) for k, v in a.model.state_dict().items())
    assert all(p.grad is None for p in prior.parameters())


def test_prior_probes_average_k_draws_per_image_and_keep_images_independent(canvas):
    prior = LayoutPrior(tuple(range(15)), slot_dim=16, width=32, depth=1, heads=2)
    a = tiny_adapter(priors={"joint": prior})
    calls = []
    real = a.prior_loss

    def recording(cond, t, noise, variant="joint"):
        calls.append(t.clone())
        return real(cond, t, noise, variant)

    a.prior_loss = recording
    x0 = a.encode(canvas.images[:2].float() / 127.5 - 1)
    probes = ProbeSet.build((3, 32, 32), interval=100)
    cfg = DiveConfig.of(steps=4, probes_per_step=2, monitor_every=2, interval=100, init="gaussian", snap_distance="cosine",
                     prior_weight=1.0, prior_probes=3)
    both = invert(a, x0, probes, cfg, seeds=[1, 2])
    assert len(calls) == 4 and all(len(t) == 2 * 3 for t in calls)  # 2 images x 3 draws per step
    assert all(len(set(t[:3].tolist())) > 1 for t in calls)  # fresh timesteps within an image's draws
    both_calls = list(calls)
    calls.clear()
    alone = invert(a, x0[:1], probes, cfg, seeds=[1])
    assert all(torch.equal(c, b[:3]) for c, b in zip(calls, both_calls))  # image 0 draws the same timesteps
    # an image's draws come from its own generator, so batching with another image changes nothing
    # but float rounding (a batch of 2 sums its matmuls in another order than a batch of 1)
    assert alone[0].labels == both[0].labels
    assert [s for s, _ in alone[0].monitor_curve] == [s for s, _ in both[0].monitor_curve]
    assert [v for _, v in alone[0].monitor_curve] == pytest.approx([v for _, v in both[0].monitor_curve], rel=1e-6)
    with pytest.raises(DiveBenchError, match="prior_probes"):
        invert(a, x0, probes, DiveConfig.of(steps=1, interval=100, prior_weight=1.0, prior_probes=0), seeds=[1, 2])


def test_subset_noised_prior_scores_only_its_noised_slots(canvas):
    """noised_fraction < 1: a query noises some slots and gives the rest clean. The error is over
    the noised slots only, so the noise drawn for clean slots cannot matter; with every slot
    noised it is the paper's prior, whose error it must then equal."""
    torch.manual_seed(0)
    prior = LayoutPrior(tuple(range(15)), slot_dim=16, width=32, depth=1, heads=2, noised_fraction=0.25)
    a = tiny_adapter(priors={"joint": prior})
    assert LayoutPrior(tuple(range(15)), 16, 32, 1, 2).draw_mask(4, 15, torch.Generator()) is None
    g = torch.Generator().manual_seed(0)
    mask = prior.draw_mask(500, 15, g)
    assert mask.shape == (500, 15) and mask.any(1).all() and 0.2 < mask.float().mean() < 0.35
    assert torch.equal(mask, prior.draw_mask(500, 15, torch.Generator().manual_seed(0)))  # seeded
    cond = a.embed(torch.stack([TOK.encode(anns) for anns in canvas.annotations[:3]]))
    t, noise = torch.tensor([10, 400, 900]), torch.randn(3, 15, 16)
    m = mask[:3]
    other = torch.where(m[..., None], noise, torch.randn(3, 15, 16))
    base = a.prior_loss(cond, t, noise, mask=m)
    torch.testing.assert_close(base, a.prior_loss(cond, t, other, mask=m))
    assert not torch.allclose(base, a.prior_loss(cond, t, torch.randn(3, 15, 16), mask=m))
    torch.testing.assert_close(a.prior_loss(cond, t, noise, mask=torch.ones(3, 15, dtype=torch.bool)),
                               prior.loss(cond, t, noise, a.schedule))
    # decoupled: each sub-prior noises at least one of its own slots
    dec = DecoupledPrior({"class": LayoutPrior((0, 5, 10), 16, 32, 1, 2, noised_fraction=0.25),
                          "coord": LayoutPrior(tuple(i for i in range(15) if i % 5), 16, 32, 1, 2, noised_fraction=0.25)})
    dm = dec.draw_mask(200, 15, torch.Generator().manual_seed(1))
    assert dm[:, [0, 5, 10]].any(1).all() and dm[:, [i for i in range(15) if i % 5]].any(1).all()


def test_embedding_predicting_prior_outputs_vocabulary_mixtures_and_round_trips(tmp_path):
    """predict-embedding priors output, per slot, a probability mixture of that slot's vocabulary:
    with one-hot tables the output is a distribution on the right entries. The tables are saved
    with the weights, so a loaded prior scores the same."""
    torch.manual_seed(0)
    eye = torch.eye(8)
    prior = LayoutPrior((0, 1, 2, 3, 4), slot_dim=8, width=16, depth=1, heads=2, noised_fraction=0.5,
                        vocab_sizes=(4, 8), slot_vocab=(0, 1, 1, 1, 1))
    prior.set_vocabularies([eye[:4], eye])
    x0 = prior(torch.randn(6, 5, 8), torch.randint(0, 1000, (6,)))
    assert (x0 >= 0).all() and torch.allclose(x0.sum(-1), torch.ones(6, 5))
    assert torch.equal(x0[:, 0, 4:], torch.zeros(6, 4))  # the class slot mixes class entries only
    prior.save_pretrained(tmp_path / "p")
    loaded = LayoutPrior.from_pretrained(str(tmp_path / "p"))
    assert torch.equal(loaded.vocab1, eye) and loaded.predicts_embedding
    z, t = torch.randn(3, 5, 8), torch.tensor([3, 300, 900])
    torch.testing.assert_close(loaded(z, t), prior(z, t))
    with pytest.raises(ValueError, match="slot_vocab"):
        LayoutPrior((0, 1), slot_dim=8, width=16, depth=1, heads=2, vocab_sizes=(4, 8))


def test_dive_with_a_subset_noised_prior_is_seeded_and_leaves_the_paper_prior_draws_alone(canvas):
    masked = LayoutPrior(tuple(range(15)), slot_dim=16, width=32, depth=1, heads=2, noised_fraction=0.25)
    a = tiny_adapter(priors={"joint": masked})
    x0 = a.encode(canvas.images[:2].float() / 127.5 - 1)
    probes = ProbeSet.build((3, 32, 32), interval=100)
    cfg = DiveConfig.of(steps=4, probes_per_step=2, monitor_every=2, interval=100, init="gaussian", snap_distance="cosine",
                     prior_weight=1.0)
    seen = []
    real = a.prior_loss
    a.prior_loss = lambda cond, t, noise, variant="joint", mask=None: (seen.append(mask), real(cond, t, noise, variant, mask))[1]
    first = invert(a, x0, probes, cfg, seeds=[1, 2])
    assert len(seen) == 4 and all(m is not None and m.shape == (2, 15) for m in seen)
    assert [r.labels for r in invert(a, x0, probes, cfg, seeds=[1, 2])] == [r.labels for r in first]
    # a paper prior (all slots noised) draws no mask, so its (t, noise) stream is as before
    plain = tiny_adapter(priors={"joint": LayoutPrior(tuple(range(15)), slot_dim=16, width=32, depth=1, heads=2)})
    assert plain.prior_mask("joint", torch.Generator().manual_seed(0)) is None


def test_prior_check_edits_make_the_first_object_implausible(canvas):
    from dive_bench.diagnostics.prior_check import EDITS, implausible

    g = torch.Generator().manual_seed(0)
    true = TOK.encode(canvas.annotations[0])
    edits = {k: implausible(true, TOK, k, g) for k in EDITS}
    assert edits["illegal"][3] < edits["illegal"][1] and torch.equal(edits["illegal"][5:], true[5:])
    assert edits["tiny"][3] - edits["tiny"][1] == 1 and edits["tiny"][4] - edits["tiny"][2] == 1
    assert edits["huge"][1:5].tolist() == [0, 0, TOK.grid - 1, TOK.grid - 1]
    kinds = TOK.slot_kinds
    assert all(0 <= int(v) < (TOK.num_classes if k == "class" else TOK.grid) for v, k in zip(edits["random"], kinds))
    assert not torch.equal(edits["random"], true)
    with pytest.raises(ValueError, match="unknown edit"):
        implausible(true, TOK, "sideways", g)
    # resized: the first box one cell wider or narrower, still legal, nothing else touched
    for tokens in (true, torch.tensor([0, 3, 3, 4, 5] + true[5:].tolist()), torch.tensor([0, 8, 3, 16, 5] + true[5:].tolist())):
        sides = {int(implausible(tokens, TOK, "resized", g)[3]) - int(tokens[3]) for _ in range(20)}
        r = implausible(tokens, TOK, "resized", g)
        assert sides <= {-1, 1} and r[1] < r[3] <= TOK.grid - 1
        assert torch.equal(torch.cat([r[:3], r[4:]]), torch.cat([tokens[:3], tokens[4:]]))
    assert {int(implausible(true, TOK, "resized", g)[3]) - int(true[3]) for _ in range(30)} == {-1, 1}


def test_init_from_labels_is_monitored_at_step_zero(canvas):
    a = tiny_adapter()
    x0 = a.encode(canvas.images[:2].float() / 127.5 - 1)
    probes = ProbeSet.build((3, 32, 32), interval=100)
    start = torch.stack([TOK.encode(x) for x in canvas.annotations[:2]])
    cfg = DiveConfig.of(steps=0, interval=100, init="labels", snap_distance="cosine")
    res = invert(a, x0, probes, cfg, seeds=[1, 2], init_labels=start)
    assert [r.labels for r in res] == start.tolist()
    assert all(r.monitor_curve[0][0] == 0 and r.best_step == 0 for r in res)


def test_detection_task_perfect_and_empty_predictions(canvas):
    task = TASKS.get("canvas-det")
    targets = [task.target(canvas, i) for i in range(len(canvas))]
    perfect = [[{"category_id": a["category_id"], "bbox": a["bbox"], "score": 1.0} for a in t["annotations"]] for t in targets]
    m = task.metrics(perfect, targets)
    assert m["ap"]["value"] == pytest.approx(1.0) and m["ap50"]["ci_low"] == pytest.approx(1.0)
    empty = task.metrics([[] for _ in targets], targets)
    assert empty["ap"]["value"] == 0.0


def test_score_canvas_detection_end_to_end(tmp_path, capsys):
    """`dive-bench score` on a layout model writes COCO AP metrics and scored boxes per image."""
    import json

    from dive_bench.cli.main import main

    a = tiny_adapter()
    a.model.save_pretrained(tmp_path / "ckpt")
    (tmp_path / "ckpt" / "dive_bench.json").write_text(json.dumps({"category_ids": [1, 2, 3]}))
    out = tmp_path / "run"
    rc = main(["score", f"layout:{tmp_path / 'ckpt'}", "--task", "canvas-det", "--limit", "3", "--steps", "4",
               "--batch-size", "2", "--monitor-every", "2", "--interval", "200", "--no-prior", "--out", str(out), "--quiet"])
    assert rc == 0
    run = json.loads((out / "run.json").read_text())
    assert run["method_config"]["init"] == "coarse" and run["method_config"]["snap_distance"] == "cosine"  # task defaults
    assert run["method_config"]["prior_weight"] == 0.0 and run["method_config"]["weighting"] == "x0"
    assert {"ap", "ap50", "ap75", "aps"} <= run["metrics"].keys() and run["n_done"] == 3
    assert all(isinstance(p, list) for p in run["items"]["predictions"])
    assert "ap " in capsys.readouterr().out
    # a second row of the same table (here: w/o snapping) reuses the cached seeds; their seconds
    # when computed are reported beside the row's own seconds, so the table does not hide them
    from dive_bench.store.shards import collect

    first = collect(out).results
    seed_seconds = [first[i][0]["seed_cost"]["seconds"] for i in range(3)]
    rc = main(["score", f"layout:{tmp_path / 'ckpt'}", "--task", "canvas-det", "--limit", "3", "--steps", "4",
               "--batch-size", "2", "--monitor-every", "2", "--interval", "200", "--no-prior", "--no-snap",
               "--out", str(tmp_path / "run2"), "--quiet"])
    assert rc == 0
    second = json.loads((tmp_path / "run2" / "run.json").read_text())
    assert second["timings"]["cached_seconds_per_item"] == pytest.approx(sum(seed_seconds) / 3)
    assert second["timings"]["evaluations_per_item"] == pytest.approx(run["timings"]["evaluations_per_item"], rel=0.2)
    rc = main(["score", "dit-digits-xs", "--task", "canvas-det", "--limit", "1", "--out", str(tmp_path / "x"), "--quiet"])
    assert rc == 2 and "1x8x8" in capsys.readouterr().err  # a class-conditional digits model cannot take canvases


def test_seed_cache_reuses_seeds_and_keys_on_the_image(canvas, monkeypatch):
    """A cached coarse seed is returned with its original cost and without evaluating the model;
    another image (or model) is a different key."""
    from dive_bench.inversion.layout import seed as layout_seed

    a = tiny_adapter()
    x0 = a.encode(canvas.images[:2].float() / 127.5 - 1)
    probes = ProbeSet.build((3, 32, 32), interval=200)
    search = dict(sizes=(6,), stride=8, num_probes=2)
    first, costs = layout_seed.seed_layouts(a, x0, probes, **search)
    assert costs[0]["evaluations"] == (3 * 2 * 2 + 1) * 2 and not costs[0]["cached"]  # (classes x boxes + empty) x probes

    def boom(*args, **kwargs):
        raise AssertionError("the model was evaluated although the seed is cached")

    monkeypatch.setattr(layout_seed, "coarse_seed", boom)
    again, costs_again = layout_seed.seed_layouts(a, x0, probes, **search)
    assert torch.equal(first, again) and costs_again[0]["cached"]
    assert [c["evaluations"] for c in costs_again] == [c["evaluations"] for c in costs]
    with pytest.raises(AssertionError, match="evaluated"):
        layout_seed.seed_layouts(a, x0.flip(-1), probes, **search)
    with pytest.raises(AssertionError, match="evaluated"):
        layout_seed.seed_layouts(tiny_adapter(seed=1), x0, probes, **search)
    # the seed never uses a prior: the same image model with one attached reads the same entries
    with_prior = tiny_adapter(priors={"joint": LayoutPrior(tuple(range(15)), slot_dim=16, width=32, depth=1, heads=2)})
    assert torch.equal(layout_seed.seed_layouts(with_prior, x0, probes, **search)[0], first)
    # a bf16-autocast run computes its own seeds rather than reading the fp32 ones
    with torch.autocast("cpu", dtype=torch.bfloat16), pytest.raises(AssertionError, match="evaluated"):
        layout_seed.seed_layouts(a, x0, probes, **search)



def test_prior_training_shuffle_permutes_objects_and_keeps_padding_last(canvas):
    from dive_bench.training.layout_prior import shuffled_objects

    tokens = torch.stack([TOK.encode(a) for a in canvas.annotations])
    g = torch.Generator().manual_seed(0)
    multi = next(i for i, a in enumerate(canvas.annotations) if len(a) >= 2)
    seen_orders = set()
    for _ in range(20):
        out = shuffled_objects(tokens, TOK, g)
        for row_in, row_out in zip(tokens, out):
            objs_in = sorted(map(tuple, row_in.view(3, 5).tolist()))
            objs_out = row_out.view(3, 5).tolist()
            assert sorted(map(tuple, objs_out)) == objs_in  # same objects
            n_real = sum(o[0] != TOK.none_class for o in objs_out)
            assert all(o[0] != TOK.none_class for o in objs_out[:n_real])  # padding last
        seen_orders.add(tuple(out[multi].tolist()))
    assert len(seen_orders) > 1  # objects really are shuffled


def test_prior_training_writes_a_prior_set_with_the_models_vocabularies(tmp_path):
    """`train layout-prior --predict-embedding --prior-set sized`: the prior lands in OUT/sized/,
    loads through prior_set, and mixes exactly the layout model's frozen vocabulary tables."""
    import json

    from diffusers import DDPMScheduler

    from dive_bench.training.layout_prior import PriorTrainConfig, train_layout_prior

    a = tiny_adapter()
    a.model.save_pretrained(tmp_path)
    DDPMScheduler(num_train_timesteps=1000, beta_schedule="linear").save_pretrained(tmp_path)
    (tmp_path / "dive_bench.json").write_text(json.dumps({"category_ids": [1, 2, 3]}))
    cfg = PriorTrainConfig(train_images=20, steps=3, batch_size=4, width=16, depth=1, noised_fraction=0.5,
                           predict_embedding=True, prior_set="sized", class_sizes=((4, 4), (6, 6), (8, 6)))
    dest = train_layout_prior(tmp_path, cfg)
    assert dest == tmp_path / "sized" / "prior" and not (tmp_path / "prior").exists()
    b = LayoutAdapter.from_pretrained(str(tmp_path), prior_set="sized")
    prior = b.priors["joint"]
    assert prior.predicts_embedding and prior.noised_fraction == 0.5
    assert torch.equal(prior.vocab0, b.vocabulary["class"]) and torch.equal(prior.vocab1, b.vocabulary["coord"])
    assert "noised fraction 0.5, predicts the clean embedding" in (tmp_path / "sized" / "prior.txt").read_text()


def test_neighbour_repairs_move_one_box_side_by_one_cell_and_stay_legal():
    layout = TOK.empty()
    layout[:5] = torch.tensor([0, 0, 3, 1, 16])  # on the left and bottom edges, one cell wide
    layout[5:10] = torch.tensor([2, 5, 5, 9, 8])
    from dive_bench.inversion.layout.repairs import neighbour_repairs

    edits = neighbour_repairs(tiny_adapter(), layout)
    changed = [(e != layout).nonzero().flatten().tolist() for e in edits]
    assert all(len(c) == 1 for c in changed)  # one slot each, and only box slots of present objects
    assert {c[0] for c in changed} <= {1, 2, 3, 4, 6, 7, 8, 9}
    assert all(abs(int(e[c[0]]) - int(layout[c[0]])) == 1 for e, c in zip(edits, changed))
    for e in edits:
        for k in range(2):
            x0, y0, x1, y1 = e[5 * k + 1: 5 * k + 5].tolist()
            assert 0 <= x0 < x1 <= TOK.grid - 1 and 0 <= y0 < y1 <= TOK.grid - 1
    # first box: x0 can't go down (edge) or up (width 1), x1 can't go down; y1 can't go up (edge)
    assert len([c for c in changed if c[0] < 5]) == 4 and len([c for c in changed if c[0] >= 5]) == 8


def test_neighbour_repairs_continue_from_a_better_neighbour(canvas):
    """Started one cell off the truth, a 0-step run with neighbour repairs scores the true layout
    among the edits and answers whichever of the two the monitor prefers."""
    a = tiny_adapter()
    x0 = a.encode(canvas.images[:1].float() / 127.5 - 1)
    probes = ProbeSet.build((3, 32, 32), interval=100)
    truth = TOK.encode(canvas.annotations[0])
    start = truth.clone()
    start[3] = start[3] + 1 if start[3] < TOK.grid - 1 else start[3] - 1
    base = DiveConfig.of(steps=0, interval=100, init="labels", snap_distance="cosine")
    plain = invert(a, x0, probes, base, seeds=[1], init_labels=start[None])[0]
    cfg = DiveConfig.of(steps=0, interval=100, init="labels", snap_distance="cosine", neighbour_repairs=True)
    repaired = invert(a, x0, probes, cfg, seeds=[1], init_labels=start[None])[0]
    assert plain.labels == start.tolist()
    assert repaired.evaluations > plain.evaluations
    assert repaired.best_monitor <= plain.best_monitor
    ref = invert(a, x0, probes, base, seeds=[1], init_labels=truth[None])[0].best_monitor
    assert repaired.best_monitor <= ref + 1e-9  # the truth was among the scored neighbours


def tiny_vae():
    from diffusers import AutoencoderKL

    torch.manual_seed(0)
    return AutoencoderKL(in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 2,
                         up_block_types=("UpDecoderBlock2D",) * 2, block_out_channels=(8, 16), latent_channels=4,
                         norm_num_groups=8, layers_per_block=1, sample_size=32)


def test_latent_layout_model_trains_on_vae_latents_ships_its_vae_and_inverts(tmp_path, canvas):
    """The paper-scale path: a layout model in an AutoencoderKL's latent space (a tiny local VAE
    here, as diffusers' own tests build them). Training encodes with the posterior mean x scaling
    factor, the export carries the VAE, and the loaded adapter takes pixel images, encodes them the
    same way, keeps boxes in pixels and is covered by the image model's hash."""
    from dive_bench.training.layout import LayoutTrainConfig, train_layout

    vae = tiny_vae()
    vae.save_pretrained(tmp_path / "vae-src")
    cfg = LayoutTrainConfig(train_images=32, val_images=8, steps=2, batch_size=4, width=32, depth=1,
                            check_every=2, check_images=4, checkpoint_every=2, vae=str(tmp_path / "vae-src"), patch=2)
    dest = train_layout(cfg, tmp_path / "out")
    assert (dest / "vae").is_dir() and "latent space" in (dest / "README.md").read_text().lower()
    # the card's command rebuilds this model: the non-default width is in it, the default one is not
    assert "--seed 0 --save-dtype fp32 --width 32 --vae " in (dest / "README.md").read_text()
    a = LayoutAdapter.from_pretrained(str(dest))
    assert a.image_shape == (3, 32, 32) and (a.model.config.in_channels, a.model.config.image_size) == (4, 16)
    assert a.tokenizer.image_size == 32 and a.info()["latent_shape"] == [4, 16, 16]
    images = canvas.images[:2].float() / 127.5 - 1
    with torch.no_grad():
        expected = vae.encode(images).latent_dist.mean * vae.config.scaling_factor
    torch.testing.assert_close(a.encode(images), expected)
    with pytest.raises(DiveBenchError, match="expects 3x32x32"):
        a.encode(torch.zeros(1, 3, 16, 16))
    with pytest.raises(DiveBenchError, match="4 latent channels"):  # a pixel model with a VAE
        LayoutAdapter(tiny_adapter().model, TOK, vae=vae)
    # DIVE runs on the latents; a true start is scored at step 0 and decodes to pixel boxes
    probes = ProbeSet.build((4, 16, 16), interval=250)
    truth = torch.stack([TOK.encode(x) for x in canvas.annotations[:2]])
    res = invert(a, a.encode(images), probes, DiveConfig.of(steps=2, interval=250, init="labels", snap_distance="cosine",
                                                          probes_per_step=2, monitor_every=1), seeds=[0, 1], init_labels=truth)
    assert all(r.monitor_curve[0] == (0, r.monitor_curve[0][1]) and len(r.labels) == 15 for r in res)
    # the VAE is part of the image model: another VAE is another model
    before = a.image_model_sha256
    torch.manual_seed(3)
    with torch.no_grad():
        for p in vae.parameters():
            p.add_(torch.randn_like(p) * 0.01)
    vae.save_pretrained(dest / "vae")
    assert LayoutAdapter.from_pretrained(str(dest)).image_model_sha256 != before
