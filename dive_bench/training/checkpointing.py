"""Resumable training state: one file, written atomically, loaded with ``weights_only=True``; and the
settings a training folder was trained under (``train_settings.json``).

A rerun into the same ``--out`` resumes from ``train_state.pt``. Before the settings were recorded,
a rerun with another ``--lr`` silently continued the old state at the new rate and the model card
then named the new command as the one that rebuilds the weights; a new ``--preset`` died in
``load_state_dict``. Now every session compares its settings with the recorded ones first (the
way scoring refuses another config in the same ``--out``): a change that alters the weights is
refused, or, with ``resume_with_changes``, accepted and appended to the recorded history, which
the model card then lists instead of a single command.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from dive_bench.errors import DiveBenchError
from dive_bench.spec.options import allowed_of

#: the recorded settings of a training folder (beside ``train_state.pt``)
SETTINGS_FILE = "train_settings.json"
STATE_FILE = "train_state.pt"
_FIX = "train into a new --out, or pass --resume-with-changes (resume_with_changes=True) to continue under the new " \
       "settings (the model card then lists which steps ran under which)"


def save_state(path: Path, state: dict) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(state, tmp)
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load_state(path: Path) -> dict | None:
    """The state in ``path`` (None: no file). A damaged or foreign file is refused naming it: a
    silent restart from scratch would throw the steps it holds away."""
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated zip, random bytes, a pickle with objects: all unreadable here
        raise DiveBenchError(f"{path} is not a readable training state ({type(exc).__name__}); restore it from a "
                             "backup, or rerun with --no-resume (resume=False) to start over, losing its steps") from None
    if not isinstance(state, dict) or not isinstance(state.get("step"), int) or "model" not in state:
        raise DiveBenchError(f"{path} is not a training state (no step and model weights); restore it, or rerun with "
                             "--no-resume (resume=False) to start over")
    return state


def restore(path: Path, state: dict, **parts: Any) -> None:
    """Load ``state[name]`` into each ``parts[name]`` (a module or optimiser); a state of another
    model (another preset, width, dataset) is refused naming the file, not a torch traceback."""
    try:
        for name, part in parts.items():
            part.load_state_dict(state[name])
    except (KeyError, RuntimeError, ValueError, TypeError) as exc:
        # torch's message opens with a heading ("Error(s) in loading state_dict for X:"): name X's first problem
        lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip() and not ln.strip().endswith(":")]
        detail = (lines[0][:120] + ("..." if len(lines[0]) > 120 else "")) if lines else type(exc).__name__
        raise DiveBenchError(f"{path} does not fit the model these settings build ({detail}); rerun with the settings "
                             "it was trained with, or train into a new --out") from None


def _shown(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(_shown(v) for v in value) if value and not isinstance(value[0], (list, tuple)) else \
            ",".join("x".join(map(str, v)) for v in value)
    return str(value)


def _flag(name: str, config: type) -> str:
    """How a setting is named to the user: its flag when it has one, else its field name."""
    f = next((f for f in dataclasses.fields(config) if f.name == name), None)
    spec = allowed_of(f) if f is not None else None
    return spec.flag if spec is not None and spec.flag else name


def _changes(before: dict, after: dict, config: type) -> list[str]:
    """``--flag old -> new`` for every setting that changes the weights (all but the config's
    ``RESUME_FREE``) and differs."""
    free = getattr(config, "RESUME_FREE", frozenset())
    return [f"{_flag(k, config)} {_shown(before.get(k))} -> {_shown(v)}" for k, v in after.items()
            if k not in free and before.get(k) != v]


def _plain(settings: dict) -> dict:
    """JSON round trip: tuples become lists, so fresh and recorded settings compare alike."""
    return json.loads(json.dumps(settings))


@dataclass
class Session:
    """One training session's view of its ``--out``: the step it resumes at and the settings
    history (``[{"from_step": N, "settings": {...}}, ...]``; settings None: not recorded, a folder
    trained before the settings were kept)."""

    out: Path
    kind: str
    history: list[dict] = field(default_factory=list)
    #: the state to resume from (None: start at step 0)
    state: dict | None = None

    def record(self) -> None:
        """Create ``out`` and write the settings history there: the trainer calls it once the state
        is restored, before its first step, so a refused session leaves ``out`` as it was."""
        self.out.mkdir(parents=True, exist_ok=True)
        _write_settings(self.out / SETTINGS_FILE, self.kind, self.history)

    @property
    def rebuilt_by_one_command(self) -> bool:
        return len(self.history) == 1 and self.history[0]["settings"] is not None

    def history_text(self, config: type, last_step: int) -> str:
        """The card's line when no single command rebuilds the weights: which steps ran under what."""
        parts = []
        for i, entry in enumerate(self.history):
            end = self.history[i + 1]["from_step"] if i + 1 < len(self.history) else last_step
            span = f"steps {entry['from_step']}-{end}"
            if entry["settings"] is None:
                parts.append(f"{span}: settings not recorded (trained before dive-bench kept them)")
            elif i == 0 or self.history[i - 1]["settings"] is None:
                parts.append(f"{span}: as recorded in {SETTINGS_FILE}")
            else:
                before = self.history[i - 1]["settings"]
                changed = _changes(before, entry["settings"], config)
                parts.append(f"{span}: resumed with --resume-with-changes, " + (", ".join(changed) or "no change"))
        return ("- Settings history (no single command rebuilds these weights; each session is in "
                f"{SETTINGS_FILE}): " + "; ".join(parts) + ".\n")


