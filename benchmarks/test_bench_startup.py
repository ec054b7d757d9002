"""Start-up cost of the commands that need no model, as ratios to a bare interpreter's start.

Run: pytest benchmarks/test_bench_startup.py --benchmark-only --benchmark-columns=mean,rounds -s
Each command runs in a fresh interpreter (``python -m dive_bench ...``), as a user or CI runs it.
Targets (issue 13): ``--help`` under 1 s and ``check`` under 2 s; both need no torch
(tests/test_startup.py asserts that, without timing anything). Nothing here asserts a time:
the seconds and the ratios to ``python -c pass`` measured in the same run are stored in
``benchmark.extra_info`` and printed.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RUN = "leaderboards/runs/dit-fmnist-b-dive"
COMMANDS = {
    "help": ["--help"],
    "list": ["list"],
    "leaderboard": ["leaderboard", "leaderboards/runs"],
    "check": ["check", RUN, "--baseline", RUN],
}
TARGETS = {"help": 1.0, "check": 2.0}  # seconds


def _run(argv: list[str]) -> None:
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr


def _bare_start(rounds: int = 5) -> float:
    """Mean seconds of ``python -c pass`` (interpreter and site start-up), measured now."""
    _run([sys.executable, "-c", "pass"])
    t0 = time.perf_counter()
    for _ in range(rounds):
        _run([sys.executable, "-c", "pass"])
    return (time.perf_counter() - t0) / rounds


@pytest.mark.parametrize("name", list(COMMANDS))
def test_command_startup(benchmark, name):
    if name != "help" and not (ROOT / "leaderboards" / "runs").is_dir():
        pytest.skip("no stored reference runs")
    argv = [sys.executable, "-m", "dive_bench", *COMMANDS[name]]
    _run(argv)  # warm the file cache and __pycache__
    bare = _bare_start()
    benchmark.pedantic(_run, args=(argv,), rounds=5, iterations=1)
    seconds = benchmark.stats.stats.mean
    target = TARGETS.get(name)
    benchmark.extra_info.update(command=" ".join(COMMANDS[name]), seconds=seconds, bare_python_seconds=bare,
                                ratio_to_bare_python=seconds / bare, target_seconds=target)
    print(f"\ndive-bench {' '.join(COMMANDS[name])}: {seconds:.2f} s = {seconds / bare:.1f}x `python -c pass` "
          f"({bare:.2f} s)" + (f"; target < {target:.0f} s" if target else ""))
