"""Assertions shared by the bad-input tests: an error is one line, with no traceback, exit 2."""

from __future__ import annotations

from dive_bench.cli import main


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
