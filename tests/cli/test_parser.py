"""The parser builds only the flags of the command being run (``cli.options.SkippedParser``), and
that changes nothing for that command: same flags, same defaults, same help."""

from __future__ import annotations

import argparse
import subprocess
import sys

from dive_bench.cli.main import COMMANDS, build_parser


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices


def _shape(parser: argparse.ArgumentParser) -> list[tuple]:
    """Every action's flags, destination, default, help and choices; nested commands (plot's
    kinds) recursively."""
    return [(a.dest, tuple((k, tuple(_shape(v))) for k, v in a.choices.items()))
            if isinstance(a, argparse._SubParsersAction) else
            (tuple(a.option_strings), a.dest, a.default, a.help, tuple(a.choices or ())) for a in parser._actions]


def test_every_command_is_known_and_built_alone_as_in_full():
    full = _subparsers(build_parser())
    assert tuple(full) == COMMANDS
    for name in COMMANDS:
        alone = _subparsers(build_parser(name))
        assert tuple(alone) == COMMANDS  # every command is still listed, with its help
        assert _shape(alone[name]) == _shape(full[name]), name
        assert len(_shape(full[name])) > 1 or name == "list"  # list has no flags of its own


def test_list_does_not_build_the_generated_flags():
    code = ("import sys, io, contextlib; from dive_bench.cli.main import main\n"
            "with contextlib.redirect_stdout(io.StringIO()): rc = main(['list'])\n"
            "print(rc, sorted(m for m in ('dive_bench.spec.run_options', 'dive_bench.training.configs', "
            "'dive_bench.spec.configs', 'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    rc, loaded = out.stdout.strip().split(" ", 1)
    # list names the methods (spec.configs' registry of them) but builds no flags and loads no torch
    assert rc == "0" and "run_options" not in loaded and "training.configs" not in loaded and "torch'" not in loaded


def test_a_broken_pipe_is_not_an_error():
    proc = subprocess.run(f"{sys.executable} -m dive_bench list | head -1", shell=True, capture_output=True,
                          text=True, timeout=120)
    assert proc.stdout.startswith("Adapters:") and "error" not in proc.stderr
