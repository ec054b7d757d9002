"""The vocabulary of a ``check`` verdict: exit statuses, the test level, one row per metric and the
verdict with its Markdown table. Its own module so that the judges (``report.check`` for accuracy
and COCO AP, ``report.check_fidelity`` for fidelity runs) share it without importing each other."""

from __future__ import annotations

from dataclasses import dataclass, field

PASS, REGRESSION, INCOMPARABLE = 0, 1, 2
#: the one-sided level of every test; fixed (not an option), so no setting can make the gate pass everything
ALPHA = 0.05
#: fewest bootstrap replicates ``verdict`` accepts (the detection judge uses a tenth, at least 20)
MIN_BOOT = 200


@dataclass
class MetricVerdict:
    metric: str
    baseline: float
    current: float
    margin: float
    test: str
    detail: str
    regressed: bool


@dataclass
class Verdict:
    status: int
    reason: str = ""
    metrics: list[MetricVerdict] = field(default_factory=list)

    def markdown(self) -> str:
        head = {PASS: "PASS", REGRESSION: "REGRESSION", INCOMPARABLE: "INCOMPARABLE"}[self.status]
        lines = [f"**dive-bench check: {head}**" + (f" — {self.reason}" if self.reason else "")]
        if self.metrics:
            lines += ["", "| Metric | Baseline | Current | Δ | Margin | Test | Result |", "|---|---|---|---|---|---|---|"]
            for m in self.metrics:
                lines.append(f"| {m.metric} | {m.baseline:.4f} | {m.current:.4f} | {m.current - m.baseline:+.4f} | "
                             f"{m.margin:.4f} | {m.test}: {m.detail} | {'regressed' if m.regressed else 'ok'} |")
        return "\n".join(lines)
