"""What each metric a run.json can hold means: its direction and the range its values live in.

Why one table: the direction of a metric, the values it can take and the size of a drop that can
mean anything were once implied by each reader (a leaderboard multiplying by 100, ``check``
accepting any margin, a report printing whatever number a file held). Declared once here, the
run.json reader (``spec.result``) refuses a value outside its metric's range, ``check`` refuses a
margin that no drop could exceed (``--margin accuracy=5`` on a fraction switches the gate off),
and reports order columns by the declared direction. This module imports nothing from dive_bench
but the error type, so every layer that reads run.json may use it.

A name is looked up whole (``ap50``), then by its family, the part before the first ``_``
(``fd_fmnist`` is an FD, ``precision_canvas`` a precision). A name that is not declared is
higher-is-better with no known range (only finiteness is checked), as every reader did before.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from dive_bench.errors import DiveBenchError

INF = math.inf


@dataclass(frozen=True)
class MetricSpec:
    """One metric family: ``higher_is_better``, values in [``lower``, ``upper``] (``-inf``/``inf``:
    unbounded), the ``unit`` in words, a ``sentinel`` value that means "not measurable here" (COCO's
    -1 for a size slice without ground truth) and the numerical ``slack`` a correct computation may
    overshoot a bound by (an FD of two identical feature sets can come out at -1e-9)."""

    name: str
    higher_is_better: bool
    lower: float = -INF
    upper: float = INF
    unit: str = "a number"
    sentinel: float | None = None
    slack: float = 1e-9

    @property
    def width(self) -> float:
        """The largest possible difference between two values (inf for an unbounded metric)."""
        return self.upper - self.lower

    @property
    def range_text(self) -> str:
        lo = "-inf" if self.lower == -INF else f"{self.lower:g}"
        hi = "inf" if self.upper == INF else f"{self.upper:g}"
        return f"{'(' if self.lower == -INF else '['}{lo}, {hi}{')' if self.upper == INF else ']'}"

    def describe(self) -> str:
        """e.g. "accuracy is a fraction in [0, 1], higher is better"."""
        return f"{self.name} is {self.unit} in {self.range_text}, {'higher' if self.higher_is_better else 'lower'} is better"

    def holds(self, value: float) -> bool:
        """Whether the finite ``value`` is a value this metric can take (its sentinel included)."""
        if self.sentinel is not None and value == self.sentinel:
            return True
        return self.lower - self.slack <= value <= self.upper + self.slack


_FRACTION = dict(lower=0.0, upper=1.0, unit="a fraction")
_COCO = dict(_FRACTION, unit="a COCO fraction (-1: no ground truth in that slice)", sentinel=-1.0)
#: every declared metric: classification accuracy, the 12 COCOeval stats, the generative metrics
METRICS: dict[str, MetricSpec] = {
    "accuracy": MetricSpec("accuracy", True, **_FRACTION),
    **{n: MetricSpec(n, True, **_COCO)
       for n in ("ap", "ap50", "ap75", "aps", "apm", "apl", "ar1", "ar10", "ar100", "ars", "arm", "arl")},
    "fid": MetricSpec("fid", False, lower=0.0, unit="a Frechet distance", slack=1e-3),
    "fd": MetricSpec("fd", False, lower=0.0, unit="a Frechet distance", slack=1e-3),
    # the unbiased MMD estimate dips below 0 when two feature sets are alike: bounded on neither side
    "kid": MetricSpec("kid", False, unit="a kernel distance (unbiased, may dip below 0)"),
    "is": MetricSpec("is", True, lower=1.0, unit="an Inception score", slack=1e-3),
    "precision": MetricSpec("precision", True, **_FRACTION),
    "recall": MetricSpec("recall", True, **_FRACTION),
}


def metric_spec(name: str) -> MetricSpec | None:
    """The declaration of ``name`` (whole, else its family before the first ``_``), None if undeclared."""
    return METRICS.get(name) or METRICS.get(name.split("_", 1)[0])


def check_margin(metric: str, margin: object, *, available: list[str] | tuple[str, ...] | None = None) -> float:
    """``margin`` as the tolerated drop of ``metric`` in ``check``, or one DiveBenchError: a margin
    must be a finite number >= 0, for a metric the runs have (``available``), and smaller than the
    metric's range: a margin that no drop can exceed switches the gate off."""
    shown = f"--margin {metric}={margin}"
    if available is not None and metric not in available:
        have = ", ".join(sorted(available)) or "none"
        raise DiveBenchError(f"{shown} names metrics the runs do not have ({metric!r}; they have: {have}); name one "
                             "of those")
    if isinstance(margin, bool) or not isinstance(margin, (int, float)) or not math.isfinite(margin) or margin < 0:
        raise DiveBenchError(f"{shown}: the tolerated drop must be a finite number >= 0, e.g. {metric}=0.01")
    spec = metric_spec(metric)
    if spec is not None and margin >= spec.width:
        example = f"{spec.width / 100:g}" if spec.width > 0 else "0.01"
        raise DiveBenchError(f"{shown}: {spec.describe()}, so no drop can exceed a margin of {margin:g} and the "
                             f"gate could never fail; give the drop in the metric's own units, below {spec.width:g} "
                             f"(e.g. {metric}={example} for one point)")
    return float(margin)
