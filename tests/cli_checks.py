"""Shared by the bad-input tests: an error is one line, with no traceback, exit 2; an immutable folder;
a folder's digest, to show that stored results did not change."""

from __future__ import annotations

import contextlib
import hashlib
import subprocess
from pathlib import Path

import pytest

from dive_bench.cli.main import main


def one_line(text: str) -> str:
    assert "\n" not in text.strip(), text
    assert "Traceback" not in text
    return text


def cli_error(capsys, argv: list[str]) -> str:
    """stderr of ``dive-bench ARGV``, asserted to be exit 2 and one ``dive-bench: error:`` line."""
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("dive-bench: error:"), err
    return one_line(err)


def digest(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder`` by relative path; lock files (a reader may create them)
    are not results and are left out."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and not p.name.endswith(".lock")}


@contextlib.contextmanager
def immutable(path: Path):
    """``path`` with ``chattr +i`` for the block (root can still not write there); skips without it."""
    if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode != 0:
        pytest.skip("needs chattr +i (root, a filesystem with attributes)")
    try:
        yield path
    finally:
        subprocess.run(["chattr", "-i", str(path)], capture_output=True)


def api_error(call, *args, **kwargs) -> str:
    """The message of the :class:`DiveBenchError` that ``call(*args, **kwargs)`` raises, asserted to be
    one line: what the Python API says where the CLI prints ``dive-bench: error:`` and exits 2."""
    from dive_bench.errors import DiveBenchError

    with pytest.raises(DiveBenchError) as caught:
        call(*args, **kwargs)
    return one_line(str(caught.value))
