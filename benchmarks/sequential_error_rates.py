"""Error rates and items used of ``score --sequential``'s test, measured on simulated paired streams,
and its decisions on the stored Fashion-MNIST runs; writes leaderboards/gate/sequential_error_rates.md.

    python benchmarks/sequential_error_rates.py               # 2000 streams per scenario, ~20 s
    python benchmarks/sequential_error_rates.py --streams 200 --out /tmp/x.md

Each stream is 300 i.i.d. paired differences D = correct_current - correct_baseline in {-1, 0, 1},
checked every 16 items (``score``'s default block) at alpha = 0.05 (``check``'s level) with the
margin accuracy=0.01. A false fail is the regression e-process crossing where E[D] >= -m (its null
holds); a false pass is the pass e-process crossing where E[D] <= -m. Both are bounded by alpha at
any stopping time (Ville's inequality); the table measures them, with the binomial standard error
at rate alpha. The second table compares the bets (``metrics.sequential`` explains the choice).
Seeded: the file is the same on every run. Imports no torch.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np

from dive_bench.metrics.sequential import BET_FRACTIONS, SIDES, checkpoints_every, simulate
from dive_bench.report.check import ALPHA, load_run
from dive_bench.run.sequential import replay

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "leaderboards" / "gate" / "sequential_error_rates.md"
MARGIN, N_ITEMS, BATCH = 0.01, 300, 16
#: name, P(D=-1), P(D=+1), origin. Discordance as measured between stored runs (leaderboards/runs)
SCENARIOS = [
    ("no effect", 0.10, 0.10, "20% discordant, split evenly"),
    ("effect exactly at the margin", 0.105, 0.095, "E[D] = -m: both nulls hold"),
    ("clear regression (0.77 -> 0.62)", 60 / 300, 17 / 300, "60 vs 17 of 300: dit-fmnist-s vs -b"),
    ("clear improvement (0.77 -> 0.81)", 11 / 300, 23 / 300, "11 vs 23 of 300: dit-fmnist-b-flow vs -b"),
    ("rerun, no discordance", 0.0, 0.0, "dit-fmnist-b vs itself"),
]
REPLAYS = [("dit-fmnist-b-dive", "dit-fmnist-b-dive"), ("dit-fmnist-s-dive", "dit-fmnist-b-dive"),
           ("dit-fmnist-b-flow-dive", "dit-fmnist-b-dive")]


def _stream(p_minus: float, p_plus: float, n_streams: int, seed: int) -> np.ndarray:
    u = np.random.default_rng(seed).random((n_streams, N_ITEMS))
    return np.where(u < p_minus, -1.0, np.where(u < p_minus + p_plus, 1.0, 0.0))


def _agrapa(d: np.ndarray, side: str, cap: float = 0.5) -> np.ndarray:
    """Plug-in bet lam_t = mean / second moment of the earlier y (one pseudo-observation of 0 mean,
    second moment 1/4), capped at ``cap`` x the largest bet (Waudby-Smith & Ramdas' aGRAPA)."""
    sign = SIDES[side]
    y = sign * (d + MARGIN)
    prev = np.concatenate([np.zeros((len(y), 1)), np.cumsum(y, 1)[:, :-1]], 1)
    prev2 = np.concatenate([np.zeros((len(y), 1)), np.cumsum(y * y, 1)[:, :-1]], 1)
    t = np.arange(y.shape[1]) + 1.0
    lam = np.clip((prev / t) / ((0.25 + prev2) / t), 0, cap / (1 - sign * MARGIN))
    return np.cumsum(np.log1p(lam * y), 1)


def _ons(d: np.ndarray, side: str, cap: float = 0.75) -> np.ndarray:
    """Online Newton step bets (Cutkosky & Orabona), capped at ``cap`` x the largest bet."""
    sign = SIDES[side]
    y = sign * (d + MARGIN)
    lam, a, total, out = np.zeros(len(y)), np.ones(len(y)), np.zeros(len(y)), np.zeros_like(y)
    for i in range(y.shape[1]):
        total += np.log1p(lam * y[:, i])
        out[:, i] = total
        g = -y[:, i] / (1 + lam * y[:, i])
        a += g * g
        lam = np.clip(lam - 2 / (2 - math.log(3)) * g / a, 0, cap / (1 - sign * MARGIN))
    return out


def _grid(fractions):
    from dive_bench.metrics.sequential import log_wealth

    return lambda d, side: log_wealth(d, MARGIN, side, fractions)


def _stop(paths: dict) -> tuple[np.ndarray, np.ndarray]:
    bound = math.log(1 / ALPHA)
    n = paths["regression"].shape[0]
    verdict, used = np.zeros(n, int), np.full(n, N_ITEMS)
    for k in checkpoints_every(N_ITEMS, BATCH):
        open_ = verdict == 0
        reg = open_ & (paths["regression"][:, k - 1] >= bound)
        ok = open_ & ~reg & (paths["pass"][:, k - 1] >= bound)
        verdict[reg], verdict[ok], used[reg | ok] = 1, 2, k
    return verdict, used


def error_table(n_streams: int) -> list[str]:
    se = math.sqrt(ALPHA * (1 - ALPHA) / n_streams)
    lines = ["| Scenario | P(D=-1) | P(D=+1) | E[D] | false fail (R crossed, E[D] >= -m) | false pass (P crossed, "
             "E[D] <= -m) | settled regression | settled pass | not settled | mean items used (of 300) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for k, (name, pm, pp, _) in enumerate(SCENARIOS):
        s = simulate(pm, pp, MARGIN, ALPHA, n_items=N_ITEMS, batch=BATCH, n_streams=n_streams, seed=k)
        mean = pp - pm
        ff = f"{s.regression:.4f} ± {se:.4f}" if mean >= -MARGIN - 1e-12 else "— (power)"
        fp = f"{s.passed:.4f} ± {se:.4f}" if mean <= -MARGIN + 1e-12 else "— (power)"
        lines.append(f"| {name} | {pm:.4f} | {pp:.4f} | {mean:+.4f} | {ff} | {fp} | {s.regression:.3f} | "
                     f"{s.passed:.3f} | {s.unsettled:.3f} | {s.mean_items:.1f} |")
    return lines


def bet_table(n_streams: int) -> list[str]:
    bets = {f"grid {list(BET_FRACTIONS)} (chosen)": _grid(BET_FRACTIONS), "grid [1/3, 2/3]": _grid((1 / 3, 2 / 3)),
            "grid of 10 (k/11)": _grid(tuple(k / 11 for k in range(1, 11))), "aGRAPA (cap 1/2)": _agrapa,
            "aGRAPA (cap 3/4)": lambda d, s: _agrapa(d, s, 0.75), "ONS (cap 3/4)": _ons}
    cases = [SCENARIOS[1], SCENARIOS[2], SCENARIOS[3]]
    streams = [_stream(pm, pp, n_streams, 100 + k) for k, (_, pm, pp, _) in enumerate(cases)]
    lines = ["| Bets | at margin: false fail | at margin: false pass | clear regression: items used | "
             "clear regression: settled | clear improvement: settled pass | clear improvement: items used |",
             "|---|---|---|---|---|---|---|"]
    for name, bet in bets.items():
        out = []
        for d in streams:
            out.append(_stop({side: bet(d, side) for side in SIDES}))
        (vm, _), (vr, ur), (vi, ui) = out
        lines.append(f"| {name} | {(vm == 1).mean():.4f} | {(vm == 2).mean():.4f} | {ur.mean():.1f} | "
                     f"{(vr == 1).mean():.3f} | {(vi == 2).mean():.3f} | {ui.mean():.1f} |")
    return lines


def replay_table(runs: Path) -> list[str]:
    lines = ["| Current | Baseline | Discordant (baseline only / current only, of 300) | Decision | Items used | "
             "log wealth R / P at the stop |", "|---|---|---|---|---|---|"]
    for current, baseline in REPLAYS:
        cur, base = load_run(runs / current), load_run(runs / baseline)
        dec = replay(cur, base, MARGIN, BATCH)
        b = {i: int(p == y) for i, (p, y) in base.outcomes().items()}
        c = {i: int(p == y) for i, (p, y) in cur.outcomes().items()}
        lost, won = sum(b[i] > c[i] for i in b), sum(c[i] > b[i] for i in b)
        what = dec.verdict or "not settled (regression mode: pass)"
        lines.append(f"| {current} | {baseline} | {lost} / {won} | {what} | {dec.items} | "
                     f"{dec.log_wealth['regression']:.3f} / {dec.log_wealth['pass']:.3f} |")
    return lines


def within_target(n_streams: int, target: int = 90) -> dict[str, tuple[float, float]]:
    """On the clear-regression streams: (share stopped within ``target`` items, mean items used) for
    the chosen bets and for the best constant bet for the true rates (an oracle: it knows the effect
    before seeing any item, which no gate does): how far a 30% target is from reach."""
    _, pm, pp, _ = SCENARIOS[2]
    y = -(np.array([-1.0, 0.0, 1.0]) + MARGIN)
    probs = np.array([pm, 1 - pm - pp, pp])
    fractions = np.linspace(0.01, 0.99, 99)
    growth = [(probs * np.log1p(f / (1 + MARGIN) * y)).sum() for f in fractions]
    d = _stream(pm, pp, n_streams, 7)
    out = {}
    for name, bets in (("chosen grid", BET_FRACTIONS), ("oracle constant bet", (fractions[int(np.argmax(growth))],))):
        _, used = _stop({side: _grid(bets)(d, side) for side in SIDES})
        out[name] = (float((used <= target).mean()), float(used.mean()))
    return out


def render(n_streams: int) -> str:
    reach = within_target(n_streams)
    return "\n".join([
        "# Sequential gate: error rates and items used",
        "",
        "Generated by `python benchmarks/sequential_error_rates.py` (seeded); do not edit by hand.",
        f"Test: `score --sequential` (`dive_bench/metrics/sequential.py`), alpha = {ALPHA}, margin accuracy = "
        f"{MARGIN}, {N_ITEMS} items per stream, checked every {BATCH} items, {n_streams} streams per scenario. "
        "± is the binomial standard error at rate alpha; an error rate above alpha by more than 3 of them would "
        "refute the test. A stream that never settles uses all items and concludes by the mode "
        "(regression mode: pass; noninferiority mode: fail).",
        "",
        *error_table(n_streams),
        "",
        "Origins of the scenarios: " + "; ".join(f"{name}: {why}" for name, _, _, why in SCENARIOS) + ".",
        "",
        "## Bets compared",
        "",
        "Same streams for every row (seeded); at the margin both nulls hold, so both columns are error rates.",
        "",
        *bet_table(n_streams),
        "",
        "## Replay of the stored Fashion-MNIST runs",
        "",
        "The per-item outcomes stored in `leaderboards/runs/*/run.json`, in the baseline's item order, checked "
        f"every {BATCH} items, margin accuracy = {MARGIN}.",
        "",
        *replay_table(ROOT / "leaderboards" / "runs"),
        "",
        "How far the target of 30% of the items (90) is: on the simulated clear regression (the same rates), "
        + "; ".join(f"the {name} stops within 90 items in {share:.0%} of the streams (mean {mean:.0f} items)"
                    for name, (share, mean) in reach.items())
        + ". The oracle knows the effect before the first item, which no gate does; so for an effect this size "
        "stopping by 90 items is a coin toss even in principle, and the stored stream (128) is within the spread.",
        "",
    ])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--streams", type=int, default=2000)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(args.streams))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
