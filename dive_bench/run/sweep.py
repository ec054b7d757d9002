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

Many workers (``--shard K/N``, or torchrun's RANK/WORLD_SIZE, or a SLURM array, read by
``util.shard.resolve_shard`` as ``score`` reads them): worker K scores the checkpoints of its share
(:func:`share`), each whole, so they need no communication; each checks or writes sweep.json the
same way, and the page is written by a worker that finds every checkpoint complete (:func:`pending`).
"""

from __future__ import annotations

import json
import os
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from dive_bench.errors import DiveBenchError
from dive_bench.report.grouping import sweep_protocol
from dive_bench.spec.result import RunResult
from dive_bench.spec.run_json import write_json_atomic
from dive_bench.util.files import oneline
from dive_bench.util.shard import resolve_shard

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
    #: "K/N": this worker's share of the checkpoints; None reads RANK/WORLD_SIZE or the SLURM array, else 0/1
    shard: str | None = None
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


def _refuse_other(req: SweepRequest, path: Path, proto: dict) -> None:
    """One DiveBenchError unless the sweep.json at ``path`` pins ``proto``."""
    try:
        stored = json.loads(path.read_text()).get("protocol")
    except (OSError, ValueError, AttributeError) as exc:
        raise DiveBenchError(f"{path} is not a readable sweep.json ({oneline(str(exc))[:120]}); pass a new --out, "
                             "or delete it and rerun with the sweep's options (its run folders are kept)") from exc
    if stored != proto:
        changed = sorted(k for k in proto if proto.get(k) != (stored or {}).get(k))
        raise DiveBenchError(f"{req.out} holds a sweep with other settings ({', '.join(changed) or 'all'} differ); "
                             "pass a new --out, or the same options as before to resume it")


def _pin_protocol(req: SweepRequest) -> None:
    """Write OUT/sweep.json, or refuse a worker or rerun whose settings differ from the stored ones.

    The file is published whole and only if absent (a complete temporary file hard-linked to its
    name): of two workers racing to create it, one writes it and the other reads and compares it,
    so a worker started with another protocol is refused even when both start at once."""
    path = Path(req.out) / SWEEP_FILE
    proto = protocol(req)
    if path.is_file():
        _refuse_other(req, path, proto)
        return
    Path(req.out).mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{SWEEP_FILE}.new-{os.getpid()}-{uuid.uuid4().hex[:8]}")  # per thread too
    write_json_atomic(tmp, {"protocol": proto, "checkpoints": str(Path(req.ckpt_dir).resolve())})
    try:
        os.link(tmp, path)  # fails if another worker published first: then its protocol must be ours
    except FileExistsError:
        _refuse_other(req, path, proto)
    except OSError:  # a file system without hard links: replace (the race is left to the workers' start times)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def share(checkpoints: list[tuple[int, Path]], k: int, n: int) -> list[tuple[int, Path]]:
    """Worker ``k`` of ``n``'s checkpoints: those at positions j of the step-sorted list with j % n == k.

    Why this rule: it is deterministic (every worker computes it from the checkpoint folder alone,
    with no communication), independent of which checkpoints are done (a worker restarted after
    the others finished takes the same ones, and two workers never score one checkpoint at once),
    and balanced (shares differ by at most one checkpoint and each spans early and late steps,
    whose costs differ). Workers must see the same list: a checkpoint saved between two workers'
    starts shifts the positions (a clash on a run folder's shard then stops one with one line)."""
    return checkpoints[k::n]


def pending(req: SweepRequest, checkpoints: list[tuple[int, Path]]) -> list[int]:
    """The steps whose score (or, with fidelity, fidelity) run.json is not complete yet."""
    return [step for step, _ in checkpoints
            if not all(_complete(d, step) for d in run_dirs(req.out, step)[: 2 if req.fidelity is not None else 1])]


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
                           checkpoint=checkpoint, shard="0/1"),  # whole: the sweep shards checkpoints, not items
              adapter=adapter)
    if need_fid:
        from dive_bench.run.fidelity import FidelityRequest, run_fidelity

        # whole, as the score above: under torchrun, fidelity would otherwise read RANK and sample a share
        run_fidelity(FidelityRequest(model=f"{req.adapter}:{folder}", out=fid_dir, device=req.device,
                                     data_root=req.data_root, progress=False, checkpoint=checkpoint,
                                     **{**req.fidelity, "shard": "0/1"}), adapter=adapter)


@dataclass
class SweepOutcome:
    """What one worker did: every checkpoint, its (K, N), its share, and the steps still pending."""

    checkpoints: list[tuple[int, Path]]
    shard: tuple[int, int]
    mine: list[tuple[int, Path]]
    pending: list[int]


def run_sweep(req: SweepRequest) -> SweepOutcome:
    """Score this worker's share of the checkpoints in step order, skipping finished ones."""
    k, n = resolve_shard(req.shard)
    checkpoints = find_checkpoints(req.ckpt_dir)
    _pin_protocol(req)
    mine = share(checkpoints, k, n)
    worker = f" [{k}/{n}]" if n > 1 else ""
    for step, folder in tqdm(mine, desc=f"sweep {req.method} on {req.task}{worker}", disable=not req.progress):
        _score_one(req, step, folder)
    return SweepOutcome(checkpoints, (k, n), mine, pending(req, checkpoints))
