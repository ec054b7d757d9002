"""The one deprecation map of the 2026-12 restructure: old module paths -> their new homes.

The flat top level (``dive_bench.configs``, ``dive_bench.runner``, ``dive_bench.compare``, ...)
became concept packages (``spec/``, ``run/``, ``report/``, ...). Code written against the old paths
keeps importing for now: a finder on ``sys.meta_path`` loads the new module under the old name
and warns once with ``DeprecationWarning`` naming the new path. Nothing in dive_bench itself uses
an old path (tests import the new ones). Not mapped: ``dive_bench.fidelity.*`` (that name is the
API function ``dive_bench.fidelity`` now; the package is ``dive_bench.generative``), and the old
modules whose name is a package today (``spec``, ``store``, ``report``, ``cli``: import from the
module inside, e.g. ``dive_bench.spec.runspec``).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings

#: old dotted path -> new dotted path
MOVED: dict[str, str] = {
    "dive_bench.configs": "dive_bench.spec.configs",
    "dive_bench.constraints": "dive_bench.spec.options", "dive_bench.run_json": "dive_bench.spec.run_json",
    "dive_bench.runner": "dive_bench.run.score", "dive_bench.methods": "dive_bench.run.methods",
    "dive_bench.auto": "dive_bench.run.auto", "dive_bench.sweep": "dive_bench.run.sweep",
    "dive_bench.shard_errors": "dive_bench.store.errors", "dive_bench.shard_locks": "dive_bench.store.locks",
    "dive_bench.compare": "dive_bench.report.comparison", "dive_bench.check": "dive_bench.report.check",
    "dive_bench.scaling": "dive_bench.report.cost_vs_k", "dive_bench.agreement": "dive_bench.report.agreement",
    "dive_bench.per_class": "dive_bench.report.per_class", "dive_bench.sweep_report": "dive_bench.report.sweep",
    "dive_bench.tables": "dive_bench.report.tables", "dive_bench.stats": "dive_bench.metrics.stats",
    "dive_bench.cost": "dive_bench.inversion.cost", "dive_bench.fid": "dive_bench.generative.fid",
    "dive_bench.files": "dive_bench.util.files", "dive_bench.offline": "dive_bench.util.offline",
    "dive_bench.seeding": "dive_bench.util.seeding", "dive_bench.suggest": "dive_bench.util.suggest",
    "dive_bench.cache": "dive_bench.util.cache", "dive_bench.environment": "dive_bench.util.environment",
    "dive_bench.cli_options": "dive_bench.cli.options", "dive_bench.cli_train": "dive_bench.cli.train",
    "dive_bench.cli_sweep": "dive_bench.cli.sweep", "dive_bench.cli_plot": "dive_bench.cli.plot",
    "dive_bench.cli_compare": "dive_bench.cli.compare", "dive_bench.cli_diagnostics": "dive_bench.cli.diagnostics",
    "dive_bench.inversion.position_check": "dive_bench.diagnostics.position_check",
    "dive_bench.inversion.prior_check": "dive_bench.diagnostics.prior_check",
    "dive_bench.inversion.layout_scoring": "dive_bench.inversion.layout.scoring",
    "dive_bench.inversion.layout_seed": "dive_bench.inversion.layout.seed",
    "dive_bench.tasks.layout_tokens": "dive_bench.labels", "dive_bench.tasks.detection_metric": "dive_bench.metrics.coco",
}


class _Alias(importlib.abc.Loader):
    def __init__(self, new: str) -> None:
        self.new = new

    def create_module(self, spec):
        return importlib.import_module(self.new)

    def exec_module(self, module) -> None:
        pass


class MovedModules(importlib.abc.MetaPathFinder):
    """Serves an old path by importing its new module. It sits last on ``sys.meta_path``, so it is
    asked only for names no real module has: ``dive_bench.spec``, ``.store``, ``.report`` and
    ``.cli`` are packages now and are found as such (their old contents are one level down)."""

    def find_spec(self, fullname, path=None, target=None):
        new = MOVED.get(fullname)
        if new is None:
            return None
        warnings.warn(f"{fullname} moved to {new}; import it from there (the old path goes away in a "
                      "later release)", DeprecationWarning, stacklevel=3)
        return importlib.util.spec_from_loader(fullname, _Alias(new))


def install() -> None:
    """Put the finder last on ``sys.meta_path`` (once): real modules are always found first."""
    if not any(isinstance(f, MovedModules) for f in sys.meta_path):
        sys.meta_path.append(MovedModules())
