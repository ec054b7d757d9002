"""The fidelity gate: ``dive-bench check`` on two fidelity runs (FD, IS, KID, precision, recall).

Why the runs pair: two fidelity runs with the same sampler, steps, guidance, seed, labels and N
draw sample *i* from the same initial noise and label, whatever the checkpoint, so sample *i* of
one and sample *i* of the other are a pair. ``fidelity --bootstrap B`` stores B replicates of each
metric over subsets of the generated samples chosen by a fixed seed (FD and IS: N drawn with
replacement; KID, precision and recall: half-samples drawn without replacement,
``generative.metrics.half_sample_replicates``). Where both runs drew the same subsets (same seed,
scheme and N, checked from what each run.json stores), replicate *b* of one minus replicate *b* of
the other is one replicate of the paired difference, so the interval of the difference needs no
stored features. The replicate differences are re-centred on the full-sample difference (FD
replicates sit about tr(cov)/N above the full-sample value, recall's half-sample radii are wider),
and judged exactly as the accuracy and detection judges judge theirs (``report.check``):
"regression" fails when the point drop exceeds the margin and the one-sided bootstrap p-value of
"no drop" is below ALPHA; "noninferiority" fails when the one-sided 95% upper bound of the drop
exceeds the margin. What this covers: the sampling noise of the N generated samples, reference
fixed (docs/fidelity.md, "Gating on fidelity").
"""

from __future__ import annotations

import numpy as np

from dive_bench.report.verdicts import ALPHA, INCOMPARABLE, MIN_BOOT, PASS, REGRESSION, MetricVerdict, Verdict
from dive_bench.spec.result import RunResult, default_higher_is_better

#: what a stored ``bootstrap_scheme`` means (absent: FD/IS's resample with replacement, the only
#: scheme before schemes were named), and the families each scheme may carry
SCHEMES = {None: ("N of N with replacement", ("fid", "fd", "is")),
           "half-sample": ("half-samples without replacement", ("kid", "precision", "recall"))}
#: method-config keys under the names a user knows them by (the CLI flags)
_SHOWN = {"num_samples": "N (--num-samples)", "sampler": "sampler", "steps": "sampler steps", "seed": "seed",
          "guidance_scale": "guidance", "labels": "labels", "dtype": "sampling precision (--dtype)",
          "feature_extractor": "feature extractor", "extractor_weights_sha256": "extractor weights (sha256)"}
_FIX = ("sample i of two fidelity runs is paired only under the same reference, extractor, N, sampler, steps, "
        "guidance, seed and labels: rerun the current run with the baseline's settings")


def protocol_difference(current: RunResult, baseline: RunResult) -> str | None:
    """What differs between two fidelity runs' protocols, named (None: they pair)."""
    if (current.kind == "fidelity") != (baseline.kind == "fidelity"):
        which, other = ("current", "baseline") if current.kind == "fidelity" else ("baseline", "current")
        return (f"the {which} run is a fidelity run and the {other} run a score run; check compares a fidelity run "
                "with a fidelity run of the same protocol")
    pc, pb = current.protocol, baseline.protocol
    if (pc.task, pc.items_sha256) != (pb.task, pb.items_sha256):
        def shown(run: RunResult) -> str:
            ref = run.reference or {}
            return f"{ref.get('name', run.task)}, {ref.get('n', '?')} images, sha256 {str(run.protocol.items_sha256)[:12]}"
        return f"different reference (baseline {shown(baseline)}; current {shown(current)}); {_FIX}"
    cfg_c, cfg_b = pc.config, pb.config
    differ = [k for k in sorted(set(cfg_c) | set(cfg_b)) if cfg_c.get(k) != cfg_b.get(k)]
    if differ:
        differ.sort(key=lambda k: (k not in _SHOWN, k))
        parts = [f"{_SHOWN.get(k, k)}: baseline {cfg_b.get(k)}, current {cfg_c.get(k)}" for k in differ]
        return f"different {'; '.join(parts)}; {_FIX}"
    return current.protocol.differs_from(baseline.protocol)


