"""The CI files in examples/ci run: their commands, read from the YAML (never copied here), are run
as GitHub Actions and GitLab CI would run them, on the bundled models, against baselines made the
way the files' comments say. A degraded checkpoint fails the job (exit 1 from the gates); a rerun
of the baseline's own checkpoint passes it.

What is emulated, and why it is enough: each ``run:`` step (GitHub) or ``script:`` line (GitLab)
runs in bash with ``-eo pipefail``, as both runners do for bash; a GitHub step without ``if:``
runs only while no step has failed, one with ``if: always()`` runs anyway; GitLab stops at the
first failing line. The install step (``id: install`` / ``before_script``) is not run: the test
environment already holds the dive_bench under test, and installing another copy from the index
would test that copy and need the network. ``uses:`` actions (checkout, setup-python,
upload-artifact) are GitHub's own and not run; the paths given to upload-artifact are checked to
exist after the job.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from dive_bench.cli.main import main
from factories import degraded_checkpoint

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "ci"
SLICE = ROOT / "tests" / "data" / "fmnist-slice"
#: small enough for the default suite: 48 images with coarse enumeration, 64 samples of 5 steps
SCORE = ["--task", "fmnist", "--data-root", str(SLICE), "--method", "enumerate", "--interval", "100", "--limit", "48"]
FIDELITY = (f"--reference fmnist --data-root {SLICE} --feature-extractor fmnist-classifier --num-samples 64 "
            "--sampler-steps 5 --bootstrap 200")


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    """A model repository: baselines of the accepted checkpoint (dit-fmnist-b), made as the CI
    files' comments say, and a degraded copy of that checkpoint (noise 0.5 x each tensor's std)."""
    root = tmp_path_factory.mktemp("model-repo")
    assert main(["score", "dit-fmnist-b", *SCORE, "--quiet", "--out", str(root / "baselines" / "score")]) == 0
    assert main(["fidelity", "dit-fmnist-b", *FIDELITY.split(), "--quiet", "--out",
                 str(root / "baselines" / "fidelity")]) == 0
    degraded_checkpoint("dit-fmnist-b", 0.5, root / "checkpoints" / "degraded")
    return root


def _environment(variables: dict, checkpoint: str, workdir: Path) -> dict:
    env = {**os.environ, **{k: str(v) for k, v in variables.items()}}
    env.update(CHECKPOINT=checkpoint, SCORE_ARGS=f"--data-root {SLICE} --items-per-batch 8", FIDELITY_ARGS=FIDELITY,
               GITHUB_STEP_SUMMARY=str(workdir / "step-summary.md"),
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    return env


def _bash(script: str, env: dict, cwd: Path) -> int:
    return subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script], env=env, cwd=cwd,
                          timeout=600).returncode


def _copy_repo(repo: Path, workdir: Path) -> None:
    subprocess.run(["cp", "-r", f"{repo}/.", str(workdir)], check=True)


def run_github(repo: Path, workdir: Path, checkpoint: str) -> tuple[bool, dict[str, int], dict]:
    """(job failed, exit status per step id, the job) for examples/ci/github-actions.yml."""
    workflow = yaml.safe_load((EXAMPLES / "github-actions.yml").read_text())
    [job] = workflow["jobs"].values()
    _copy_repo(repo, workdir)
    env = _environment(job["env"], checkpoint, workdir)
    failed, status = False, {}
    for step in job["steps"]:
        if "uses" in step or step.get("id") == "install":
            continue
        condition = step.get("if")
        assert condition in (None, "always()"), f"the test does not emulate if: {condition}"
        if failed and condition is None:
            continue
        assert step.get("shell") == "bash", step  # so the runner's invocation is bash -eo pipefail
        status[step["id"]] = _bash(step["run"], env, workdir)
        failed = failed or status[step["id"]] != 0
    return failed, status, job


def run_gitlab(repo: Path, workdir: Path, checkpoint: str) -> tuple[bool, list[int], dict]:
    """(job failed, exit status per script line run, the job) for examples/ci/gitlab-ci.yml."""
    pipeline = yaml.safe_load((EXAMPLES / "gitlab-ci.yml").read_text())
    [job] = [v for k, v in pipeline.items() if isinstance(v, dict) and "script" in v]
    assert all("pip install" in line for line in job["before_script"])  # the install, not run (module docstring)
    _copy_repo(repo, workdir)
    env = _environment(job["variables"], checkpoint, workdir)
    status = []
    for line in job["script"]:
        status.append(_bash(line, env, workdir))
        if status[-1] != 0:
            return True, status, job
    return False, status, job


def test_github_actions_fails_a_degraded_checkpoint_and_passes_the_baseline(repo, tmp_path):
    failed, status, job = run_github(repo, tmp_path / "bad", f"dit:{repo / 'checkpoints' / 'degraded'}")
    # both gates ran (the FD step runs after the score step failed) and both saw the regression
    assert failed and status == {"score": 1, "fidelity": 1, "summary": 0}
    summary = (tmp_path / "bad" / "step-summary.md").read_text()
    assert summary.count("REGRESSION") == 2 and "| accuracy |" in summary and "| fd_fmnist |" in summary
    upload = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/upload-artifact"))
    for pattern in upload["with"]["path"].split():
        assert list((tmp_path / "bad").glob(pattern)), pattern

    failed, status, _ = run_github(repo, tmp_path / "same", "dit-fmnist-b")
    assert not failed and status == {"score": 0, "fidelity": 0, "summary": 0}
    summary = (tmp_path / "same" / "step-summary.md").read_text()
    assert "REGRESSION" not in summary and summary.count("PASS") == 2


def test_gitlab_ci_fails_a_degraded_checkpoint_and_passes_the_baseline(repo, tmp_path):
    failed, status, job = run_gitlab(repo, tmp_path / "bad", f"dit:{repo / 'checkpoints' / 'degraded'}")
    assert failed and status == [1]  # GitLab stops at the accuracy gate's regression
    assert "REGRESSION" in (tmp_path / "bad" / "verdict-score.md").read_text()

    failed, status, job = run_gitlab(repo, tmp_path / "same", "dit-fmnist-b")
    assert not failed and status == [0, 0, 0]
    for path in job["artifacts"]["paths"]:
        assert (tmp_path / "same" / path).is_file(), path
    assert "PASS" in (tmp_path / "same" / "verdict-fidelity.md").read_text()


@pytest.mark.parametrize("name", ["github-actions.yml", "gitlab-ci.yml"])
def test_the_files_use_only_commands_that_exist(name):
    """Every dive-bench subcommand and flag in the file is one the CLI declares (argparse's own
    check, run on each command line with the variables filled with placeholders)."""
    import shlex

    from dive_bench.cli.main import build_parser

    text = (EXAMPLES / name).read_text()
    data = yaml.safe_load(text)
    lines = [line for block in _scripts(data) for line in block.splitlines() if "dive-bench " in line]
    assert len(lines) == 3
    parser = build_parser()
    for line in lines:
        command = line.split("|")[0].strip()
        words = [w for w in shlex.split(command.replace("$SCORE_ARGS", "").replace("$FIDELITY_ARGS", FIDELITY))]
        args = [w if not w.startswith("$") else "PLACEHOLDER" for w in words[1:]]
        args = [a.replace("$BASELINE", "baselines") for a in args]
        parsed = parser.parse_args(args)
        assert parsed.command in ("score", "fidelity", "check")


def _scripts(data) -> list[str]:
    if "jobs" in data:
        return [s["run"] for job in data["jobs"].values() for s in job["steps"] if "run" in s]
    return [line for job in data.values() if isinstance(job, dict) for line in job.get("script", [])]
