"""``dive-bench sweep CKPT_DIR``: score every checkpoint a training run kept (``train --save-every``).

Why a driver of its own: watching a model improve during training means scoring many checkpoints
under one protocol. Each checkpoint gets its own run folder (``OUT/score/step-NNNNNN``, and
``OUT/fidelity/step-NNNNNN`` with ``--fidelity``) written by the same code as ``score --out`` and
``fidelity --out``, so each is resumable as they are, and every checkpoint sees the same items,
probes and seeds (they derive from the task, method config and seed, never from the model). The
fidelity reference statistics are computed by the first checkpoint and read from the feature
cache by the others. The checkpoint (step and folder) goes into each run's request, so its shards
keep it and run.json records it however it is written (``score``, ``fidelity``, a later ``merge``).
``OUT/sweep.json`` pins the protocol: a rerun with other settings is refused
instead of mixing two protocols in one plot. Checkpoints whose run.json files are complete are
skipped without loading them. The table and plot come from ``sweep_report`` (run.json only).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from dive_bench.errors import DiveBenchError
from dive_bench.report.grouping import sweep_protocol
from dive_bench.spec.result import RunResult
from dive_bench.spec.run_json import write_json_atomic
from dive_bench.util.files import oneline

SWEEP_FILE = "sweep.json"
_STEP_NAME = re.compile(r"step-(\d+)")


@dataclass
class SweepRequest:
    """What ``dive-bench sweep`` was asked: the checkpoints, one scoring protocol, optional fidelity."""

    ckpt_dir: Path
    task: str
    out: Path
    method: str = "dive"
    method_config: dict = field(default_factory=dict)
    adapter: str = "dit"
    limit: int | None = None
    seed: int = 0
    device: str = "cpu"
    dtype: str = "fp32"
    items_per_batch: int = 16
    data_root: str | None = None
    progress: bool = True
    #: FidelityRequest fields (reference, num_samples, feature_extractor, ...) or None: no fidelity
    fidelity: dict | None = None


def _step_of(folder: Path) -> int | None:
    """The step in a checkpoint's dive_bench.json (``train --save-every`` records it), else in its name."""
    meta = folder / "dive_bench.json"
    if meta.is_file():
        try:
            return int(json.loads(meta.read_text())["step"])
        except (ValueError, KeyError, TypeError, OSError):
            pass
    m = _STEP_NAME.fullmatch(folder.name)
    return int(m.group(1)) if m else None


def find_checkpoints(ckpt_dir: str | Path) -> list[tuple[int, Path]]:
    """(step, folder) of every checkpoint under ``ckpt_dir`` (a training ``--out`` or its
    ``checkpoints/``), sorted by step; one DiveBenchError when there are none or two share a step."""
    root = Path(ckpt_dir)
    if not root.is_dir():
        raise DiveBenchError(f"{root} is not a folder; pass the --out folder of `dive-bench train class-dit "
                             "--save-every N` (or its checkpoints/ folder)")
    base = root / "checkpoints" if (root / "checkpoints").is_dir() else root
    found: dict[int, Path] = {}
    for folder in sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith(".")):
        step = _step_of(folder)
        if step is None:
            continue
        if step in found:
            raise DiveBenchError(f"{found[step]} and {folder} are both step {step}; keep one of them and rerun")
        found[step] = folder
    if not found:
        raise DiveBenchError(f"no checkpoints in {base}: expected step-NNNNNN folders with dive_bench.json; train "
                             "with `dive-bench train class-dit --save-every N --out DIR` and sweep DIR")
    return sorted(found.items())


def protocol(req: SweepRequest) -> dict:
    """What must be equal across a sweep's checkpoints (and its reruns): the request's settings under
    ``report.grouping.sweep_protocol``, the one place that says which runs share a table or a sweep."""
    return sweep_protocol(task=req.task, method=req.method, method_config=req.method_config, adapter=req.adapter,
                          limit=req.limit, seed=req.seed, dtype=req.dtype, fidelity=req.fidelity)


