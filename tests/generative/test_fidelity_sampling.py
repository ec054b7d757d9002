"""Sampling through the adapter (per-sample seeds, guidance, schedulers) and the sample cache."""

from __future__ import annotations

import pytest
import torch

from dive_bench.adapters.dit import DiTAdapter
from dive_bench.adapters.unet import UNetAdapter
from dive_bench.errors import DiveBenchError
from dive_bench.generative.sample_cache import SampleCache
from dive_bench.generative.sampling import balanced_labels, generate_samples, sample_config, sample_seed
from dive_bench.testing import make_dit, make_unet

SEEDS = [sample_seed(0, i) for i in range(6)]


@pytest.fixture(scope="module")
def dit():
    return DiTAdapter(make_dit(num_classes=5), name="tiny-dit")


@pytest.mark.parametrize("scheduler", ["ddim", "ddpm", "dpm"])
def test_samples_do_not_depend_on_batch_composition(dit, scheduler):
    labels = torch.tensor([0, 1, 2, 3, 4, 0])
    together = dit.sample(labels, steps=4, seeds=SEEDS, scheduler=scheduler)
    assert together.dtype == torch.uint8 and together.shape == (6, 1, 8, 8)
    alone = torch.cat([dit.sample(labels[i:i + 1], steps=4, seeds=SEEDS[i:i + 1], scheduler=scheduler)
                       for i in range(6)])
    # same per-sample noise streams; only float summation order may differ between batch sizes
    assert (together.int() - alone.int()).abs().max() <= 1
    # reordering the batch reorders the samples
    perm = [5, 3, 1, 0, 2, 4]
    shuffled = dit.sample(labels[perm], steps=4, seeds=[SEEDS[i] for i in perm], scheduler=scheduler)
    assert (shuffled.int() - together[perm].int()).abs().max() <= 1


def test_ddpm_noise_comes_from_each_samples_own_stream(dit):
    labels = torch.tensor([1, 1])
    a = dit.sample(labels, steps=5, seeds=[7, 8], scheduler="ddpm")
    b = dit.sample(labels, steps=5, seeds=[7, 9], scheduler="ddpm")
    assert torch.equal(a[0], b[0])          # sample 0 untouched by its neighbour's seed
    assert not torch.equal(a[1], b[1])
    # a deterministic sampler with the same initial noise differs from the ancestral one
    assert not torch.equal(dit.sample(labels, steps=5, seeds=[7, 8], scheduler="ddim"), a)


def test_labels_change_samples_and_guidance_uses_the_null_row(dit):
    null = dit.null_condition()
    table = dit._embedders[0].embedding_table.weight
    assert null is not None and torch.equal(null.view(-1), table[5])  # row num_classes
    x1 = dit.sample(torch.tensor([0, 3]), steps=4, seeds=SEEDS[:2])
    x2 = dit.sample(torch.tensor([1, 3]), steps=4, seeds=SEEDS[:2])
    assert not torch.equal(x1[0], x2[0]) and torch.equal(x1[1], x2[1])
    guided = dit.sample(torch.tensor([0, 3]), steps=4, seeds=SEEDS[:2], guidance_scale=3.0)
    assert not torch.equal(guided, x1)


def test_guidance_without_null_row_is_refused():
    unet = UNetAdapter(make_unet(num_classes=5), name="tiny-unet")
    out = unet.sample(torch.tensor([0, 1]), steps=2, seeds=[1, 2], scheduler="dpm")
    assert out.shape == (2, 1, 8, 8) and out.dtype == torch.uint8
    with pytest.raises(DiveBenchError, match="null"):
        unet.sample(torch.tensor([0, 1]), steps=2, seeds=[1, 2], guidance_scale=2.0)
    with_null = UNetAdapter(make_unet(num_classes=5), null_class_index=4, name="tiny-unet-cfg")
    assert torch.equal(with_null.null_condition().view(-1), with_null.unet.class_embedding.weight[4])
    assert with_null.sample(torch.tensor([0, 1]), steps=2, seeds=[1, 2], guidance_scale=2.0).shape == (2, 1, 8, 8)


def test_layout_adapter_samples_from_layout_tokens():
    from dive_bench.adapters.layout import LayoutAdapter
    from dive_bench.models.layout_dit import LayoutDiT
    from dive_bench.labels import LayoutTokenizer

    tok = LayoutTokenizer((1, 2, 3), grid=17, max_objects=3, image_size=32)
    torch.manual_seed(0)
    model = LayoutDiT(width=32, depth=1, heads=2, slot_dim=16)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    adapter = LayoutAdapter(model, tok)
    layout = tok.encode([{"category_id": 2, "bbox": [4, 4, 12, 12]}])
    labels = torch.stack([layout, tok.empty()])
    out = adapter.sample(labels, steps=2, seeds=[1, 2], guidance_scale=2.0)
    assert out.shape == (2, *adapter.image_shape) and out.dtype == torch.uint8
    # the all-[none] layout is the unconditional condition: guiding it changes nothing
    plain = adapter.sample(labels[1:], steps=2, seeds=[2])
    assert (out[1:].int() - plain.int()).abs().max() <= 1


