"""``dive-bench train`` under hostile input: a rerun into the same --out under other settings, a flag
of another kind, absurd numbers, an --out that is a file, a scoring run or another kind's training,
a damaged training state. Each is refused in one line before anything in --out changes; the one
accepted change (``--resume-with-changes``) is recorded, so the card never names a command that
does not rebuild the weights."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from cli_checks import api_error, cli_error, digest
from dive_bench.cli.main import main
from factories import score_run

#: class-dit on digits, small enough for a second per session
FAST = ["train", "class-dit", "--dataset", "digits", "--batch-size", "8"]


def _train(out: Path, *extra: str, steps: int = 3) -> None:
    assert main([*FAST, "--steps", str(steps), "--out", str(out), *extra]) == 0


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A class-dit run "killed" after its step-3 checkpoint (3 steps, state saved at step 3)."""
    out = tmp_path_factory.mktemp("train") / "run"
    _train(out)
    return out


def _copy(src: Path, dest: Path) -> Path:
    import shutil

    shutil.copytree(src, dest)
    return dest


# -- a rerun into the same --out --------------------------------------------------------------------

def test_resume_under_another_lr_is_refused_naming_it_and_the_fix(trained, capsys):
    before = digest(trained)
    err = cli_error(capsys, [*FAST, "--steps", "6", "--lr", "0.05", "--out", str(trained)])
    assert "trained for 3 steps under other settings (--lr 0.001 -> 0.05)" in err
    assert "new --out" in err and "--resume-with-changes" in err
    assert digest(trained) == before


def test_resume_under_another_preset_is_one_line_not_a_traceback(trained, capsys):
    before = digest(trained)
    err = cli_error(capsys, [*FAST, "--steps", "6", "--preset", "s", "--out", str(trained)])
    assert "(--preset xs -> s)" in err
    assert digest(trained) == before


def test_every_changed_setting_is_named(trained, capsys):
    err = cli_error(capsys, [*FAST, "--steps", "6", "--seed", "2", "--objective", "v", "--out", str(trained)])
    assert "--objective eps -> v" in err and "--seed 0 -> 2" in err


def test_finished_run_with_a_new_seed_is_refused(trained, capsys):
    before = digest(trained)
    err = cli_error(capsys, [*FAST, "--steps", "3", "--seed", "1", "--out", str(trained)])
    assert "--seed 0 -> 1" in err
    assert digest(trained) == before


def test_fewer_steps_than_trained_is_refused(trained, capsys):
    """The step-3 weights would be exported and labelled as step 2."""
    before = digest(trained)
    err = cli_error(capsys, [*FAST, "--steps", "2", "--out", str(trained)])
    assert "--steps 2 is below the 3 steps" in err and "--steps 3 or more" in err
    assert digest(trained) == before


def test_the_api_refuses_alike(trained):
    from dive_bench.training.class_dit import ClassDiTTrainConfig, train_class_dit

    before = digest(trained)
    cfg = ClassDiTTrainConfig(dataset="digits", preset="xs", steps=6, batch_size=8, lr=0.05)
    assert "--lr 0.001 -> 0.05" in api_error(train_class_dit, cfg, trained)
    assert digest(trained) == before


def test_resume_with_changes_is_recorded_and_the_card_lists_the_history(trained, tmp_path):
    out = _copy(trained, tmp_path / "run")
    _train(out, "--lr", "0.05", "--resume-with-changes", steps=6)
    card = (out / "model" / "README.md").read_text()
    assert "- Command:" not in card  # no single command rebuilds these weights
    assert "no single command rebuilds these weights" in card
    assert "steps 0-3: as recorded" in card and "steps 3-6: resumed with --resume-with-changes, --lr 0.001 -> 0.05" in card
    history = json.loads((out / "model" / "dive_bench.json").read_text())["train_history"]
    assert [(h["from_step"], h["settings"]["lr"]) for h in history] == [(0, 0.001), (3, 0.05)]
    recorded = json.loads((out / "train_settings.json").read_text())
    assert recorded["kind"] == "class-dit" and recorded["history"] == history
    # the new settings are now the recorded ones: the same command reruns; the first one is refused
    _train(out, "--lr", "0.05", steps=6)
    assert main([*FAST, "--steps", "6", "--out", str(out)]) == 2