def _replicates(run: RunResult, which: str, metric: str) -> tuple[np.ndarray | None, str | None]:
    """(replicates, None) or (None, why they cannot be paired)."""
    m = run.metric(metric) or {}
    reps = m.get("bootstrap")
    if not isinstance(reps, list) or len(reps) < MIN_BOOT:
        have = len(reps) if isinstance(reps, list) else 0
        return None, (f"the {which} run stores {have} replicates of {metric}, and a paired 95% bound needs at least "
                      f"{MIN_BOOT}; rerun its fidelity command with --bootstrap {MIN_BOOT} (samples cached in its --out "
                      "folder are reused: only the metrics are recomputed)")
    scheme = m.get("bootstrap_scheme")
    family = metric.split("_", 1)[0]
    if scheme not in SCHEMES or family not in SCHEMES[scheme][1]:
        return None, (f"the {which} run's replicates of {metric} were drawn by an unknown scheme ({scheme!r}), so "
                      f"their pairing cannot be established; rerun its fidelity command with --bootstrap {MIN_BOOT}")
    return np.asarray(reps, dtype=float), None


def _pairing_reason(current: RunResult, baseline: RunResult, metric: str) -> str | None:
    """Why replicate b of the two runs did not resample the same samples, or None: the same scheme,
    seed and N, read from both files (another seed or N draws other indices)."""
    c, b = current.metric(metric) or {}, baseline.metric(metric) or {}
    for key, what in (("bootstrap_scheme", "scheme"), ("bootstrap_seed", "seed"), ("n_generated", "N")):
        if c.get(key) != b.get(key):
            return (f"the replicates of {metric} resampled different samples (baseline {what} {b.get(key)}, current "
                    f"{c.get(key)}); rerun both fidelity commands with this version and --bootstrap {MIN_BOOT}")
    if not isinstance(c.get("bootstrap_seed"), int) or not isinstance(c.get("n_generated"), int):
        return (f"{metric} stores no resampling seed or N, so its replicates cannot be paired; rerun both fidelity "
                f"commands with --bootstrap {MIN_BOOT}")
    return None


def judge_replicates(metric: str, base_v: float, cur_v: float, base_reps: np.ndarray, cur_reps: np.ndarray,
                     margin: float, mode: str, scheme: str) -> MetricVerdict:
    """One metric's verdict from paired replicates (the first min(B) of each: replicate b is the
    same subset in both whatever B each stored), re-centred on the full-sample drop."""
    n = min(len(base_reps), len(cur_reps))
    sign = 1.0 if default_higher_is_better(metric) else -1.0
    point = sign * (base_v - cur_v)
    drops = sign * (base_reps[:n] - cur_reps[:n])
    drops = drops - drops.mean() + point
    if mode == "regression":
        p = float((drops <= 0).mean())  # one-sided bootstrap p-value for "no drop", as the detection judge
        regressed = point > margin and p < ALPHA
        detail = f"paired replicates ({n}, {scheme}), one-sided p={p:.3g}"
    else:
        hi = float(np.quantile(drops, 1 - ALPHA))
        regressed = hi > margin
        detail = f"paired replicates ({n}, {scheme}), 95% upper bound of the drop {hi:.4f}"
    return MetricVerdict(metric, base_v, cur_v, margin, "paired", detail, regressed)


def fidelity_verdict(current: RunResult, baseline: RunResult, margins: dict[str, float], mode: str) -> Verdict:
    """The verdict on two fidelity runs (``margins`` already validated by ``report.check``)."""
    reason = protocol_difference(current, baseline)
    if reason:
        return Verdict(INCOMPARABLE, reason)
    verdicts = []
    for metric, base_m in sorted(baseline.metrics.items()):
        cur_m = current.metric(metric)
        if cur_m is None:
            return Verdict(INCOMPARABLE, f"current run has no {metric}")
        if not isinstance(base_m, dict) or base_m.get("value") is None:
            continue
        pairs = []
        for run, which in ((baseline, "baseline"), (current, "current")):
            reps, why = _replicates(run, which, metric)
            if why:
                return Verdict(INCOMPARABLE, why)
            pairs.append(reps)
        why = _pairing_reason(current, baseline, metric)
        if why:
            return Verdict(INCOMPARABLE, why)
        scheme = SCHEMES[base_m.get("bootstrap_scheme")][0]
        verdicts.append(judge_replicates(metric, float(base_m["value"]), float(cur_m["value"]), pairs[0], pairs[1],
                                         margins.get(metric, 0.0), mode, scheme))
    status = REGRESSION if any(v.regressed for v in verdicts) else PASS
    return Verdict(status, "" if status == PASS else "score dropped beyond noise and margin", verdicts)