def test_balanced_labels_and_seeds_are_order_free():
    assert balanced_labels(range(20), 10).bincount().tolist() == [2] * 10
    assert balanced_labels([13], 10).item() == 3
    assert sample_seed(0, 5) == sample_seed(0, 5) != sample_seed(1, 5) != sample_seed(0, 6)


def _cache(dit, folder, **overrides):
    cfg = sample_config(dit, sampler="ddim", steps=3, guidance_scale=1.0, seed=0)
    return SampleCache(folder, {**cfg, **overrides})


def test_sample_cache_resumes_only_missing_indices(dit, tmp_path):
    def labels_for(idx):
        return balanced_labels(idx, 5)

    cache = _cache(dit, tmp_path / "a")
    assert generate_samples(dit, cache, 6, labels_for=labels_for, batch_size=4, progress=False) == 6
    before = {i: cache.path(i).read_bytes() for i in range(6)}
    mtimes = {i: cache.path(i).stat().st_mtime_ns for i in range(6)}
    again = _cache(dit, tmp_path / "a")  # a new process pointed at the same folder
    assert again.missing(10) == [6, 7, 8, 9]
    assert generate_samples(dit, again, 10, labels_for=labels_for, batch_size=3, progress=False) == 4
    assert all(again.path(i).stat().st_mtime_ns == mtimes[i] and again.path(i).read_bytes() == before[i] for i in range(6))
    assert again.manifest["generated"] == 10 and again.seconds_per_sample > 0
    assert generate_samples(dit, again, 10, labels_for=labels_for, progress=False) == 0
    # resumed samples equal a fresh uninterrupted run with another batch size
    fresh = _cache(dit, tmp_path / "b")
    generate_samples(dit, fresh, 10, labels_for=labels_for, batch_size=10, progress=False)
    assert (again.load(10).int() - fresh.load(10).int()).abs().max() <= 1


def test_sample_cache_refuses_another_configuration(dit, tmp_path):
    _cache(dit, tmp_path)
    with pytest.raises(DiveBenchError, match=r"another configuration.*steps: folder has 3, requested 50"):
        _cache(dit, tmp_path, steps=50)
    other = DiTAdapter(make_dit(num_classes=5, seed=1), name="tiny-dit")
    with pytest.raises(DiveBenchError, match="model_sha256"):
        SampleCache(tmp_path, sample_config(other, sampler="ddim", steps=3, guidance_scale=1.0, seed=0))


def test_sample_cache_ignores_partial_files(dit, tmp_path):
    cache = _cache(dit, tmp_path)
    (tmp_path / ".000000.png.tmp-123").write_bytes(b"partial")
    assert cache.missing(2) == [0, 1]
    with pytest.raises(DiveBenchError, match="missing"):
        cache.load(2)


def test_layout_fidelity_samples_from_reference_layouts(tmp_path):
    """Layout models are conditioned on the reference split's own layouts; class models refuse a
    layout reference and layout models a plain image set."""
    from dive_bench.adapters.layout import LayoutAdapter
    from dive_bench.run.fidelity import FidelityRequest, load_reference, run_fidelity
    from dive_bench.models.layout_dit import LayoutDiT
    from dive_bench.tasks import TASKS
    from dive_bench.labels import LayoutTokenizer

    tok = LayoutTokenizer((1, 2, 3), grid=17, max_objects=3, image_size=32)
    torch.manual_seed(0)
    adapter = LayoutAdapter(LayoutDiT(width=32, depth=1, heads=2, slot_dim=16), tok, name="tiny-layout")
    ref = load_reference("canvas-det", adapter=adapter)
    assert ref.layouts is not None and ref.layouts.shape == (len(ref.images), tok.num_slots)
    assert torch.equal(ref.layouts[0], tok.encode(TASKS.get("canvas-det").load().annotations[0]))
    req = FidelityRequest(model="tiny-layout", reference="canvas-det", num_samples=6, steps=2,
                          feature_extractor="fmnist-classifier", out=tmp_path / "run", cache_dir=str(tmp_path / "c"),
                          progress=False)
    run = run_fidelity(req, adapter=adapter)
    assert run["method_config"]["labels"].startswith("reference-layouts:canvas-det:")
    assert run["metrics"]["fd_fmnist"]["n_generated"] == 6 and run["reference"]["n"] == len(ref.images)
    with pytest.raises(DiveBenchError, match="layout"):
        load_reference("fmnist", adapter=adapter)
    with pytest.raises(DiveBenchError, match="class-conditional"):
        load_reference("canvas-det", adapter=DiTAdapter(make_dit(), name="tiny-dit"))