def _pin_protocol(req: SweepRequest) -> None:
    """Write OUT/sweep.json, or refuse a rerun whose settings differ from the stored ones."""
    path = Path(req.out) / SWEEP_FILE
    proto = protocol(req)
    if path.is_file():
        stored = json.loads(path.read_text()).get("protocol")
        if stored != proto:
            changed = sorted(k for k in proto if proto.get(k) != (stored or {}).get(k))
            raise DiveBenchError(f"{req.out} holds a sweep with other settings ({', '.join(changed) or 'all'} differ); "
                                 "pass a new --out, or the same options as before to resume it")
        return
    Path(req.out).mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, {"protocol": proto, "checkpoints": str(Path(req.ckpt_dir).resolve())})


def run_dirs(out: Path, step: int) -> tuple[Path, Path]:
    """The score and fidelity run folders of ``step`` (zero-padded: they sort by step)."""
    name = f"step-{step:06d}"
    return Path(out) / "score" / name, Path(out) / "fidelity" / name


def _complete(run_dir: Path, step: int) -> bool:
    """A finished run.json of this step: the checkpoint needs no model load at all."""
    path = run_dir / "run.json"
    if not path.is_file():
        return False
    run = RunResult.load(path)
    return run.complete and run.checkpoint_step == step


def _load(req: SweepRequest, step: int, folder: Path) -> Any:
    """The checkpoint's adapter, or one line naming it: the results of the others are untouched."""
    from dive_bench.adapters import load_model
    from dive_bench.run.identity import remember_loaded

    try:
        # remembered as loaded from the file, so its runs keep the checkpoint's key (run.identity)
        return remember_loaded(load_model(f"{req.adapter}:{folder}"))
    except Exception as exc:  # noqa: BLE001  (any loader failure is this checkpoint's problem)
        raise DiveBenchError(f"checkpoint {folder} (step {step}) does not load as {req.adapter}:PATH "
                             f"({oneline(str(exc))[:200]}); re-save or remove it and rerun the sweep "
                             "(finished checkpoints are kept)") from exc


def _score_one(req: SweepRequest, step: int, folder: Path) -> None:
    """Score one checkpoint (and sample it for fidelity), each resumable as ``score``/``fidelity --out``."""
    from dive_bench.run.score import ScoreRequest, score

    score_dir, fid_dir = run_dirs(req.out, step)
    need_fid = req.fidelity is not None and not _complete(fid_dir, step)
    need_score = not _complete(score_dir, step)
    if not (need_score or need_fid):
        return
    adapter = _load(req, step, folder)
    # recorded in run.json by the run itself, so the report orders runs from run.json alone
    checkpoint = {"step": step, "folder": str(folder)}
    if need_score:
        # the request the API's ``evaluate`` builds for a live adapter (same key, same run.json)
        name = getattr(adapter, "name", type(adapter).__name__)
        score(ScoreRequest(model=name, task=req.task, method=req.method, method_config=req.method_config,
                           out=score_dir, limit=req.limit, seed=req.seed, device=req.device, dtype=req.dtype,
                           items_per_batch=req.items_per_batch, data_root=req.data_root, progress=False,
                           checkpoint=checkpoint), adapter=adapter)
    if need_fid:
        from dive_bench.run.fidelity import FidelityRequest, run_fidelity

        run_fidelity(FidelityRequest(model=f"{req.adapter}:{folder}", out=fid_dir, device=req.device,
                                     data_root=req.data_root, progress=False, checkpoint=checkpoint, **req.fidelity),
                     adapter=adapter)


def run_sweep(req: SweepRequest) -> list[tuple[int, Path]]:
    """Score every checkpoint in step order, skipping finished ones; returns the (step, folder) list."""
    checkpoints = find_checkpoints(req.ckpt_dir)
    _pin_protocol(req)
    for step, folder in tqdm(checkpoints, desc=f"sweep {req.method} on {req.task}", disable=not req.progress):
        _score_one(req, step, folder)
    return checkpoints
