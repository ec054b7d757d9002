"""Checkpoint sweeps: ``train class-dit --save-every`` keeps scorable checkpoints, ``dive-bench sweep``
scores each once (resumable, one run.json per checkpoint) and writes SWEEP.md and sweep.png from
run.json files only. Fidelity is not computed here (no extractor fits 8x8 digits cheaply): a stub
``run_fidelity`` checks that the options reach it, once per checkpoint, and gives the report an FD.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dive_bench.adapters import load_model
from dive_bench.cli.main import main
from dive_bench.report.sweep import disagreement, markdown, sweep_rows
from dive_bench.training.class_dit import ClassDiTTrainConfig, train_class_dit
from factories import run_json

#: the protocol every checkpoint is scored under: enumerate on 8 digits, coarse grid (--quiet last)
SWEEP_PROTOCOL = ["--task", "digits", "--method", "enumerate", "--limit", "8", "--interval", "100", "--quiet"]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"  # the ``trained`` fixture (steps 2, 4, 6) is in conftest.py
ROOT = Path(__file__).resolve().parents[2]


def _runs(folder):
    return {int(p.parent.name.split("-")[1]): json.loads(p.read_text()) for p in sorted(folder.glob("*/run.json"))}


def test_save_every_keeps_loadable_checkpoints_with_their_step(trained):
    folders = sorted((trained / "checkpoints").iterdir())
    assert [f.name for f in folders] == ["step-000002", "step-000004", "step-000006"]
    for f, step in zip(folders, (2, 4, 6)):
        assert json.loads((f / "dive_bench.json").read_text())["step"] == step
        assert load_model(f"dit:{f}").label_space.num_classes == 10
        assert f"step {step} of 6" in (f / "README.md").read_text() or step == 6
    assert json.loads((trained / "model" / "dive_bench.json").read_text())["step"] == 6


def test_sweep_scores_each_checkpoint_once_and_reports_from_run_json(trained, tmp_path, capsys, monkeypatch):
    out = tmp_path / "sweep"
    assert main(["sweep", str(trained), *SWEEP_PROTOCOL, "--out", str(out)]) == 0
    runs = _runs(out / "score")
    assert sorted(runs) == [2, 4, 6]
    for step, run in runs.items():
        assert run["checkpoint"]["step"] == step and run["status"] == "complete" and run["n_done"] == 8
    # same protocol everywhere: the run keys differ only through the model
    assert len({json.dumps(r["method_config"], sort_keys=True) for r in runs.values()}) == 1
    mtimes = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file() and p.parent.name.startswith("step")}

    # a rerun recomputes nothing: loading a model or scoring would fail
    import dive_bench.adapters as adapters
    import dive_bench.run.score as run_score

    monkeypatch.setattr(adapters, "load_model", lambda spec: pytest.fail(f"reloaded {spec}"))
    monkeypatch.setattr(run_score, "score", lambda *a, **k: pytest.fail("rescored"))
    assert main(["sweep", str(trained), *SWEEP_PROTOCOL, "--out", str(out)]) == 0
    assert {p: p.stat().st_mtime_ns for p in mtimes} == mtimes

    md = (out / "SWEEP.md").read_text()
    for step, run in runs.items():
        acc = run["metrics"]["accuracy"]
        row = re.search(rf"^\| {step} +\|(.*)$", md, re.M).group(1)
        cells = [c.strip().strip("*") for c in row.split("|")]
        assert cells[0] == f"{100 * acc['value']:.1f}"
        assert cells[1] == f"[{100 * acc['ci_low']:.1f}, {100 * acc['ci_high']:.1f}]"
        assert cells[2] == f"{run['timings']['evaluations_per_item']:.0f}"
    png = (out / "sweep.png").read_bytes()
    assert png[:8] == PNG_SIGNATURE and len(png) > 5000

    # the report is rendered from run.json alone: no torch, no checkpoint (here: none left)
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    (copy / "SWEEP.md").unlink()
    code = ("import sys; from dive_bench.report.sweep import write_report; write_report(sys.argv[1]); "
            "print(sorted(m for m in ('torch', 'diffusers') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code, str(copy)], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]" and (copy / "SWEEP.md").read_text() == md


def test_sweep_passes_fidelity_options_and_states_disagreement(trained, tmp_path, monkeypatch):
    import dive_bench.run.fidelity as fidelity_run

    calls = []
    fds = {2: 30.0, 4: 20.0, 6: 25.0}  # FD improves, then worsens

    def fake_run_fidelity(req, adapter=None):  # writes run.json with the checkpoint, as run_fidelity does
        calls.append(req)
        step = int(req.out.name.split("-")[1])
        assert req.checkpoint["step"] == step
        payload = run_json(model=req.model, task="fidelity:digits-test", method="fidelity", method_config={},
                           n_items=req.num_samples, metrics={"fd_x": {"value": fds[step]}},
                           metric_info={"primary": "fd_x", "higher_is_better": {"fd_x": False}},
                           checkpoint=req.checkpoint)
        req.out.mkdir(parents=True, exist_ok=True)
        (req.out / "run.json").write_text(json.dumps(payload))
        return payload

    monkeypatch.setattr(fidelity_run, "run_fidelity", fake_run_fidelity)
    out = tmp_path / "sweep"
    args = ["sweep", str(trained), *SWEEP_PROTOCOL, "--out", str(out), "--fidelity", "--reference", "digits",
            "--num-samples", "16", "--sample-steps", "3", "--cache-dir", str(tmp_path / "cache")]
    assert main(args) == 0
    assert len(calls) == 3
    assert {(c.reference, c.num_samples, c.steps, c.cache_dir) for c in calls} == {("digits", 16, 3, str(tmp_path / "cache"))}
    assert main(args) == 0 and len(calls) == 3  # fidelity runs are skipped once complete too
    rows = sweep_rows(out)
    assert [r["fd"] for r in rows] == [30.0, 20.0, 25.0]
    text = markdown(rows)
    assert "## DIVE vs fidelity" in text and "Kendall's tau-b" in text and "| fd_x" in text
    png = (out / "sweep.png").read_bytes()
    assert png[:8] == PNG_SIGNATURE and len(png) > 5000
    if dest := os.environ.get("DIVE_BENCH_SWEEP_PNG"):  # to look at the plot
        shutil.copy(out / "sweep.png", dest)


def test_merge_keeps_the_checkpoint_and_records_the_label_space(trained, tmp_path):
    """The sweep hands each checkpoint to its run, so the shards keep it: a later ``merge`` of a
    score folder (which rebuilds run.json from the shards alone) still records ``checkpoint.step``.
    It used to be patched into run.json from outside, and ``merge`` dropped it."""
    from dive_bench.spec.result import RunResult

    out = tmp_path / "sweep"
    protocol = [*SWEEP_PROTOCOL[:4], "--limit", "4", *SWEEP_PROTOCOL[6:]]
    assert main(["sweep", str(trained), *protocol, "--out", str(out)]) == 0
    folder = out / "score" / "step-000004"
    (folder / "run.json").unlink()  # merge rebuilds it from the shards alone
    assert main(["merge", str(folder)]) == 0
    run = RunResult.load(folder / "run.json")
    assert run.checkpoint_step == 4 and run.checkpoint["folder"].endswith("step-000004")
    assert run.label_space.kind == "class" and run.label_space.num_classes == 10 and not run.label_space.inferred
    assert sweep_rows(out)[1]["step"] == 4  # the report still finds it


def test_bad_inputs_exit_2_with_one_line_and_keep_results(trained, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["sweep", str(empty), *SWEEP_PROTOCOL, "--out", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no checkpoints" in err and "--save-every" in err

    ckpts = tmp_path / "ckpts"
    shutil.copytree(trained / "checkpoints", ckpts)
    out = tmp_path / "b"
    assert main(["sweep", str(ckpts), *SWEEP_PROTOCOL, "--out", str(out)]) == 0
    before = {p: p.read_bytes() for p in out.rglob("run.json")}
    broken = ckpts / "step-000008"
    shutil.copytree(ckpts / "step-000006", broken)
    (broken / "diffusion_pytorch_model.safetensors").write_bytes(b"not weights")
    (broken / "dive_bench.json").write_text(json.dumps({"step": 8}))
    capsys.readouterr()
    assert main(["sweep", str(ckpts), *SWEEP_PROTOCOL, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "step-000008" in err and "step 8" in err
    assert {p: p.read_bytes() for p in before} == before

    assert main(["sweep", str(trained), *SWEEP_PROTOCOL[:-1], "--limit", "4", "--out", str(out)]) == 2  # another protocol
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "limit" in err and "new --out" in err


def test_disagreement_names_the_steps_and_the_taus():
    """Accuracy rises at every checkpoint; FD (lower is better) improves, then worsens from 200 to 300."""
    rows = [{"step": s, "score": a, "fd": f, "fd_name": "fd_fmnist", "fd_higher": False}
            for s, a, f in ((100, 0.5, 40.0), (200, 0.6, 30.0), (300, 0.7, 35.0))]
    text = disagreement(rows)
    assert "200->300 (DIVE improves, fd_fmnist worsens)" in text and "100->200" not in text
    assert "DIVE +1.00, fd_fmnist +0.33; DIVE vs fd_fmnist: +0.33" in text
    agree = [{**r, "fd": 50 - 10 * i} for i, r in enumerate(rows)]
    assert "never move in opposite directions" in disagreement(agree)
    assert disagreement([{k: v for k, v in r.items() if k != "fd"} for r in rows]) == ""


def test_kept_checkpoints_survive_a_resume_bit_identically(trained, tmp_path):
    """A run killed after step 3 and resumed keeps the same checkpoints as the uninterrupted one."""
    from safetensors.torch import load_file

    cfg = dict(dataset="digits", preset="xs", batch_size=8, checkpoint_every=3, warmup=2, save_every=2)
    train_class_dit(ClassDiTTrainConfig(steps=3, **cfg), tmp_path)
    train_class_dit(ClassDiTTrainConfig(steps=6, **cfg), tmp_path)
    for name in ("step-000002", "step-000004", "step-000006"):
        a = load_file(trained / "checkpoints" / name / "diffusion_pytorch_model.safetensors")
        b = load_file(tmp_path / "checkpoints" / name / "diffusion_pytorch_model.safetensors")
        assert a.keys() == b.keys() and all(a[k].equal(b[k]) for k in a)
    assert not list((tmp_path / "checkpoints").glob(".*"))  # no temporary folder left behind
