"""The README's Quickstart, run as written in a new venv on a machine without Fashion-MNIST.

Opt-in (``pytest -m fresh``; ~10+ minutes on a CPU): it copies the checkout (tracked and untracked,
not ignored, files, as a clone would have them) to a temporary folder, creates a venv there, and runs
the Quickstart's two lines, taken from README.md: the demo, then the test suite. The Debian package
``dataset-fashion-mnist`` is hidden by pointing ``$DIVE_BENCH_FMNIST_ROOT`` at an empty folder, and
every cache at fresh folders, so the suite must pass on the committed slice and skip, saying why,
only what needs the full set.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.fresh, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
DEMO_LINE = "pip install -e . && dive-bench demo"
TEST_LINE = "pip install -e '.[test]' && pytest"


def quickstart_lines() -> list[str]:
    """The commands of the README's Quickstart code block, comments stripped."""
    text = (REPO / "README.md").read_text()
    block = re.search(r"## Quickstart\s+```bash\n(.*?)```", text, re.S)
    assert block, "README.md has no Quickstart bash block"
    return [line.split("#", 1)[0].strip() for line in block.group(1).splitlines() if line.split("#", 1)[0].strip()]


def copy_checkout(dest: Path) -> None:
    """The files a clone would have, plus new files not yet committed (nothing git ignores)."""
    if (REPO / ".git").exists() and shutil.which("git"):
        out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                             capture_output=True, check=True).stdout.decode()
        for rel in filter(None, out.split("\0")):
            src = REPO / rel
            if src.is_file():
                (dest / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dest / rel)
    else:  # an sdist or a plain copy: everything but build and cache folders
        shutil.copytree(REPO, dest, ignore=shutil.ignore_patterns(
            ".git", "*.egg-info", "__pycache__", ".pytest_cache", ".venv", ".ci-venv", "runs", "build"))


def fresh_env(venv: Path, tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "CI", "PYTEST_ADDOPTS", "DIVE_BENCH_INCEPTION_WEIGHTS")
           and not k.startswith("PYTEST_")}
    for name in ("fmnist-absent", "cache", "torch-home", "hf-home"):
        (tmp / name).mkdir()
    env.update(
        PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        VIRTUAL_ENV=str(venv),
        DIVE_BENCH_FMNIST_ROOT=str(tmp / "fmnist-absent"),  # as if dataset-fashion-mnist were not installed
        DIVE_BENCH_CACHE=str(tmp / "cache"),
        TORCH_HOME=str(tmp / "torch-home"),
        HF_HOME=str(tmp / "hf-home"),
        OMP_NUM_THREADS=env.get("OMP_NUM_THREADS", "1"),
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


def run(cmd: str, cwd: Path, env: dict, timeout: int) -> subprocess.CompletedProcess:
    t0 = time.perf_counter()
    proc = subprocess.run(["bash", "-c", cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    print(f"$ {cmd}\n  exit {proc.returncode} after {time.perf_counter() - t0:.0f} s")
    return proc


def pytest_summary(output: str) -> tuple[dict[str, int], list[str]]:
    """Counts from pytest's last line ("3 passed, 1 skipped in 2.0s") and the -rs skip reasons."""
    lines = [line for line in output.splitlines() if re.search(r"\d+ (passed|failed|error)", line)]
    counts = {}
    for n, word in re.findall(r"(\d+) (passed|failed|errors?|skipped|deselected|xfailed|xpassed)", lines[-1] if lines else ""):
        counts[word.rstrip("s") if word.startswith("error") else word] = int(n)
    skips = [m.group(1) for m in re.finditer(r"^SKIPPED \[\d+\] (.*)$", output, re.M)]
    return counts, skips


def test_readme_quickstart_passes_in_a_fresh_venv_without_fashion_mnist(tmp_path):
    lines = quickstart_lines()
    assert lines == [DEMO_LINE, TEST_LINE], f"the Quickstart changed; update this test: {lines}"

    repo = tmp_path / "repo"
    copy_checkout(repo)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    env = fresh_env(venv, tmp_path)

    demo_out = tmp_path / "demo"
    demo = run(f"{DEMO_LINE} --out {shlex.quote(str(demo_out))}", repo, env, timeout=3600)
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    assert "DIVE vs Diffusion Classifier" in demo.stdout
    assert "K = 10 " in demo.stdout and "K = 1000 " in demo.stdout and "--method auto picks" in demo.stdout
    for folder in ("k10/auto", "k10/exhaustive", "k10/dive", "k1000/auto", "k1000/adaptive"):
        assert (demo_out / folder / "run.json").is_file(), f"the demo wrote no {folder}/run.json"

    inner = f"{TEST_LINE} -q -rs -p no:cacheprovider -m 'not hub and not fresh'"
    tests = run(inner, repo, env, timeout=7200)
    output = tests.stdout + tests.stderr
    counts, skips = pytest_summary(output)
    print("inner pytest:", counts)
    for reason in skips:
        print("  SKIPPED", reason)
    assert tests.returncode == 0, output[-6000:]
    assert counts.get("failed", 0) == 0 and counts.get("error", 0) == 0, counts
    assert counts.get("passed", 0) > 100, counts
    for reason in skips:
        why = reason.split(": ", 1)[-1]
        # pytest's defaults for a skip without a reason
        assert why not in ("unconditional skip", "") and not why.startswith("condition:"), reason
        if "fashion-mnist" in why.lower():
            assert "apt-get install dataset-fashion-mnist" in why, reason
