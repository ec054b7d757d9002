"""Model families (issue 16): DDPM eps/v/x0, rectified flow (diffusers and SiT conventions) and EDM.

Each family's parameterization is checked against formulas stated independently (diffusers'
DDPM velocity and EDM preconditioning, SiT's Linear path), the eps-space error against the x0
error it stands for, eps-DDPM scoring against the code it replaced (bit for bit), and tiny models
of each family trained here on digits against chance and against each other.
"""

from __future__ import annotations

import functools

import pytest
import torch

from dive_bench.adapters.dit import DiTAdapter
from dive_bench.adapters.parameterization import DDPM, EDM, Flow, from_name
from dive_bench.errors import DiveBenchError
from dive_bench.inversion import DiveConfig, EnumerationConfig, ProbeSet, enumerate_classes, invert
from dive_bench.inversion.probes import denoising_error
from dive_bench.testing import make_dit
from families import FAMILIES, family
from families import ddpm_schedule as _schedule


def _batch(p, n=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    x0 = torch.rand(n, 1, 8, 8, generator=g) * 2 - 1
    noise = torch.randn(n, 1, 8, 8, generator=g)
    times = p.probe_times(50)
    t = times[torch.linspace(0, len(times) - 1, n).round().long()]
    return x0, noise, t


@pytest.mark.parametrize("name", FAMILIES)
def test_the_true_target_reads_as_the_true_noise(name):
    p = family(name)
    x0, noise, t = _batch(p)
    x_t = p.add_noise(x0, noise, t)
    eps = p.to_eps(x_t, t, p.train_target(x0, noise, t))
    torch.testing.assert_close(eps, noise, atol=2e-4, rtol=1e-4)


def test_each_family_matches_its_reference_convention():
    from diffusers import DDPMScheduler, EDMEulerScheduler

    # DDPM v: diffusers' velocity alpha eps - sigma x0
    p = family("ddpm-v")
    x0, noise, t = _batch(p)
    ref = DDPMScheduler(num_train_timesteps=1000, beta_schedule="linear").get_velocity(x0, noise, t)
    torch.testing.assert_close(p.train_target(x0, noise, t), ref)
    # diffusers' flow matching: x_t = (1 - t) x0 + t eps, velocity eps - x0, timestep 1000 t
    f = Flow()
    x0, noise, t = _batch(f)
    tt = t.view(-1, 1, 1, 1)
    torch.testing.assert_close(f.add_noise(x0, noise, t), (1 - tt) * x0 + tt * noise)
    torch.testing.assert_close(f.train_target(x0, noise, t), noise - x0)
    assert torch.allclose(f.model_inputs(x0, t)[1], 1000 * t)
    # SiT (Linear path): x = s x_data + (1 - s) noise at its time s = 1 - t, output x_data - noise
    s = Flow(1.0, True)
    _, s_time = s.model_inputs(x0, t)
    st = s_time.view(-1, 1, 1, 1)
    torch.testing.assert_close(s.add_noise(x0, noise, t), st * x0 + (1 - st) * noise)
    torch.testing.assert_close(s.train_target(x0, noise, t), x0 - noise)
    # EDM: x = x0 + sigma eps, c_in, c_noise = ln(sigma)/4, and D(F) = x0 by diffusers' preconditioning
    e = EDM()
    x0, noise, sigma = _batch(e)
    x = e.add_noise(x0, noise, sigma)
    torch.testing.assert_close(x, x0 + sigma.view(-1, 1, 1, 1) * noise)
    sched = EDMEulerScheduler(sigma_data=0.5)
    x_in, c_noise = e.model_inputs(x, sigma)
    for i in range(len(x)):
        torch.testing.assert_close(x_in[i], sched.precondition_inputs(x[i], sigma[i]))
        torch.testing.assert_close(c_noise[i], sched.precondition_noise(sigma[i]).squeeze())
        denoised = sched.precondition_outputs(x[i], e.train_target(x0, noise, sigma)[i], sigma[i])
        torch.testing.assert_close(denoised, x0[i], atol=1e-4, rtol=1e-4)


def _x0_estimate(name, p, x_t, t, out):
    """x0 read from a raw output by each family's own formula (not through eps)."""
    col = t.view(-1, 1, 1, 1).float()
    if name == "ddpm-v":
        a = p.schedule.alphas_cumprod[t].view(-1, 1, 1, 1)
        return a.sqrt() * x_t - (1 - a).sqrt() * out
    if name == "ddpm-x0":
        return out
    if name in ("flow", "sit"):
        return x_t - col * p.velocity(out)
    if name == "edm":
        c_skip = 0.25 / (col ** 2 + 0.25)
        return c_skip * x_t + col * 0.5 / (col ** 2 + 0.25).sqrt() * out
    a = p.schedule.alphas_cumprod[t].view(-1, 1, 1, 1)
    return (x_t - (1 - a).sqrt() * out) / a.sqrt()


@pytest.mark.parametrize("name", FAMILIES)
def test_eps_error_times_inverse_snr_is_the_x0_error(name):
    """The one error space: the x0 weighting turns eps error into x0 error in every family."""
    p = family(name)
    x0, noise, t = _batch(p, seed=3)
    x_t = p.add_noise(x0, noise, t)
    out = p.train_target(x0, noise, t) + 0.1 * torch.randn(x0.shape, generator=torch.Generator().manual_seed(9))
    eps_err = ((p.to_eps(x_t, t, out) - noise) ** 2).flatten(1).mean(1)
    x0_err = ((_x0_estimate(name, p, x_t, t, out) - x0) ** 2).flatten(1).mean(1)
    torch.testing.assert_close(eps_err * p.inverse_snr(t), x0_err, rtol=1e-3, atol=1e-6)


def test_probe_grids_per_family():
    ddpm, flow, edm = family("ddpm-eps"), Flow(), EDM()
    steps = ddpm.probe_times(4)
    assert steps.dtype == torch.long and steps[:2].tolist() == [2, 6] and int(steps[-1]) == 998
    t = flow.probe_times(4)
    assert len(t) == len(steps) and torch.allclose(t, steps.float() / 1000) and 0 < t.min() and t.max() < 1
    sigma = edm.probe_times(4)
    assert len(sigma) == len(steps) and bool((sigma.diff() > 0).all())
    # the quantiles of EDM's training log-normal: the median probe sits at exp(P_mean)
    assert sigma.log().median().item() == pytest.approx(-1.2, abs=0.02)
    assert edm.probe_times(1).isfinite().all()  # interval 1 includes grid position 0
    # same noise bank in every family: only the times differ
    a = ProbeSet.build((1, 8, 8), interval=50, parameterization=ddpm)
    b = ProbeSet.build((1, 8, 8), interval=50, parameterization=edm)
    assert torch.equal(a.noise, b.noise) and not torch.equal(a.timesteps.float(), b.timesteps)
    with pytest.raises(DiveBenchError, match="--interval"):
        flow.probe_times(0)


def test_eps_ddpm_scores_are_bit_identical_to_the_plain_formula(dit_adapter):
    """Existing eps models: the score is exactly the former x_t / eps / weight computation."""
    g = torch.Generator().manual_seed(1)
    x0 = torch.rand(4, 1, 8, 8, generator=g) * 2 - 1
    cond = dit_adapter.embed(torch.tensor([[0], [1], [2], [3]]))
    t = torch.tensor([2, 250, 600, 998])
    noise = torch.randn(4, 1, 8, 8, generator=g)
    a = dit_adapter.schedule.alphas_cumprod[t].view(-1, 1, 1, 1)
    x_t = a.sqrt() * x0 + (1 - a).sqrt() * noise
    with torch.no_grad():
        raw = dit_adapter.transformer(x_t, timestep=t, class_labels=torch.arange(4)).sample
        plain = ((raw - noise) ** 2).flatten(1).mean(1)
        assert torch.equal(denoising_error(dit_adapter, x0, cond, t, noise), plain)
        w = ((1 - a.flatten()) / a.flatten()).clamp(max=20)
        assert torch.equal(denoising_error(dit_adapter, x0, cond, t, noise, weighting="x0"), plain * w)
    assert dit_adapter.parameterization.kind == "ddpm-eps"
    assert "parameterization" not in dit_adapter.info()  # recorded model info of eps models unchanged


def test_unet_adapter_takes_a_parameterization_too():
    from dive_bench.adapters.unet import UNetAdapter
    from dive_bench.testing import make_unet

    p = Flow()
    adapter = UNetAdapter(make_unet(), parameterization=p)
    x0, noise, t = _batch(p, n=3)
    x_t = p.add_noise(x0, noise, t)
    with torch.no_grad():
        raw = adapter.unet(x_t, 1000 * t, class_labels=torch.tensor([0, 1, 2])).sample
        eps = adapter.predict_noise(x_t, t, adapter.embed(torch.tensor([[0], [1], [2]])))
    torch.testing.assert_close(eps, x_t + (1 - t).view(-1, 1, 1, 1) * raw)
    assert adapter.info()["parameterization"]["kind"] == "flow"
    assert adapter.sample(torch.tensor([0, 1]), steps=2, scheduler="euler").shape == (2, 1, 8, 8)


@pytest.mark.parametrize("name", FAMILIES)
def test_predict_noise_maps_the_model_output_through_the_parameterization(name):
    p = family(name)
    adapter = DiTAdapter(make_dit(), parameterization=p)
    x0, noise, t = _batch(p, n=3)
    x_t = p.add_noise(x0, noise, t)
    cond = adapter.embed(torch.tensor([[0], [1], [2]]))
    x_in, t_in = p.model_inputs(x_t, t)
    with torch.no_grad():
        raw = adapter.transformer(x_in, timestep=t_in, class_labels=torch.tensor([0, 1, 2])).sample
        torch.testing.assert_close(adapter.predict_noise(x_t, t, cond), p.to_eps(x_t, t, raw))
    if name != "ddpm-eps":
        assert adapter.info()["parameterization"]["kind"] == p.kind


def test_run_key_names_the_parameterization_only_when_it_is_not_eps():
    from dive_bench.spec.runspec import RunSpec

    base = RunSpec("digits", "1", (0, 1), "abc", "enumerate", {"interval": 50})
    flow = RunSpec("digits", "1", (0, 1), "abc", "enumerate", {"interval": 50}, parameterization=Flow().describe())
    sit = RunSpec("digits", "1", (0, 1), "abc", "enumerate", {"interval": 50},
                  parameterization=Flow(1.0, True).describe())
    assert len({base.key(), flow.key(), sit.key()}) == 3
    assert "parameterization" not in base.to_json()
    assert RunSpec.from_json(flow.to_json()).key() == flow.key()
    assert RunSpec.from_json(base.to_json()).key() == base.key()


def test_unknown_parameterization_and_sampler_are_named():
    with pytest.raises(DiveBenchError, match="flow, edm"):
        from_name("score")
    with pytest.raises(DiveBenchError, match="v_prediction"):
        DDPM(_schedule(), "v")
    adapter = DiTAdapter(make_dit(), parameterization=Flow())
    with pytest.raises(DiveBenchError, match="ddim, euler, heun"):
        adapter.sample(torch.tensor([0]), steps=2, scheduler="ddpm")
    eps = DiTAdapter(make_dit())
    with pytest.raises(DiveBenchError, match="ddim, ddpm, dpm"):
        eps.sample(torch.tensor([0]), steps=2, scheduler="heun")


@pytest.mark.parametrize("name,scheduler", [("flow", "ddim"), ("flow", "heun"), ("sit", "euler"), ("edm", "euler"),
                                            ("edm", "dpm"), ("ddpm-v", "ddim")])
def test_family_samples_are_seeded_per_sample(name, scheduler):
    adapter = DiTAdapter(make_dit(), parameterization=family(name))
    labels, seeds = torch.tensor([0, 1, 2, 3]), [11, 12, 13, 14]
    together = adapter.sample(labels, steps=4, seeds=seeds, scheduler=scheduler)
    assert together.dtype == torch.uint8 and together.shape == (4, 1, 8, 8)
    alone = torch.cat([adapter.sample(labels[i:i + 1], steps=4, seeds=seeds[i:i + 1], scheduler=scheduler)
                       for i in range(4)])
    assert (together.int() - alone.int()).abs().max() <= 1
    assert not torch.equal(together[0], together[1])
    guided = adapter.sample(labels, steps=4, seeds=seeds, scheduler=scheduler, guidance_scale=3.0)
    assert not torch.equal(guided, together)


# -- tiny trained models of each family (issue 16 item 2) ------------------------------------------------

#: training steps per family: eps needs about twice as many as v / flow / EDM before its samples
#: are class-consistent (measured at this size: 8% of samples classified right at 400 steps, 72% at 800)
TRAIN_STEPS = {"ddpm-eps": 800, "ddpm-v": 400, "flow": 400, "edm": 400}


@functools.lru_cache(maxsize=None)
def _trained(name):
    from dive_bench.models.class_dit import DiTPreset
    from dive_bench.testing import train_tiny

    return train_tiny(family(name), steps=TRAIN_STEPS[name], batch_size=64, lr=1e-2,
                      preset=DiTPreset(heads=2, head_dim=16, depth=2, patch=2))


@functools.lru_cache(maxsize=None)
def _digit_reader():
    """An in-domain check for 8x8 digits: logistic regression on the train split's pixels
    (about 92% on the test split)."""
    from sklearn.linear_model import LogisticRegression

    from dive_bench.data import DATASETS

    train = DATASETS.get("digits")("train")
    return LogisticRegression(max_iter=2000).fit(train.images.reshape(len(train), -1).float().numpy() / 255,
                                                 train.labels.numpy())


@pytest.mark.slow
@pytest.mark.parametrize("name", list(TRAIN_STEPS))
def test_tiny_model_of_each_family_classifies_and_samples_digits(name, digits_test):
    from dive_bench.data.base import to_model_range

    adapter = _trained(name)
    n = 100
    x0 = adapter.encode(to_model_range(digits_test.images[:n]))
    y = digits_test.labels[:n]
    probes = ProbeSet.for_adapter(adapter, (1, 8, 8), interval=50)
    enum = torch.tensor([r.prediction for r in enumerate_classes(adapter, x0, probes, EnumerationConfig.of(interval=50))])
    dive = invert(adapter, x0, probes, DiveConfig.of(steps=20, probes_per_step=5, monitor_every=5, interval=50),
                  seeds=list(range(n)))
    dive = torch.tensor([r.labels[0] for r in dive])
    # chance is 10%; measured 66-91% (enumeration) at these budgets
    assert (enum == y).float().mean() >= 0.5 and (dive == y).float().mean() >= 0.5
    assert (enum == dive).float().mean() >= 0.8
    labels = torch.arange(10).repeat(5)
    samples = adapter.sample(labels, steps=20, scheduler="ddim")
    read = _digit_reader().predict(samples.reshape(len(samples), -1).float().numpy() / 255)
    assert (torch.from_numpy(read) == labels).float().mean() >= 0.5


def test_checkpoints_declare_their_family_through_the_scheduler_config_or_metadata(tmp_path):
    import json

    from diffusers import DDPMScheduler, EDMEulerScheduler, FlowMatchEulerDiscreteScheduler

    from dive_bench.adapters import load_model

    model = make_dit(tied=False)
    cases = {"eps": (DDPMScheduler(beta_schedule="linear"), "ddpm-eps"),
             "v": (DDPMScheduler(beta_schedule="linear", prediction_type="v_prediction"), "ddpm-v"),
             "flow": (FlowMatchEulerDiscreteScheduler(), "flow"),
             "edm": (EDMEulerScheduler(sigma_data=0.7), "edm")}
    for name, (sched, kind) in cases.items():
        folder = tmp_path / name
        model.save_pretrained(folder)
        sched.save_pretrained(folder)
        adapter = load_model(f"dit:{folder}")
        assert adapter.parameterization.kind == kind, name
    assert load_model(f"dit:{tmp_path / 'edm'}").parameterization.sigma_data == 0.7
    assert "parameterization" not in load_model(f"dit:{tmp_path / 'eps'}").info()
    # dive_bench.json wins over the scheduler: SiT's convention declared explicitly
    (tmp_path / "eps" / "dive_bench.json").write_text(json.dumps(
        {"parameterization": {"kind": "flow", "time_scale": 1.0, "data_at_one": True}}))
    declared = load_model(f"dit:{tmp_path / 'eps'}").parameterization
    assert declared.kind == "flow" and declared.data_at_one and declared.time_scale == 1.0