def test_unchanged_resume_keeps_one_command_on_the_card(trained, tmp_path):
    out = _copy(trained, tmp_path / "run")
    _train(out, steps=4)  # more steps: the weights of steps 1-3 are those of any longer run
    card = (out / "model" / "README.md").read_text()
    assert "- Command: `dive-bench train class-dit --dataset digits --preset xs --steps 4" in card
    assert "Settings history" not in card


# -- flags that do not apply --------------------------------------------------------------------------

@pytest.mark.parametrize("argv, expected", [
    (["class-dit", "--width", "64"], "--width does not apply to class-dit: its --preset fixes the width"),
    (["class-unet", "--patch", "2"], "--patch does not apply to class-unet: its --preset fixes the patch"),
    (["class-dit", "--vae", "x"], "--vae does not apply to class-dit: it is a flag of layout"),
    (["layout", "--augment", "flip"], "--augment does not apply to layout: it is a flag of feature-extractor"),
    (["feature-extractor", "--decoupled"], "--decoupled does not apply to feature-extractor: it is a flag of "
                                           "layout-prior"),
    (["layout-prior", "--no-resume"], "--no-resume does not apply to layout-prior"),
])
def test_a_flag_of_another_kind_is_refused(argv, expected, tmp_path, capsys):
    err = cli_error(capsys, ["train", *argv, "--out", str(tmp_path / "new")])
    assert expected in err
    assert not (tmp_path / "new").exists()


# -- absurd values ------------------------------------------------------------------------------------

@pytest.mark.parametrize("flag, value, expected", [
    ("--steps", "0", "--steps (steps) must be an integer >= 1"),
    ("--steps", "1e30", "--steps '1e30' is not a whole number"),
    ("--steps", "10000000000000", "<= 1000000000"),
    ("--lr", "nan", "--lr (lr) must be a finite number > 0 and <= 1, got nan"),
    ("--lr", "1e308", "--lr (lr) must be a finite number > 0 and <= 1"),
    ("--lr", "fast", "--lr 'fast' is not a number"),
    ("--batch-size", "0", "--batch-size (batch_size) must be an integer >= 1"),
    ("--batch-size", "1000000000", "<= 65536"),
    ("--seed", "-1", "--seed (seed) must be an integer >= 0"),
    ("--seed", "99999999999999", "<= 4294967295"),  # would overflow the per-step generator's seed
    ("--objective", "bogus", "--objective (objective) must be one of eps, v, x0, flow, edm"),
    ("--save-every", "-3", "--save-every (save_every) must be an integer >= 0"),
])
def test_absurd_values_are_refused_before_anything_is_written(flag, value, expected, tmp_path, capsys):
    err = cli_error(capsys, [*FAST, flag, value, "--out", str(tmp_path / "new")])
    assert expected in err
    assert not (tmp_path / "new").exists()


def test_a_diverged_loss_stops_the_run_in_one_line(tmp_path):
    from dive_bench.training.common import diverged

    err = api_error(diverged, float("nan"), 41, 0.9, tmp_path / "train_state.pt")
    assert "training diverged: the loss is nan at step 42 (lr 0.9)" in err and "lower --lr" in err
    diverged(0.25, 41, 0.9, tmp_path / "train_state.pt")  # a finite loss goes on


# -- what --out holds ---------------------------------------------------------------------------------

def test_out_that_is_a_file_is_refused(tmp_path, capsys):
    f = tmp_path / "notes.txt"
    f.write_text("mine")
    err = cli_error(capsys, [*FAST, "--steps", "2", "--out", str(f)])
    assert f"--out {f} is a file" in err
    assert f.read_text() == "mine"


