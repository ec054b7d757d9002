"""DIVE: invert a frozen conditional diffusion model by optimising its condition embedding.

Per image, a learnable tensor of L condition slots is snapped in the forward pass to its nearest
vocabulary entry with a straight-through gradient, ``snap(e) = (NN(e) - e).detach() + e``, and
optimised with AdamW to minimise the denoising error on probes drawn in shuffled order. Every
``monitor_every`` steps a monitor pass scores the *snapped* labels on all probes; the prediction
is the snapped labels at the best monitor value, as in the released DIVE code (the labels at the
last step are much worse). Because the snapped condition equals ``adapter.embed(labels)``, the
monitor value of a label is exactly enumeration's score for it; monitor values are therefore
cached per label and a revisited label costs nothing.

Images are inverted together (one forward over N images x batch probes) but are independent: the
loss is a sum of per-image terms, AdamW is element-wise, each image has its own generator for
init and probe order, and stopped images are frozen.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from dive_bench.adapters.base import Adapter
from dive_bench.errors import DiveBenchError, NonFiniteError
from dive_bench.spec.configs import INITS, DiveConfig, EnumerationConfig  # noqa: F401  (re-exported: the config lives in configs.py)
from dive_bench.inversion.cost import scaled_stages
from dive_bench.labels import layout_tokenizer
from dive_bench.inversion.layout.repairs import neighbour_repairs, prior_repairs
from dive_bench.inversion.enumerate import enumerate_classes
from dive_bench.inversion.probes import ProbeSet, chunked_errors, denoising_error

@dataclass
class InversionResult:
    labels: list[int]
    best_monitor: float
    best_step: int
    steps_run: int
    evaluations: int
    monitor_curve: list[tuple[int, float]] = field(default_factory=list)
    visited: list[list[int]] = field(default_factory=list)
    stopped_early: bool = False


def distances(e: torch.Tensor, table: torch.Tensor, snap_distance: str) -> torch.Tensor:
    """(M, V) snapping distance from each row of ``e`` (M, D) to each table row (smaller = nearer):
    exact l2, or minus the cosine similarity."""
    if snap_distance == "l2":
        return torch.cdist(e.float(), table.float(), compute_mode="donot_use_mm_for_euclid_dist")
    if snap_distance == "cosine":
        return -(F.normalize(e.float(), dim=-1) @ F.normalize(table.float(), dim=-1).T)
    raise ValueError(f"unknown snapping distance {snap_distance!r}; use l2 or cosine")


def nearest(e: torch.Tensor, table: torch.Tensor, snap_distance: str) -> torch.Tensor:
    """Index of the nearest table row for each row of ``e`` (M, D)."""
    return distances(e, table, snap_distance).argmin(-1)


class _Snapper:
    """Nearest-entry lookup per slot kind (slots of one kind share one table)."""

    def __init__(self, adapter: Adapter, snap_distance: str) -> None:
        self.vocab = adapter.vocabulary
        self.kinds = adapter.slot_kinds
        self.snap_distance = snap_distance
        self.groups = {k: [i for i, s in enumerate(self.kinds) if s == k] for k in dict.fromkeys(self.kinds)}

    def labels(self, e: torch.Tensor) -> torch.Tensor:
        out = torch.empty(e.shape[:2], dtype=torch.long, device=e.device)
        for kind, slots in self.groups.items():
            sub = e[:, slots].reshape(-1, e.shape[-1])
            out[:, slots] = nearest(sub, self.vocab[kind], self.snap_distance).view(len(e), len(slots))
        return out

    def lookup(self, labels: torch.Tensor) -> torch.Tensor:
        out = torch.empty((*labels.shape, next(iter(self.vocab.values())).shape[-1]),
                          device=labels.device, dtype=next(iter(self.vocab.values())).dtype)
        for kind, slots in self.groups.items():
            out[:, slots] = self.vocab[kind][labels[:, slots]]
        return out

    def straight_through(self, e: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """``e`` snapped to its nearest entries (``labels`` when already computed) with the
        straight-through gradient."""
        snapped = self.lookup(self.labels(e.detach()) if labels is None else labels).to(e.dtype)
        return (snapped - e).detach() + e


def _init_slots(adapter: Adapter, n: int, generators: list[torch.Generator], init: str) -> torch.Tensor:
    kinds = adapter.slot_kinds
    vocab = adapter.vocabulary
    d = next(iter(vocab.values())).shape[-1]
    e = torch.empty((n, len(kinds), d))
    for s, kind in enumerate(kinds):
        table = vocab[kind].float().cpu()
        if init == "gaussian":
            mean, std = float(table.mean()), float(table.std())
            for i, g in enumerate(generators):
                e[i, s] = torch.randn(d, generator=g) * std + mean
        elif init == "mean":
            e[:, s] = table.mean(0)
        elif init == "none":
            none_index = getattr(adapter, "none_index", None)
            if not none_index:
                raise DiveBenchError(f"init 'none' needs a vocabulary with a [none] entry; {adapter.name!r} has none")
            e[:, s] = table[none_index[kind]]
        else:
            raise ValueError(f"unknown init {init!r}; use gaussian, mean or none")
    return e


def invert(adapter: Adapter, x0: torch.Tensor, probes: ProbeSet, config: DiveConfig,
           seeds: list[int], progress: bool = False, init_labels: torch.Tensor | None = None) -> list[InversionResult]:
    """Run DIVE on a batch of encoded images ``x0`` (N, ...), one seed per image."""
    n = len(x0)
    _check_inputs(adapter, config, n, seeds)
    device = x0.device
    p, b = len(probes), min(config.probes_per_step, len(probes))
    snapper = _Snapper(adapter, config.snap_distance)
    vocab_all = torch.cat([v.flatten() for v in adapter.vocabulary.values()]).float()
    lr = config.lr if config.lr is not None else 0.5 * float(vocab_all.std())
    gens = [torch.Generator().manual_seed(int(s)) for s in seeds]
    slots = _start(adapter, config, snapper, gens, init_labels, device)
    opt = torch.optim.AdamW([slots], lr=lr, weight_decay=config.weight_decay)
    order = _ProbeOrder(p, b, gens)
    active = torch.ones(n, dtype=torch.bool)
    best = [float("inf")] * n
    best_labels = [snapper.labels(slots.detach()[i:i + 1])[0].tolist() for i in range(n)]
    best_step, since_best, steps_run, evals = [0] * n, [0] * n, [0] * n, [0] * n
    curves: list[list[tuple[int, float]]] = [[] for _ in range(n)]
    visited: list[dict[tuple[int, ...], None]] = [{} for _ in range(n)]
    cache: list[dict[tuple[int, ...], float]] = [{} for _ in range(n)]

    prior_draws = _fixed_prior_draws(adapter, config, tuple(slots.shape[1:]), device)

    def monitor(act: list[int], step: int) -> None:
        values, labels = _monitor(adapter, x0, slots.detach(), act, probes, config, snapper, cache, evals, prior_draws)
        if config.snap and ((config.search.prior_repairs and config.prior.weight > 0) or config.search.neighbour_repairs):
            _repair(adapter, x0, slots, act, values, labels, probes, config, snapper, cache, evals, prior_draws)
        for i in act:
            curves[i].append((step, values[i]))
            if values[i] < best[i]:
                best[i], best_labels[i], best_step[i], since_best[i] = values[i], labels[i], step, 0
            else:
                since_best[i] += 1
                if config.patience is not None and since_best[i] >= config.patience:
                    active[i] = False

    if config.init == "labels":  # a given start is itself a candidate answer
        monitor(list(range(n)), 0)
    bar = tqdm(range(1, config.steps + 1), disable=not progress, desc="DIVE", leave=False)
    for step in bar:
        act = active.nonzero().flatten().tolist()
        if not act:
            break
        idx = torch.stack([order.next(i) for i in act]).to(device)          # (A, B)
        act_t = torch.tensor(act, device=device)
        e = slots[act_t]
        snapped = snapper.labels(e.detach())  # once per step: the nearest-entry search is the harness's main cost
        cond = snapper.straight_through(e, snapped) if config.snap else e
        for row, i in zip(snapped.tolist(), act):
            visited[i].setdefault(tuple(row), None)
        loss = _step_loss(adapter, x0[act_t], cond, act, idx, probes, config, gens, step)
        frozen = slots.detach()[~active.to(device)].clone()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if (~active).any():
            with torch.no_grad():
                slots[~active.to(device)] = frozen
        for i in act:
            evals[i] += 3 * b  # a backward pass counts as two forwards
            steps_run[i] = step
        if step % config.monitor_every == 0 or step == config.steps:
            monitor(act, step)
    if config.verify:  # (DiveConfig.check refuses verify without snapping)
        for i, (value, labels) in _verify(adapter, x0, slots.detach(), probes, config, snapper, cache, evals).items():
            if value < best[i]:
                best[i], best_labels[i] = value, labels
    return [InversionResult(labels=list(best_labels[i]), best_monitor=best[i], best_step=best_step[i],
                            steps_run=steps_run[i], evaluations=evals[i], monitor_curve=curves[i],
                            visited=[list(v) for v in visited[i]],
                            stopped_early=steps_run[i] < config.steps) for i in range(n)]


def _step_loss(adapter: Adapter, x0: torch.Tensor, cond: torch.Tensor, act: list[int], idx: torch.Tensor,
               probes: ProbeSet, config: DiveConfig, gens: list[torch.Generator], step: int) -> torch.Tensor:
    """The loss one optimiser step descends: each active image's denoising error at its B sampled
    probes ``idx`` (A, B), averaged per image and summed, plus the weighted prior. Apart from
    ``invert`` so the loop reads as sample, score, step; a non-finite loss is refused here, naming the step."""
    b = idx.shape[1]
    err = denoising_error(adapter, x0.repeat_interleave(b, 0), cond.repeat_interleave(b, 0),
                          probes.timesteps[idx.flatten()], probes.noise[idx.flatten()], config.probes.loss,
                          config.probes.weighting).view(len(act), b)
    loss = err.mean(1).sum()
    if config.prior.weight > 0:
        loss = loss + config.prior.weight * _prior_term(adapter, cond, act, gens, config)
    if not torch.isfinite(loss):
        raise NonFiniteError(f"DIVE loss became {float(loss)} at step {step}; the model produces "
                             "non-finite outputs for these inputs (check dtype/autocast and the checkpoint)")
    return loss


def _start(adapter: Adapter, config: DiveConfig, snapper: _Snapper, gens: list[torch.Generator],
           init_labels: torch.Tensor | None, device: torch.device) -> torch.nn.Parameter:
    """The learnable slots at step 0: the given labels' entries (``init="labels"``) or the init."""
    n = len(gens)
    if config.init == "labels":
        if init_labels is None or init_labels.shape[0] != n:
            raise ValueError("init 'labels' needs init_labels of shape (N, L)")
        return torch.nn.Parameter(snapper.lookup(init_labels.to(device)).float().clone())
    return torch.nn.Parameter(_init_slots(adapter, n, gens, config.init).to(device))