def _read_settings(path: Path) -> dict:
    try:
        record = json.loads(path.read_text())
        history = record["history"]
        if not isinstance(record.get("kind"), str) or not isinstance(history, list) or not history or not all(
                isinstance(e, dict) and isinstance(e.get("from_step"), int) and
                (e.get("settings") is None or isinstance(e.get("settings"), dict)) for e in history):
            raise ValueError
    except (OSError, ValueError, KeyError, TypeError):
        raise DiveBenchError(f"{path} is damaged (not the settings record of a training run); restore it, or delete "
                             "it to resume under the current settings unchecked") from None
    return record


def _write_settings(path: Path, kind: str, history: list[dict]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({"kind": kind, "history": history}, indent=2) + "\n")
    os.replace(tmp, path)


def begin(out: Path, kind: str, cfg: Any, *, resume: bool = True, resume_with_changes: bool = False) -> Session:
    """Check ``out`` for a training of ``kind`` under ``cfg``; call it after validating ``cfg`` and
    before anything is written, then :meth:`Session.record` once the state is restored. Refused (``DiveBenchError``, nothing written):
    ``out`` is a file; ``out`` holds something other than a training run (a scoring run, stray
    files); it holds another kind's training; its state was trained under other settings (each
    changed setting named, old -> new) unless ``resume_with_changes``; ``--steps`` below the steps
    already trained. Settings in ``cfg.RESUME_FREE`` do not change the weights and may differ.
    With ``resume=False`` the folder's state is ignored and its history starts over."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise DiveBenchError(f"--out {out} is a file, not a folder; give a new or existing folder")
    settings_path, state_path = out / SETTINGS_FILE, out / STATE_FILE
    current = _plain(dataclasses.asdict(cfg))
    record = _read_settings(settings_path) if settings_path.exists() else None
    if record is None and out.is_dir() and not state_path.exists():
        held = sorted(p.name + ("/" if p.is_dir() else "") for p in out.iterdir() if not p.name.startswith("."))
        if held:
            raise DiveBenchError(f"--out {out} holds {', '.join(held[:4])}{', ...' if len(held) > 4 else ''} and no "
                                 f"training run; train {kind} into a new or empty --out")
    if record is not None and record["kind"] != kind:
        raise DiveBenchError(f"--out {out} holds a {record['kind']} training run, not {kind}; train {kind} into a "
                             "new --out")
    state = load_state(state_path) if resume else None
    if state is None and resume and record is not None and (out / "model").is_dir():
        raise DiveBenchError(f"{state_path} is missing but {out / 'model'} holds a trained model: resuming would "
                             "start over; restore the state, or rerun with --no-resume (resume=False) to retrain "
                             "from scratch")
    done = int(state["step"]) if state is not None else 0
    if done == 0:  # nothing trained yet (or started over): the history is this session alone
        history = [{"from_step": 0, "settings": current}]
    else:
        history = list(record["history"]) if record is not None else [{"from_step": 0, "settings": None}]
        before = history[-1]["settings"]
        changed = [] if before is None else _changes(before, current, type(cfg))
        if cfg.steps < done:
            raise DiveBenchError(f"--steps {cfg.steps} is below the {done} steps {out} already holds; give --steps "
                                 f"{done} or more, or train into a new --out")
        if changed and not resume_with_changes:
            raise DiveBenchError(f"--out {out} was trained for {done} step{'s' if done != 1 else ''} under other settings "
                                 f"({'; '.join(changed)}); {_FIX}")
        if changed or before is None:
            if history[-1]["from_step"] == done:
                history[-1] = {"from_step": done, "settings": current}
            else:
                history.append({"from_step": done, "settings": current})
        else:  # the settings that may change freely (steps, checkpoint spacing) are kept current
            history[-1] = {**history[-1], "settings": current}
    return Session(out, kind, history, state)
