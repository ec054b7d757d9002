"""How well DIVE orders models as a generative metric does, with its uncertainty (``dive-bench compare``).

The paper says in words that DIVE ranks models as FID does. ``compare`` says it with a number below
each table: Kendall's tau-b and Spearman's rho between the rows' DIVE scores and each fidelity
metric, both oriented so that +1 means the same ordering (lower FD and higher accuracy are both
"better"), with a 95% percentile bootstrap interval. One bootstrap replicate resamples

- the test images, with replacement, the SAME images for every model: all rows were scored on one
  item set, so an image's difficulty is shared and must be resampled jointly. Accuracy comes from
  the per-item outcomes run.json stores, COCO AP from the per-image boxes it stores;
- each model's generated samples, independently per model (each model drew its own): replicate b of
  a model's FD is one of the replicates its fidelity run stored (``fidelity --bootstrap B``), drawn
  at random and re-centred on the full-sample value, because a resample with replacement repeats
  samples, which raises FD by about tr(cov)/N, by a different amount for each model. Runs that
  store no replicates contribute their point value, and the table says the interval resamples
  DIVE images only. The reference images are shared by every model and are not resampled.

Each pair of models also gets its DIVE difference on the images both scored with a paired test:
exact two-sided McNemar (accuracy, ``stats.mcnemar_exact``) or a paired image bootstrap (AP,
``metrics.coco.paired_ap_drops``).

The rank correlations are written here, vectorised over replicates, instead of calling
``scipy.stats``: its ``kendalltau`` takes one pair of vectors per call (thousands of calls per
table) and importing scipy.stats takes over a second, where this command must start fast. The
tests check both functions against hand-computed values and against scipy.stats.
This module imports no torch.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dive_bench.spec.result import RunResult
from dive_bench.metrics.stats import mcnemar_exact
from dive_bench.report.tables import markdown_table

#: fewer models than this give no rank correlation worth printing (tau of 2 models is +-1)
MIN_MODELS = 3
#: at most this many replicates where each is a COCOeval per model (a few hundredths of a second each)
AP_BOOT = 200


# -- rank correlations -------------------------------------------------------------------------

def average_ranks(a: np.ndarray) -> np.ndarray:
    """1-based ranks along the last axis, ties sharing their average rank (as Spearman's rho needs)."""
    a = np.asarray(a, dtype=float)
    less = (a[..., None, :] < a[..., :, None]).sum(-1)
    equal = (a[..., None, :] == a[..., :, None]).sum(-1)  # counts the element itself
    return less + (equal + 1) / 2


def _pair_signs(a: np.ndarray) -> np.ndarray:
    i, j = np.triu_indices(a.shape[-1], 1)
    return np.sign(a[..., i] - a[..., j])


def kendall_tau_b(x: np.ndarray | Sequence[float], y: np.ndarray | Sequence[float]) -> np.ndarray:
    """Kendall's tau-b along the last axis (ties in either variable corrected for); NaN where one
    side is constant. tau-b = sum of sign products over pairs / sqrt(untied pairs in x * in y)."""
    sx, sy = _pair_signs(np.asarray(x, dtype=float)), _pair_signs(np.asarray(y, dtype=float))
    with np.errstate(invalid="ignore", divide="ignore"):
        return (sx * sy).sum(-1) / np.sqrt((sx * sx).sum(-1) * (sy * sy).sum(-1))


def spearman_rho(x: np.ndarray | Sequence[float], y: np.ndarray | Sequence[float]) -> np.ndarray:
    """Spearman's rho along the last axis: Pearson's r of the average ranks; NaN where one side is constant."""
    rx, ry = average_ranks(x), average_ranks(y)
    rx = rx - rx.mean(-1, keepdims=True)
    ry = ry - ry.mean(-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (rx * ry).sum(-1) / np.sqrt((rx * rx).sum(-1) * (ry * ry).sum(-1))


def percentile_interval(values: np.ndarray) -> tuple[float, float] | None:
    """95% percentile interval of the finite replicates (None when there are none)."""
    values = np.asarray(values, dtype=float)
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return None
    low, high = np.percentile(finite, [2.5, 97.5])
    return float(low), float(high)


# -- bootstrap replicates ----------------------------------------------------------------------

def image_outcomes(runs: Sequence[RunResult]) -> tuple[str, list, object] | str:
    """What DIVE's side of the bootstrap resamples: ("accuracy", shared item ids, (models, items)
    0/1 array) or ("ap", shared item ids, (ground truth, [detections per model])); a string saying
    why not (a run without per-item outcomes, no shared images)."""
    for r in runs:
        if not r.item_ids:
            return f"`{r.model}`'s run stores no per-item outcomes (items)"
    tables = [r.outcomes() for r in runs]
    shared = sorted(set.intersection(*(set(t) for t in tables)))
    if not shared:
        return "the runs share no scored image"
    if isinstance(tables[0][shared[0]][1], dict):  # per-image targets: a detection task
        from dive_bench.metrics.coco import detections_of, ground_truth_of

        labels = [tables[0][i][1] for i in shared]
        predictions = [[t[i][0] for i in shared] for t in tables]
        return "ap", shared, (ground_truth_of(labels, *predictions), [detections_of(p, labels) for p in predictions])
    return "accuracy", shared, np.array([[t[i][0] == t[i][1] for i in shared] for t in tables], dtype=float)


def dive_replicates(kind: str, data: object, n_items: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """(replicates, models): each model's score on the same resampled images in each replicate."""
    if kind == "accuracy":
        idx = rng.integers(0, n_items, size=(n_boot, n_items))
        return np.asarray(data)[:, idx].mean(-1).T
    from dive_bench.metrics.coco import coco_ap, resample_images

    gt, detections = data
    idx = rng.integers(0, n_items, size=(min(n_boot, AP_BOOT), n_items))
    out = np.empty((len(idx), len(detections)))
    for b, rows in enumerate(idx):
        for m, dets in enumerate(detections):
            out[b, m] = coco_ap(*resample_images(gt, dets, rows))["ap"]
    out[out < 0] = np.nan  # -1: no ground truth in this resample
    return out


def fidelity_replicates(stored: Sequence[Sequence[float]], values: Sequence[float], n_boot: int,
                        rng: np.random.Generator) -> np.ndarray:
    """(replicates, models): per model, stored replicates drawn at random (models independent),
    re-centred on the full-sample value (see the module docstring)."""
    out = np.empty((n_boot, len(values)))
    for m, (reps, value) in enumerate(zip(stored, values)):
        reps = np.asarray(reps, dtype=float)
        out[:, m] = rng.choice(reps - reps.mean() + value, size=n_boot)
    return out


def stored_replicates(fidelity_runs: Sequence[RunResult], metric: str) -> list[list[float]] | None:
    """Every run's stored replicates of ``metric`` (at least 2 each), else None."""
    reps = [r.bootstrap(metric) for r in fidelity_runs]
    return reps if all(isinstance(x, list) and len(x) >= 2 for x in reps) else None


# -- Markdown ----------------------------------------------------------------------------------

def _oriented(values: np.ndarray, higher_is_better: bool) -> np.ndarray:
    return values if higher_is_better else -values


def _fmt_ci(point: float, ci: tuple[float, float] | None) -> str:
    return f"{point:+.2f}" + (f" [{ci[0]:+.2f}, {ci[1]:+.2f}]" if ci else "")


def agreement_section(score_runs: list[RunResult | None], fidelity_runs: list[RunResult | None], metrics: dict[str, bool],
                      score_higher: bool, n_boot: int, seed: int, score_name: str = "DIVE") -> list[str]:
    """Lines below a table: tau and rho of the score column against each fidelity column in ``metrics``
    (name -> higher is better), over the rows that have both, with their bootstrap intervals."""
    if not metrics:
        return []
    head = f"Agreement with the {score_name} ordering (Kendall's tau-b and Spearman's rho over the models)"
    both = [i for i, (s, f) in enumerate(zip(score_runs, fidelity_runs)) if s is not None and f is not None]
    if len(both) < MIN_MODELS:
        return [f"{head}: n/a (needs >= {MIN_MODELS} models); this table has {len(both)} with both a {score_name} "
                "score and fidelity metrics."]
    runs, fids = [score_runs[i] for i in both], [fidelity_runs[i] for i in both]
    rng = np.random.default_rng(seed)
    x = _oriented(np.array([_score(r) for r in runs]), score_higher)
    outcomes = image_outcomes(runs)
    x_reps, dive_note = None, f"{score_name} images are not resampled ({outcomes})"
    if not isinstance(outcomes, str):
        kind, shared, data = outcomes
        x_reps = _oriented(dive_replicates(kind, data, len(shared), n_boot, rng), score_higher)
        dive_note = (f"each replicate resamples the {len(shared)} shared {score_name} images ({len(x_reps)} "
                     "replicates, the same images for every model)")
    rows = []
    for metric, higher in metrics.items():
        values = [f.value(metric) for f in fids]
        if any(v is None for v in values):
            continue
        y = _oriented(np.array(values, dtype=float), higher)
        stored = stored_replicates(fids, metric)
        b = len(x_reps) if x_reps is not None else n_boot
        y_reps = _oriented(fidelity_replicates(stored, values, b, rng), higher) if stored else None
        ci_tau = ci_rho = None
        if x_reps is not None or y_reps is not None:
            xr = x_reps if x_reps is not None else np.broadcast_to(x, (b, len(x)))
            yr = y_reps if y_reps is not None else np.broadcast_to(y, (b, len(y)))
            ci_tau, ci_rho = percentile_interval(kendall_tau_b(xr, yr)), percentile_interval(spearman_rho(xr, yr))
        samples = (f"yes: one of each model's {min(len(s) for s in stored)}+ stored replicates" if stored
                   else "no: not stored by these fidelity runs (interval over images only)")
        if x_reps is None and y_reps is None:
            samples = "no (and no interval)"
        rows.append({"Metric": f"{metric} ({'higher' if higher else 'lower'} is better)", "Models": str(len(both)),
                     "Kendall's tau-b [95% CI]": _fmt_ci(float(kendall_tau_b(x, y)), ci_tau),
                     "Spearman's rho [95% CI]": _fmt_ci(float(spearman_rho(x, y)), ci_rho),
                     "Generated samples resampled": samples})
    columns = ["Metric", "Models", "Kendall's tau-b [95% CI]", "Spearman's rho [95% CI]", "Generated samples resampled"]
    return [f"{head}: +1 is the same ordering, each metric read in its better direction; 95% percentile "
            f"bootstrap intervals, {dive_note}.", "", markdown_table(columns, rows)]


def _score(run: RunResult) -> float:
    primary = run.primary
    return float(primary[1]["value"]) if primary else float("nan")


def pairwise_section(names: list[str], score_runs: list[RunResult | None], n_boot: int, seed: int,
                     score_name: str = "DIVE") -> list[str]:
    """Lines: every pair of rows' score difference on their shared images, with its paired test."""
    present = [(n, r) for n, r in zip(names, score_runs) if r is not None]
    rows = []
    for i, (name_a, a) in enumerate(present):
        for name_b, b in present[i + 1:]:
            rows.append({"Models (A vs B)": f"{name_a} vs {name_b}", **_paired(a, b, n_boot, seed)})
    if not rows:
        return []
    columns = ["Models (A vs B)", "A - B (points)", "Shared images", "Paired test"]
    return [f"Pairwise {score_name} differences on the images both models scored (two-sided tests, not adjusted for "
            "multiple comparisons):", "", markdown_table(columns, rows)]


def _paired(a: RunResult, b: RunResult, n_boot: int, seed: int) -> dict[str, str]:
    outcomes = image_outcomes([a, b])
    if isinstance(outcomes, str):
        return {"Paired test": f"n/a: {outcomes}"}
    kind, shared, data = outcomes
    if kind == "accuracy":
        only_a = int(((data[0] == 1) & (data[1] == 0)).sum())
        only_b = int(((data[1] == 1) & (data[0] == 0)).sum())
        return {"A - B (points)": f"{100 * (only_a - only_b) / len(shared):+.1f}", "Shared images": str(len(shared)),
                "Paired test": f"exact McNemar: {only_a} vs {only_b} discordant, "
                               f"p = {mcnemar_exact(only_a, only_b):.2g}"}
    from dive_bench.metrics.coco import coco_ap, paired_ap_drops

    gt, (dets_a, dets_b) = data
    diff = coco_ap(gt, dets_a)["ap"] - coco_ap(gt, dets_b)["ap"]
    drops = paired_ap_drops(gt, dets_a, dets_b, n_boot=min(n_boot, AP_BOOT), seed=seed, stats=("ap",))["ap"]
    drops = drops[np.isfinite(drops)]
    ci = percentile_interval(drops)
    p = min(1.0, 2 * min(float((drops <= 0).mean()), float((drops >= 0).mean()))) if drops.size else float("nan")
    interval = f" [{100 * ci[0]:+.1f}, {100 * ci[1]:+.1f}]" if ci else ""
    return {"A - B (points)": f"{100 * diff:+.1f}{interval}", "Shared images": str(len(shared)),
            "Paired test": f"paired image bootstrap ({len(drops)}): p = {p:.2g}"}