class _ProbeOrder:
    """Each image's probes in shuffled passes of ``b`` (its own generator: independent of the
    other images in the batch)."""

    def __init__(self, p: int, b: int, gens: list[torch.Generator]) -> None:
        self.p, self.b, self.gens = p, b, gens
        self.perms = [torch.randperm(p, generator=g) for g in gens]
        self.cursor = [0] * len(gens)

    def next(self, i: int) -> torch.Tensor:
        if self.cursor[i] + self.b > self.p:  # a new shuffled pass over the probes
            self.perms[i] = torch.randperm(self.p, generator=self.gens[i])
            self.cursor[i] = 0
        idx = self.perms[i][self.cursor[i]:self.cursor[i] + self.b]
        self.cursor[i] += self.b
        return idx


def _check_inputs(adapter: Adapter, config: DiveConfig, n: int, seeds: list[int]) -> None:
    if len(seeds) != n:
        raise ValueError(f"need one seed per image: {n} images, {len(seeds)} seeds")
    check_config(adapter, config)


def check_config(adapter: Adapter, config: DiveConfig) -> None:
    """Options this adapter cannot run (checked before a run stores anything)."""
    if config.prior.weight > 0 and config.prior.probes < 1:
        raise DiveBenchError(f"prior_probes must be at least 1 (got {config.prior.probes}); use --prior-weight 0 "
                             "to switch the prior off")
    if config.verify and (len(adapter.slot_kinds) != 1 or "class" not in adapter.vocabulary):
        raise DiveBenchError(f"--verify scores the classes nearest a single class embedding; {adapter.name!r} has "
                             f"{len(adapter.slot_kinds)} condition slots. Drop --verify")
    if config.search.neighbour_repairs and layout_tokenizer(adapter) is None:
        raise DiveBenchError(f"neighbour repairs move box sides, so they need a layout model; {adapter.name!r} is "
                             "class-conditional. Drop --neighbour-repairs")


