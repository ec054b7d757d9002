"""DIVE and enumeration: shared primitive (invariant 1), frozen model (invariant 3), determinism."""

from __future__ import annotations

import pytest
import torch

from dive_bench.testing import make_dit
from dive_bench.adapters.dit import DiTAdapter
from dive_bench.data.base import to_model_range
from dive_bench.inversion import DiveConfig, EnumerationConfig, ProbeSet, enumerate_classes, invert
from dive_bench.spec.options import validate
from dive_bench.errors import DiveBenchError
from dive_bench.inversion.dive import _Snapper


def _x0(adapter, n=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, *adapter.image_shape, generator=g) * 2 - 1


def test_probe_timesteps_follow_the_paper_grid():
    probes = ProbeSet.build((1, 8, 8), interval=4)
    assert len(probes) == 250
    assert probes.timesteps[:3].tolist() == [2, 6, 10] and int(probes.timesteps[-1]) == 998
    again = ProbeSet.build((1, 8, 8), interval=4)
    assert torch.equal(probes.noise, again.noise)  # seeded noise bank
    assert not torch.equal(probes.noise, ProbeSet.build((1, 8, 8), interval=4, seed=1).noise)


@pytest.mark.parametrize("family", ["ddpm-eps", "ddpm-v", "ddpm-x0", "flow", "sit", "edm"])
def test_monitor_value_equals_enumeration_score(dit_adapter, family):
    """Invariant 1 in every model family: probes in the model's own time domain, one error space."""
    if family != "ddpm-eps":
        from families import family as parameterization

        dit_adapter = DiTAdapter(make_dit(), parameterization=parameterization(family))
    x0 = _x0(dit_adapter)
    probes = ProbeSet.for_adapter(dit_adapter, (1, 8, 8), interval=50)
    if family == "ddpm-eps":  # the eps-DDPM probes are the paper's grid, as before families
        assert torch.equal(probes.timesteps, ProbeSet.build((1, 8, 8), interval=50).timesteps)
    dive = invert(dit_adapter, x0, probes, DiveConfig.of(steps=20, probes_per_step=5, monitor_every=5, interval=50), seeds=[0, 1, 2, 3])
    enum = enumerate_classes(dit_adapter, x0, probes, EnumerationConfig.of(interval=50, eval_batch=37))
    for d, e in zip(dive, enum):
        assert d.best_monitor == pytest.approx(e.scores[d.labels[0]], rel=1e-6, abs=1e-9)
        # every value on the monitor curve is some class's enumeration score
        for _, value in d.monitor_curve:
            assert min(abs(value - s) for s in e.scores) < 1e-6 * max(1.0, value)


def test_single_class_vocabulary_methods_agree_exactly():
    adapter = DiTAdapter(make_dit(num_classes=1))
    x0 = _x0(adapter, n=2)
    probes = ProbeSet.build((1, 8, 8), interval=100)
    dive = invert(adapter, x0, probes, DiveConfig.of(steps=4, probes_per_step=5, monitor_every=2, interval=100), seeds=[5, 6])
    enum = enumerate_classes(adapter, x0, probes, EnumerationConfig.of(interval=100))
    for d, e in zip(dive, enum):
        assert d.labels == [0] and e.prediction == 0
        assert d.best_monitor == pytest.approx(e.scores[0], rel=1e-7)


