"""A fidelity run split across workers: who samples what, who computes the metrics, and ``merge``.

Why this works without any communication between workers: sample i's seed and label depend on i
alone, so worker K of N samples the indices K, K+N, K+2N, ... (``generative.sampling.shard_indices``)
into the shared sample folder, each PNG committed by an atomic rename, and any split (1, 2 or 8
workers, or one worker resuming another's killed share) leaves bit-identical samples. Metrics are
computed once, from all N samples, by whichever worker finds none missing when it finishes (an
exclusive flock keeps two finishing workers from both computing), or by ``dive-bench merge OUT``.

``OUT/fidelity.json`` pins the run's protocol (its key: model weights, sample configuration, N,
reference, extractor, metric options) and the request that reproduces it: a worker started with
another protocol in the same folder is refused before it samples, and ``merge`` computes the
metrics with exactly the request the workers ran.
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from dive_bench.errors import DiveBenchError
from dive_bench.spec.run_json import write_json_atomic

PROTOCOL_FILE = "fidelity.json"
#: request fields that are each worker's own (``merge`` runs with the rest: device, batch sizes and
#: cache of the workers, which change no number)
WORKER_FIELDS = ("shard", "progress", "out")


def request_record(req) -> dict:
    """The request as JSON (``merge`` rebuilds it with :func:`request_from`)."""
    record = {f.name: getattr(req, f.name) for f in dataclasses.fields(req)}
    record["out"] = str(record["out"])
    if record.get("metric_options") is not None:
        record["metric_options"] = dataclasses.asdict(record["metric_options"])
    return record


def request_from(out: Path, record: dict, request_type: type):
    """A ``request_type`` (``run.fidelity.FidelityRequest``, passed in: that module imports this
    one) from :func:`request_record`'s JSON, for ``out``, sampling nothing (``merge``)."""
    from dive_bench.generative.metrics import MetricOptions

    known = {f.name for f in dataclasses.fields(request_type)}
    values = {k: v for k, v in record.items() if k in known}
    if values.get("metric_options") is not None:
        values["metric_options"] = MetricOptions(**values["metric_options"])
    values.update(out=Path(out), shard=None, progress=False)
    return request_type(**values)


def claim_protocol(out: Path, key: str, method_config: dict, req) -> None:
    """Record this run's protocol in ``out/fidelity.json``, or refuse when the folder holds an
    unfinished run of another (a second worker with other settings would mix two runs' samples or
    metrics). After a complete run, a new protocol may start (a larger N reuses the samples)."""
    path = Path(out) / PROTOCOL_FILE
    if path.is_file():
        try:
            stored = json.loads(path.read_bytes())
        except (OSError, ValueError) as exc:
            raise DiveBenchError(f"{path} is unreadable ({' '.join(str(exc).split())[:100]}); delete it and rerun "
                                 "(the samples are kept)") from exc
        if stored.get("run_key") == key:
            return
        if _finished(Path(out), stored.get("run_key")):
            stored = None  # the folder's last run is complete: a new one (e.g. more samples) may start
    if path.is_file() and stored is not None:
        was = stored.get("method_config") or {}
        diff = sorted(k for k in set(was) | set(method_config) if was.get(k) != method_config.get(k))
        details = "; ".join(f"{k}: folder has {was.get(k)!r}, this worker {method_config.get(k)!r}" for k in diff[:4])
        details = details or "another model or reference"
        raise DiveBenchError(f"{out} holds an unfinished fidelity run of another protocol ({details}); start every worker with the same settings, or delete {path} to start over "
                             "(samples of the same sample configuration are reused)")
    Path(out).mkdir(parents=True, exist_ok=True)
    record = {k: v for k, v in request_record(req).items() if k not in WORKER_FIELDS}
    write_json_atomic(path, {"run_key": key, "method_config": method_config, "request": record},
                      intact="the samples are kept; rerun the same command")


def _finished(out: Path, key: str | None) -> bool:
    """Whether ``out/run.json`` is the complete result of the run keyed ``key``."""
    from dive_bench.spec.result import RunResult

    try:
        run = RunResult.load(out / "run.json")
    except DiveBenchError:  # absent or damaged: not a finished run
        return False
    return key is not None and run.run_key == key and run.complete


def stored_request(out: Path, request_type: type):
    """The request the workers of ``out`` ran (``merge``), or one line saying why there is none."""
    path = Path(out) / PROTOCOL_FILE
    if not path.is_file():
        raise DiveBenchError(f"{out} holds no {PROTOCOL_FILE}: it is not the --out folder of a `dive-bench fidelity` "
                             "run of this version (rerun the fidelity command; its samples are reused)")
    try:
        return request_from(Path(out), json.loads(path.read_bytes())["request"], request_type)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DiveBenchError(f"{path} is damaged ({' '.join(str(exc).split())[:100]}); rerun any worker's fidelity "
                             "command to finish the run (the samples are kept)") from exc


@contextmanager
def metrics_turn(out: Path) -> Iterator[bool]:
    """True for the one worker that may compute the metrics now: an exclusive, non-blocking flock
    on ``out/.metrics.lock``; a worker that finds it held leaves the metrics to its holder."""
    Path(out).mkdir(parents=True, exist_ok=True)
    with open(Path(out) / ".metrics.lock", "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def is_fidelity_folder(out: Path) -> bool:
    """``merge`` on this folder computes fidelity metrics rather than uniting score shards."""
    return (Path(out) / PROTOCOL_FILE).is_file() and not (Path(out) / "shards").is_dir()


def waiting_line(out: Path, n: int) -> str:
    """What a worker that did not compute the metrics prints: how far the run is, and what next."""
    folder = Path(out) / "samples"
    present = sum(1 for p in folder.glob("*.png") if p.stem.isdigit() and int(p.stem) < n) if folder.is_dir() else 0
    if present < n:
        return (f"this worker's share is sampled; {present} of {n} samples are in {folder}. The last worker to finish "
                f"computes the metrics (or, once every worker is done: dive-bench merge {out})")
    return f"all {n} samples are in {folder}; another worker is computing the metrics into {Path(out) / 'run.json'}"