def _prior_term(adapter: Adapter, cond: torch.Tensor, act: list[int], gens: list[torch.Generator],
                config: DiveConfig) -> torch.Tensor:
    """Sum over active images of the mean prior loss over ``prior_probes`` fresh (t, noise) draws,
    drawn from each image's own generator (a prior that noises a subset of slots also draws which
    ones, after t and noise)."""
    device, k = cond.device, config.prior.probes
    draw_mask = getattr(adapter, "prior_mask", lambda variant, generator: None)
    draws = [(torch.randint(0, adapter.schedule.num_train_timesteps, (), generator=gens[i]),
              torch.randn(cond.shape[1:], generator=gens[i]), draw_mask(config.prior.structure, gens[i]))
             for i in act for _ in range(k)]
    t_p = torch.stack([t for t, _, _ in draws]).to(device)
    noise_p = torch.stack([n for _, n, _ in draws]).to(device)
    masks = [m for _, _, m in draws]
    extra = {} if masks[0] is None else {"mask": torch.stack(masks).to(device)}
    prior_err = adapter.prior_loss(cond.repeat_interleave(k, 0), t_p, noise_p, config.prior.structure, **extra)
    return prior_err.view(len(act), k).mean(1).sum()


def _repair(adapter: Adapter, x0: torch.Tensor, slots: torch.Tensor, act: list[int], values: dict, labels: dict,
            probes: ProbeSet, config: DiveConfig, snapper: _Snapper, cache: list[dict], evals: list[int],
            prior_draws: dict | None) -> None:
    """Layouts: score each active image's one-slot repairs (prior and/or neighbour proposals) like
    any visited layout, and continue the search from the best if it beats the current one
    (updates ``values``, ``labels`` and the image's slots in place)."""
    for i in act:
        cands = _repair_candidates(adapter, torch.tensor(labels[i]), config)
        if not cands:
            continue
        emb = snapper.lookup(torch.stack(cands).to(x0.device)).float()
        cand_evals = [0] * len(cands)
        vals, labs = _monitor(adapter, x0[i:i + 1].expand(len(cands), *x0.shape[1:]), emb, list(range(len(cands))),
                              probes, config, snapper, [cache[i]] * len(cands), cand_evals, prior_draws)
        evals[i] += sum(cand_evals)
        j = min(vals, key=vals.get)
        if vals[j] < values[i]:  # continue the search from the repaired layout
            values[i], labels[i] = vals[j], labs[j]
            with torch.no_grad():
                slots[i] = emb[j]


