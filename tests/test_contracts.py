"""The layers of docs/design.md hold: ``lint-imports`` keeps every contract in pyproject.toml.

The contracts (``[tool.importlinter]``) say, e.g., that adapters never import tasks, inversion,
fidelity or reports, and that leaderboards and checks never import a model. ``.ci/run`` runs
``lint-imports`` too; this test makes a plain ``pytest`` enforce them as well.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_import_contracts_are_kept():
    exe = shutil.which("lint-imports")
    if exe is None:
        pytest.skip("lint-imports is not installed (pip install -e '.[test]' installs import-linter)")
    proc = subprocess.run([exe, "--no-cache", "--no-logo"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(r"Contracts: [1-9]\d* kept, 0 broken", proc.stdout), proc.stdout