def test_out_holding_a_scoring_run_is_refused(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_text(json.dumps(score_run("m", 1000, 30)))
    before = digest(run)
    err = cli_error(capsys, [*FAST, "--steps", "2", "--out", str(run)])
    assert "holds run.json and no training run" in err and "new or empty --out" in err
    assert digest(run) == before


def test_out_holding_another_kind_is_refused(trained, capsys):
    before = digest(trained)
    err = cli_error(capsys, ["train", "feature-extractor", "--steps", "2", "--out", str(trained)])
    assert "holds a class-dit training run, not feature-extractor" in err
    err = cli_error(capsys, ["train", "class-unet", "--dataset", "digits", "--steps", "2", "--out", str(trained)])
    assert "holds a class-dit training run, not class-unet" in err
    assert digest(trained) == before


def test_layout_prior_into_a_folder_that_is_no_layout_model_is_refused(trained, tmp_path, capsys):
    err = cli_error(capsys, ["train", "layout-prior", "--steps", "2", "--out", str(trained)])
    assert f"--out {trained} is a training folder; give its model, --out {trained / 'model'}" in err
    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_text("{}")
    assert "holds a scoring run, not a layout model" in cli_error(
        capsys, ["train", "layout-prior", "--steps", "2", "--out", str(run)])


# -- a damaged training state ---------------------------------------------------------------------------

@pytest.mark.parametrize("damage", ["truncated", "random bytes", "a pickled object", "another model's state"])
def test_a_damaged_state_is_refused_naming_it_never_restarted(damage, trained, tmp_path, capsys):
    out = _copy(trained, tmp_path / "run")
    state = out / "train_state.pt"
    if damage == "truncated":
        state.write_bytes(state.read_bytes()[:1000])
    elif damage == "random bytes":
        state.write_bytes(bytes(range(256)) * 8)
    elif damage == "a pickled object":  # weights_only refuses it: it is never unpickled
        torch.save({"step": 3, "model": Path("x")}, state)
    else:  # a readable state of a smaller model, e.g. copied from another folder
        torch.save({"step": 3, "model": {"w": torch.zeros(2)}, "ema": {}, "opt": {}, "losses": [0.0]}, state)
    before = digest(out)
    err = cli_error(capsys, [*FAST, "--steps", "6", "--out", str(out)])
    assert str(state) in err and ("--no-resume" in err or "new --out" in err)
    assert digest(out) == before


def test_a_missing_state_beside_a_trained_model_is_refused(trained, tmp_path, capsys):
    out = _copy(trained, tmp_path / "run")
    (out / "train_state.pt").unlink()
    before = digest(out)
    err = cli_error(capsys, [*FAST, "--steps", "6", "--out", str(out)])
    assert "train_state.pt is missing" in err and "--no-resume" in err
    assert digest(out) == before


def test_a_damaged_settings_record_is_refused_naming_it(trained, tmp_path, capsys):
    out = _copy(trained, tmp_path / "run")
    (out / "train_settings.json").write_text('{"kind": "class-dit", "hist')
    before = digest(out)
    err = cli_error(capsys, [*FAST, "--steps", "6", "--out", str(out)])
    assert "train_settings.json is damaged" in err
    assert digest(out) == before


# -- the other resumable kinds --------------------------------------------------------------------------

def test_feature_extractor_refuses_more_steps_as_its_schedule_spans_them(tmp_path, monkeypatch, capsys):
    """Its lr decays on a cosine over the total steps: another total changes every step's rate."""
    from dive_bench.data import canvas_compositions

    monkeypatch.setattr(canvas_compositions, "SPLITS", {"train": 24, "test": 12})
    argv = ["train", "feature-extractor", "--dataset", "canvas", "--batch-size", "8", "--widths", "4,4,8",
            "--data-root", str(tmp_path / "data"), "--out", str(tmp_path / "out")]
    assert main([*argv, "--steps", "3"]) == 0
    before = digest(tmp_path / "out")
    err = cli_error(capsys, [*argv, "--steps", "6"])
    assert "(--steps 3 -> 6)" in err and "--resume-with-changes" in err
    assert digest(tmp_path / "out") == before


def test_layout_refuses_another_width_on_resume(tmp_path):
    from dive_bench.training.layout import LayoutTrainConfig, train_layout

    small = dict(train_images=16, val_images=4, steps=1, batch_size=2, depth=1, check_every=1, check_images=2,
                 checkpoint_every=1)
    train_layout(LayoutTrainConfig(width=32, **small), tmp_path / "out")
    before = digest(tmp_path / "out")
    err = api_error(train_layout, LayoutTrainConfig(**{**small, "width": 16, "steps": 2}), tmp_path / "out")
    assert "trained for 1 step under other settings (--width 32 -> 16)" in err
    assert digest(tmp_path / "out") == before


def test_a_folder_trained_before_settings_were_kept_resumes_and_says_so(trained, tmp_path):
    """Its first steps' settings are unknown: the card must not claim a command rebuilds them."""
    out = _copy(trained, tmp_path / "run")
    (out / "train_settings.json").unlink()
    _train(out, steps=4)
    card = (out / "model" / "README.md").read_text()
    assert "steps 0-3: settings not recorded" in card and "- Command:" not in card