def _verify(adapter: Adapter, x0: torch.Tensor, slots: torch.Tensor, probes: ProbeSet, config: DiveConfig,
            snapper: _Snapper, cache: list[dict], evals: list[int]) -> dict[int, tuple[float, list[int]]]:
    """Score the ``config.verify`` entries nearest to each image's final embedding on all probes;
    returns each image's best (monitor value, labels) among them."""
    table = adapter.vocabulary["class"]
    m = min(config.verify, len(table))
    out = {}
    for i in range(len(x0)):
        dist = distances(slots[i, 0:1], table, config.snap_distance)[0]
        nearest_m = dist.topk(m, largest=False).indices
        if config.verify_schedule == "dc":
            out[i] = _verify_staged(adapter, x0[i:i + 1], nearest_m.tolist(), probes, config, evals, i)
            continue
        emb = table[nearest_m].unsqueeze(1).float()
        spent = [0] * m
        vals, labs = _monitor(adapter, x0[i:i + 1].expand(m, *x0.shape[1:]), emb, list(range(m)), probes, config,
                              snapper, [cache[i]] * m, spent)
        evals[i] += sum(spent)
        j = min(vals, key=vals.get)
        out[i] = (vals[j], labs[j])
    return out


def _verify_staged(adapter: Adapter, x0: torch.Tensor, candidates: list[int], probes: ProbeSet, config: DiveConfig,
                   evals: list[int], i: int) -> tuple[float, list[int]]:
    """Verify by staged pruning: Diffusion Classifier's schedule scaled to the candidates and the
    probes; its last stage scores the survivor on all probes, so the value is a monitor value."""
    stages = scaled_stages(len(candidates), len(probes))
    enum = EnumerationConfig(probes=config.probes, eval_batch=config.eval_batch, stages=stages)
    r = enumerate_classes(adapter, x0, probes, enum, candidates=[candidates])[0]
    evals[i] += r.evaluations
    return r.scores[r.prediction], [r.prediction]


