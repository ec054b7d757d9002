"""dive_bench: score conditional diffusion models by inverting them (DIVE) and by classic metrics.

The public API, imported lazily so that ``import dive_bench`` (and ``dive-bench --help``) stays
fast without torch::

    import dive_bench as db
    db.list_models("dit-*")
    result = db.evaluate("dit-digits-xs", "digits", method="enumerate", limit=20)
    print(result.metrics["accuracy"])
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dive_bench.registry import lazy_exports
from dive_bench.util.moved import install as _install_moved
from dive_bench.util.version import __version__

_install_moved()  # old module paths of the restructure still import, with a DeprecationWarning

#: public name -> "module:attribute", resolved on first use
_LAZY = {
    "evaluate": "dive_bench.api:evaluate",
    "fidelity": "dive_bench.api:fidelity",
    "load_model": "dive_bench.api:load_model",
    "list_models": "dive_bench.api:list_models",
    "TASKS": "dive_bench.tasks:TASKS",
    "RunSpec": "dive_bench.spec.runspec:RunSpec",
    "RunResult": "dive_bench.spec.result:RunResult",
    "Protocol": "dive_bench.spec.runspec:Protocol",
    "DiveConfig": "dive_bench.spec.configs:DiveConfig",
    "EnumerationConfig": "dive_bench.spec.configs:EnumerationConfig",
    "DiveBenchError": "dive_bench.errors:DiveBenchError",
}

__all__ = ["__version__", *_LAZY]

if TYPE_CHECKING:  # pragma: no cover
    from dive_bench.api import evaluate, fidelity, list_models, load_model  # noqa: F401
    from dive_bench.spec.configs import DiveConfig, EnumerationConfig  # noqa: F401
    from dive_bench.errors import DiveBenchError  # noqa: F401
    from dive_bench.spec.result import RunResult  # noqa: F401
    from dive_bench.spec.runspec import Protocol, RunSpec  # noqa: F401
    from dive_bench.tasks import TASKS  # noqa: F401


__getattr__ = lazy_exports(globals(), _LAZY)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
