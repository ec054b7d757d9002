"""Find a model's samples on disk by content: for a fidelity run, and for a ``generated:G.S`` run.

A sample folder (``generative/sample_cache.py``, not imported here: it imports torch) holds
``{index:06d}.png`` and a ``manifest.json`` whose ``config`` pins what made them. Paths in run.json
go stale (the fidelity run's ``samples.folder`` may be a /tmp folder of another machine), so a
folder is used only if its manifest's config is the run's: equal to a fidelity run's
``samples.config``, or giving the ``G.S`` name of a ``generated:`` run (``spec.digests``). A folder
of another configuration is never shown as this run's samples.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from dive_bench.report.item_pixels import ItemImages, read_png
from dive_bench.spec.digests import generated_name
from dive_bench.spec.result import RunResult

MANIFEST = "manifest.json"
#: the part after ``generated:`` in a self-consistency task's name
GENERATED = re.compile(r"([0-9a-f]{16}\.[0-9a-f]{16})(\.layout)?")


def _config_of(folder: Path) -> dict | None:
    """The manifest's ``config`` of a sample folder, None where there is no readable one."""
    try:
        manifest = json.loads((folder / MANIFEST).read_bytes())
    except (OSError, ValueError, RecursionError):
        return None
    config = manifest.get("config") if isinstance(manifest, dict) else None
    return config if isinstance(config, dict) else None


def _candidates(first: Sequence[Path], search: Sequence[Path]) -> Iterator[Path]:
    """``first`` in order, then each search path and its subfolders (one level), each also with
    ``/samples`` (a fidelity run's --out keeps its samples there); every folder once."""
    seen: set[Path] = set()
    roots: list[Path] = list(first)
    for path in search:
        path = Path(path)
        roots.append(path)
        try:
            roots += sorted(p for p in path.iterdir() if p.is_dir())
        except OSError:
            continue
    for root in roots:
        for folder in (root, root / "samples"):
            if folder not in seen:
                seen.add(folder)
                yield folder


def _find(first: Sequence[Path], search: Sequence[Path], accept: Callable[[dict], bool]) -> Path | None:
    for folder in _candidates(first, search):
        config = _config_of(folder)
        if config is not None and accept(config):
            return folder
    return None


def _reader(folder: Path) -> Callable[[int], object]:
    return lambda i: read_png(folder / f"{i:06d}.png", f"sample {i} of {folder}")


def _searched(first: Sequence[Path], search: Sequence[Path]) -> str:
    places = [str(p) for p in (*first, *search)]
    return ", ".join(places[:4]) + (f" (+{len(places) - 4} more)" if len(places) > 4 else "") if places else "nowhere"


def samples_of(run: RunResult, search: Sequence[Path] = ()) -> ItemImages:
    """A fidelity run's samples (sample i is item i): its ``samples.folder``, then ``samples/``
    beside its run.json, then the ``search`` paths; the first folder whose manifest config is the
    run's ``samples.config``."""
    samples = run.samples
    if samples is None or not isinstance(samples.get("config"), dict):
        return ItemImages.unavailable(f"fidelity run {run.name}", f"run {run.name} records no sample configuration "
                                      "(run.json samples.config), so its samples cannot be recognised; rerun "
                                      "`dive-bench fidelity` with this version")
    want = json.loads(json.dumps(samples["config"], sort_keys=True))  # as the manifest stores it
    first = [Path(samples["folder"])] if samples.get("folder") else []
    if run.path:
        first.append(Path(run.path).parent / "samples")
    folder = _find(first, search, lambda config: config == want)
    what = f"samples of {want.get('model')} ({want.get('sampler')}, {want.get('steps')} steps, seed {want.get('seed')})"
    if folder is None:
        return ItemImages.unavailable(what, f"no folder of {what} found (a manifest.json whose config is the run's "
                                            f"samples.config) in {_searched(first, search)}; pass the fidelity run's "
                                            "--out folder as a search path")
    return ItemImages(f"{what} in {folder}", read=_reader(folder), count=run.n_items)


def generated_samples(name: str, search: Sequence[Path] = (), count: int | None = None) -> ItemImages:
    """The samples behind task ``generated:NAME`` (``G.S`` or ``G.S.layout``): the first folder
    among ``search`` whose manifest config gives the name ``G.S``."""
    match = GENERATED.fullmatch(name)
    if match is None:
        return ItemImages.unavailable(f"generated:{name}", f"generated:{name} is not a sample set's name (16 hex "
                                      "digits, '.', 16 hex digits); rerun `dive-bench merge` on the run")
    want = match.group(1)
    folder = _find([], search, lambda config: generated_name(config) == want)
    what = f"samples of generated:{name}"
    if folder is None:
        return ItemImages.unavailable(what, f"no sample folder whose manifest gives generated:{want} in "
                                            f"{_searched([], search)}; pass the folder of the fidelity run that made "
                                            "them (its --out) as a search path")
    return ItemImages(f"{what} in {folder}", read=_reader(folder), count=count)


__all__ = ["generated_samples", "samples_of"]