def _repair_candidates(adapter, labels: torch.Tensor, config: DiveConfig) -> list[torch.Tensor]:
    """The one-slot edits a monitor pass scores besides the current layout, without duplicates."""
    cands = []
    if config.search.prior_repairs and config.prior.weight > 0:
        cands += prior_repairs(adapter, labels, config.prior.structure)
    if config.search.neighbour_repairs:
        cands += neighbour_repairs(adapter, labels)
    unique = {tuple(c.tolist()): c for c in cands}
    return list(unique.values())


#: fixed prior draws per monitored layout (prior_in_monitor): with a quarter of the slots noised
#: per draw, each slot is scored about 8 times
MONITOR_PRIOR_DRAWS = 32


def _fixed_prior_draws(adapter, config: DiveConfig, slot_shape: tuple[int, ...], device) -> dict | None:
    """The (t, noise[, mask]) draws the monitor scores every layout with: one set for all images
    and steps (from ``probe_seed``), so a layout's monitor value is a fixed number, as it is for
    the image term."""
    if not (config.prior.in_monitor and config.prior.weight > 0):
        return None
    g = torch.Generator().manual_seed(config.probes.probe_seed + 7919)
    k = MONITOR_PRIOR_DRAWS
    t = torch.randint(0, adapter.schedule.num_train_timesteps, (k,), generator=g)
    noise = torch.randn((k, *slot_shape), generator=g)
    masks = [adapter.prior_mask(config.prior.structure, g) for _ in range(k)] if hasattr(adapter, "prior_mask") else [None]
    extra = {} if masks[0] is None else {"mask": torch.stack(masks).to(device)}
    return {"t": t.to(device), "noise": noise.to(device), **extra}


@torch.no_grad()
def _monitor(adapter: Adapter, x0: torch.Tensor, slots: torch.Tensor, act: list[int], probes: ProbeSet,
             config: DiveConfig, snapper: _Snapper, cache: list[dict], evals: list[int], prior_draws: dict | None = None):
    """Mean error over all probes for each active image's current snapped labels (cached), plus
    the weighted prior error over ``prior_draws`` when given."""
    p = len(probes)
    labels_all = snapper.labels(slots)
    values: dict[int, float] = {}
    labels: dict[int, list[int]] = {}
    todo = []
    for i in act:
        key = tuple(labels_all[i].tolist())
        labels[i] = list(key)
        if config.snap and key in cache[i]:
            values[i] = cache[i][key]
        else:
            todo.append(i)
    if todo:
        conds = snapper.lookup(labels_all[todo]) if config.snap else slots[todo]
        sums = torch.zeros(len(todo), dtype=torch.float64)
        triples = torch.tensor([(i, r, j) for r, i in enumerate(todo) for j in range(p)], dtype=torch.long)
        for part, err in chunked_errors(adapter, x0, conds, triples, probes, config.eval_batch, config.probes.loss,
                                        config.probes.weighting):
            sums.index_add_(0, part[:, 1], err)
        if prior_draws is not None:
            k = len(prior_draws["t"])
            perr = adapter.prior_loss(conds.repeat_interleave(k, 0), prior_draws["t"].repeat(len(todo)),
                                      prior_draws["noise"].repeat(len(todo), 1, 1), config.prior.structure,
                                      **({"mask": prior_draws["mask"].repeat(len(todo), 1)} if "mask" in prior_draws else {}))
            sums += config.prior.weight * p * perr.double().cpu().view(len(todo), k).mean(1)
        for r, i in enumerate(todo):
            values[i] = float(sums[r] / p)
            evals[i] += p
            if config.snap:
                cache[i][tuple(labels[i])] = values[i]
    return values, labels
