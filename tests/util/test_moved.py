"""The restructure's deprecation map (``util/moved.py``): old module paths still import, as the
new modules themselves, with a DeprecationWarning naming the new path; nothing of ours uses them."""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
from pathlib import Path


from dive_bench.util.moved import MOVED

ROOT = Path(__file__).resolve().parents[2]


def test_an_old_path_is_the_new_module_with_a_warning():
    """In a fresh interpreter (nothing imported yet), each old path warns and is the new module."""
    code = """
import importlib, json, warnings
from dive_bench.util.moved import MOVED
out = {}
for old, new in sorted(MOVED.items()):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        same = importlib.import_module(old) is importlib.import_module(new)
    out[old] = [same, [str(w.message) for w in caught if w.category is DeprecationWarning]]
import dive_bench
out["fidelity"] = dive_bench.fidelity.__module__
print(json.dumps(out))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out.pop("fidelity") == "dive_bench.api"  # the API function is not shadowed by an alias
    for old, (same, warned) in out.items():
        assert same, old
        assert any(w.startswith(f"{old} moved to {MOVED[old]}") for w in warned), (old, warned)


def test_every_target_exists_and_no_old_path_is_a_real_module():
    for old, new in MOVED.items():
        assert importlib.util.find_spec(new) is not None, new
        parent, _, name = old.rpartition(".")
        assert not (ROOT / Path(*parent.split(".")) / f"{name}.py").exists(), old
        assert not (ROOT / Path(*old.split("."))).is_dir(), old


def test_nothing_of_ours_imports_an_old_path():
    pattern = re.compile(r"\b(?:from|import)\s+(" + "|".join(re.escape(o) for o in MOVED) + r")\b(?!\.)")
    hits = [f"{p.relative_to(ROOT)}: {m.group(1)}" for folder in ("dive_bench", "tests", "benchmarks")
            for p in (ROOT / folder).rglob("*.py") if p.name != "test_moved.py" and p.name != "moved.py"
            for m in pattern.finditer(p.read_text())]
    assert hits == []