def test_gradients_reach_slots_and_model_stays_frozen(dit_adapter):
    before = {k: v.clone() for k, v in dit_adapter.transformer.state_dict().items()}
    x0 = _x0(dit_adapter, n=2)
    probes = ProbeSet.build((1, 8, 8), interval=100)
    snapper = _Snapper(dit_adapter, "l2")
    slots = torch.nn.Parameter(torch.randn(2, 1, dit_adapter.vocabulary["class"].shape[1]) * 0.02)
    cond = snapper.straight_through(slots)
    # straight-through: the forward value is exactly a vocabulary row
    torch.testing.assert_close(cond.detach(), dit_adapter.embed(snapper.labels(slots.detach())))
    from dive_bench.inversion.probes import denoising_error
    loss = denoising_error(dit_adapter, x0, cond, probes.timesteps[:2], probes.noise[:2]).sum()
    loss.backward()
    assert slots.grad is not None and slots.grad.abs().sum() > 0
    assert all(p.grad is None for p in dit_adapter.transformer.parameters())
    invert(dit_adapter, x0, probes, DiveConfig.of(steps=6, probes_per_step=4, monitor_every=3, interval=100), seeds=[1, 2])
    after = dit_adapter.transformer.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_dive_is_deterministic_and_independent_of_batch_composition(dit_adapter):
    x0 = _x0(dit_adapter, n=3)
    probes = ProbeSet.build((1, 8, 8), interval=50)
    cfg = DiveConfig.of(steps=10, probes_per_step=4, monitor_every=5, interval=50)
    together = invert(dit_adapter, x0, probes, cfg, seeds=[11, 12, 13])
    again = invert(dit_adapter, x0, probes, cfg, seeds=[11, 12, 13])
    alone = invert(dit_adapter, x0[1:2], probes, cfg, seeds=[12])
    assert [r.labels for r in together] == [r.labels for r in again]
    assert [r.visited for r in together] == [r.visited for r in again]
    assert alone[0].labels == together[1].labels and alone[0].visited == together[1].visited
    assert alone[0].best_monitor == pytest.approx(together[1].best_monitor, rel=1e-5)


def test_early_stopping_spends_fewer_evaluations(dit_adapter):
    x0 = _x0(dit_adapter, n=4)
    probes = ProbeSet.build((1, 8, 8), interval=50)
    full = invert(dit_adapter, x0, probes, DiveConfig.of(steps=40, probes_per_step=4, monitor_every=4, interval=50), seeds=[1, 2, 3, 4])
    early = invert(dit_adapter, x0, probes, DiveConfig.of(steps=40, probes_per_step=4, monitor_every=4, interval=50, patience=1),
                   seeds=[1, 2, 3, 4])
    assert all(r.steps_run == 40 and not r.stopped_early for r in full)
    assert any(r.stopped_early for r in early)
    assert sum(r.evaluations for r in early) < sum(r.evaluations for r in full)
    # evaluation accounting: 3 per probe per step (backward = 2 forwards) + monitor passes
    for r in full:
        assert r.evaluations >= 40 * 4 * 3
        assert (r.evaluations - 40 * 4 * 3) % len(probes) == 0


def test_no_snap_ablation_optimises_continuous_embedding(dit_adapter):
    x0 = _x0(dit_adapter, n=2)
    probes = ProbeSet.build((1, 8, 8), interval=100)
    res = invert(dit_adapter, x0, probes, DiveConfig.of(steps=6, probes_per_step=4, monitor_every=3, snap=False, interval=100),
                 seeds=[1, 2])
    enum = enumerate_classes(dit_adapter, x0, probes, EnumerationConfig.of(interval=100))
    for r, e in zip(res, enum):
        # the continuous optimum is not a vocabulary entry: its monitor differs from any class score
        assert min(abs(r.best_monitor - s) for s in e.scores) > 1e-7
        assert 0 <= r.labels[0] < 5


def test_adaptive_enumeration_prunes(digits_adapter, digits_test):
    x0 = digits_adapter.encode(to_model_range(digits_test.images[:12]))
    probes = ProbeSet.build((1, 8, 8), interval=10)
    full = enumerate_classes(digits_adapter, x0, probes, EnumerationConfig.of(interval=10, eval_batch=2000))
    adaptive = enumerate_classes(digits_adapter, x0, probes,
                                 EnumerationConfig.of(interval=10, stages=((20, 3), (100, 1)), eval_batch=2000))
    assert all(r.evaluations == 10 * 100 for r in full)
    # stage 1: 10 classes x 20 probes; stage 2: 3 survivors x the 80 probes not yet scored
    assert all(r.evaluations == 10 * 20 + 3 * 80 for r in adaptive)
    agree = sum(a.prediction == f.prediction for a, f in zip(adaptive, full))
    assert agree >= 11


def test_bundled_digits_model_classifies(digits_adapter, digits_test):
    """Quality guard for the bundled checkpoint (measured 95% on 100 images at this protocol)."""
    n = 40
    x0 = digits_adapter.encode(to_model_range(digits_test.images[:n]))
    labels = digits_test.labels[:n].tolist()
    probes = ProbeSet.build((1, 8, 8), interval=10)
    enum = enumerate_classes(digits_adapter, x0, probes, EnumerationConfig.of(interval=10, eval_batch=2000))
    dive = invert(digits_adapter, x0, probes, DiveConfig.of(steps=60, probes_per_step=10, interval=10), seeds=list(range(n)))
    acc_e = sum(r.prediction == y for r, y in zip(enum, labels)) / n
    acc_d = sum(r.labels[0] == y for r, y in zip(dive, labels)) / n
    assert acc_e >= 0.85 and acc_d >= 0.8
    assert sum(r.evaluations for r in dive) / n < 60 * 10 * 3 + 6 * 100  # the monitor cache saves passes


