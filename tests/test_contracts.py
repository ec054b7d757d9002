"""The layers of docs/design.md hold: ``lint-imports`` keeps every contract in pyproject.toml.

The contracts (``[tool.importlinter]``) say, e.g., that adapters never import tasks, inversion,
fidelity or reports, and that leaderboards and checks never import a model. ``.ci/run`` runs
``lint-imports`` too; this test makes a plain ``pytest`` enforce them as well.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _lint_imports() -> str | None:
    """The venv's lint-imports: on PATH, or beside this interpreter (a venv used without activating it)."""
    return shutil.which("lint-imports") or shutil.which("lint-imports", path=str(Path(sys.executable).parent))


def test_import_contracts_are_kept():
    exe = _lint_imports()
    if exe is None:
        pytest.skip("lint-imports is not installed (pip install -e '.[test]' installs import-linter)")
    proc = subprocess.run([exe, "--no-cache", "--no-logo"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(r"Contracts: [1-9]\d* kept, 0 broken", proc.stdout), proc.stdout


def _lint(root: Path) -> subprocess.CompletedProcess:
    exe = _lint_imports()
    if exe is None:
        pytest.skip("lint-imports is not installed (pip install -e '.[test]' installs import-linter)")
    return subprocess.run([exe, "--no-cache", "--no-logo"], cwd=root, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(root)})


def test_contracts_cover_every_module_of_a_package_including_new_ones(tmp_path):
    """Contracts name packages, not modules: ``import dive_bench.report`` added to any module under
    adapters/, or to a module added there today, breaks the layers contract."""
    copy = tmp_path / "repo"
    copy.mkdir()
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    shutil.copytree(ROOT / "dive_bench", copy / "dive_bench", ignore=shutil.ignore_patterns("assets", "__pycache__"))
    adapters = sorted((copy / "dive_bench" / "adapters").glob("*.py"))
    (copy / "dive_bench" / "adapters" / "brand_new.py").write_text('"""Added after the contracts were written."""\n')
    adapters.append(copy / "dive_bench" / "adapters" / "brand_new.py")
    assert len(adapters) >= 5
    for f in adapters:
        f.write_text(f.read_text() + "\nimport dive_bench.report  # noqa: E402,F401\n")
    proc = _lint(copy)
    assert proc.returncode != 0, proc.stdout
    assert re.search(r"Contracts: \d+ kept, [1-9]\d* broken", proc.stdout), proc.stdout
    for f in adapters:
        module = "dive_bench.adapters" + ("" if f.stem == "__init__" else f".{f.stem}")
        assert f"{module} -> dive_bench.report" in proc.stdout, (module, proc.stdout[-3000:])


def test_a_new_top_level_module_must_be_given_a_layer(tmp_path):
    """``exhaustive`` layers: a module added at the top of the package fails until it has a layer."""
    copy = tmp_path / "repo"
    copy.mkdir()
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    shutil.copytree(ROOT / "dive_bench", copy / "dive_bench", ignore=shutil.ignore_patterns("assets", "__pycache__"))
    (copy / "dive_bench" / "stray.py").write_text('"""A module nobody placed."""\n')
    proc = _lint(copy)
    assert proc.returncode != 0 and "stray" in proc.stdout + proc.stderr, proc.stdout + proc.stderr


def test_modules_and_functions_stay_small():
    """A newcomer reads one concept per module: no module over 400 lines, no function over 80,
    and at most 10 modules at the package's top beside the concept packages."""
    import ast

    package = ROOT / "dive_bench"
    too_long = []
    for path in sorted(package.rglob("*.py")):
        source = path.read_text()
        if len(source.splitlines()) > 400:
            too_long.append(f"{path.relative_to(ROOT)}: {len(source.splitlines())} lines")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= 80:
                too_long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}: "
                                f"{node.end_lineno - node.lineno + 1} lines")
    assert too_long == []
    assert len(list(package.glob("*.py"))) <= 10


def test_no_module_imports_itself_back():
    """No import circle between modules (imports inside functions and under TYPE_CHECKING count):
    a circle hides which module is the lower one, and the layers contract sees only packages."""
    grimp = pytest.importorskip("grimp", reason="grimp comes with import-linter (pip install -e '.[test]')")
    graph = grimp.build_graph("dive_bench", exclude_type_checking_imports=False)
    modules = sorted(m for m in graph.modules if m.startswith("dive_bench"))
    edges = {m: sorted(i for i in graph.find_modules_directly_imported_by(m) if i.startswith("dive_bench"))
             for m in modules}
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    circles = []

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for n in edges.get(m, ()):
            if state.get(n) == 1:
                circles.append(path[path.index(n):] + [n])
            elif n not in state:
                visit(n, path + [n])
        state[m] = 2

    for m in modules:
        if m not in state:
            visit(m, [m])
    assert circles == []