def test_neighbour_repairs_on_a_class_model_name_the_problem(dit_adapter):
    from dive_bench.errors import DiveBenchError

    x0 = torch.zeros(1, *dit_adapter.image_shape)
    probes = ProbeSet.build(tuple(x0.shape[1:]), interval=250)
    with pytest.raises(DiveBenchError, match="need a layout model"):
        invert(dit_adapter, x0, probes, DiveConfig.of(steps=1, interval=250, neighbour_repairs=True), seeds=[0])


def test_verify_with_every_class_equals_exhaustive_enumeration(digits_adapter, digits_test):
    """verify = K scores every class on all probes, so DIVE's answer must be enumeration's argmin
    and its monitor value that class's enumeration score, whatever the search did."""
    x0 = digits_adapter.encode(to_model_range(digits_test.images[:6]))
    probes = ProbeSet.build((1, 8, 8), interval=100)
    full = enumerate_classes(digits_adapter, x0, probes, EnumerationConfig.of(interval=100))
    cfg = DiveConfig.of(steps=3, probes_per_step=1, monitor_every=3, interval=100, verify=10)
    dive = invert(digits_adapter, x0, probes, cfg, seeds=list(range(6)))
    for d, e in zip(dive, full):
        assert d.labels[0] == e.prediction
        assert d.best_monitor == pytest.approx(min(e.scores), abs=1e-6)
        assert 3 * 3 + 10 * 10 >= d.evaluations >= 3 * 3 + 10 * 10 - 10  # the one monitored class is cached
    # a few nearest entries cost at most verify x probes more than the search alone
    plain = invert(digits_adapter, x0, probes, DiveConfig.of(steps=3, probes_per_step=1, monitor_every=3, interval=100),
                   seeds=list(range(6)))
    few = invert(digits_adapter, x0, probes, DiveConfig.of(steps=3, probes_per_step=1, monitor_every=3, interval=100,
                                                         verify=3), seeds=list(range(6)))
    for p, f in zip(plain, few):
        assert p.evaluations <= f.evaluations <= p.evaluations + 3 * 10
        assert f.best_monitor <= p.best_monitor


def test_staged_verify_answers_the_better_of_the_search_and_adaptive_enumeration(digits_adapter, digits_test):
    """verify = K with --verify-schedule dc runs Diffusion Classifier's staged pruning over all K
    classes: the answer is the better of the search's best snapped class and adaptive enumeration's
    winner, its value that class's full-probe enumeration score, at the staged cost."""
    from dive_bench.inversion import cost

    x0 = digits_adapter.encode(to_model_range(digits_test.images[:6]))
    probes = ProbeSet.build((1, 8, 8), interval=100)
    full = enumerate_classes(digits_adapter, x0, probes, EnumerationConfig.of(interval=100))
    stages = cost.scaled_stages(10, 10)
    adaptive = enumerate_classes(digits_adapter, x0, probes, EnumerationConfig.of(interval=100, stages=stages))
    base = dict(steps=3, probes_per_step=1, monitor_every=3, interval=100)
    plain = invert(digits_adapter, x0, probes, DiveConfig.of(**base), seeds=list(range(6)))
    staged = invert(digits_adapter, x0, probes, DiveConfig.of(**base, verify=10, verify_schedule="dc"), seeds=list(range(6)))
    for p, a, s, e in zip(plain, adaptive, staged, full):
        expect = min((p.best_monitor, p.labels[0]), (e.scores[a.prediction], a.prediction))
        assert s.labels[0] == expect[1]
        assert s.best_monitor == pytest.approx(expect[0], abs=1e-6)
        assert s.best_monitor == pytest.approx(e.scores[s.labels[0]], abs=1e-6)
        assert s.evaluations == p.evaluations + cost.enumeration_evaluations(10, 10, stages)
    with pytest.raises(DiveBenchError, match="verify-schedule"):
        validate(DiveConfig.of(**base, verify_schedule="dc"))
