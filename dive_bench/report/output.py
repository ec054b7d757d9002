"""Where a report writes: an output path checked before any work, and written with one line on failure.

Why here: ``plot cost --png c.txt`` once reached matplotlib, which raised a traceback about a format
it does not know; an output in a folder that cannot be made, or a read-only one, failed after the
Markdown had been written. Every report command (``plot cost``, ``plot sweep``, ``sweep``,
``leaderboard``/``compare --out``) checks its outputs here first, so a bad path costs nothing and
leaves no half of a report behind.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path

from dive_bench.errors import DiveBenchError


def image_formats() -> list[str]:
    """The file suffixes (without the dot) matplotlib's Agg canvas can save: png, pdf, svg, ..."""
    from matplotlib.backend_bases import FigureCanvasBase

    return sorted(FigureCanvasBase.get_supported_filetypes())


def check_output(path: str | Path, *, what: str, flag: str, formats: list[str] | None = None) -> Path:
    """``path`` as a file a report can write (missing folders are made when it is written), or one
    DiveBenchError naming ``flag`` and the fix: a suffix not among ``formats``, an existing folder,
    a parent that is a file, or a folder that cannot be written. Nothing is created here."""
    path = Path(path)
    if formats is not None:
        suffix = path.suffix.lower().lstrip(".")
        if suffix not in formats:
            shown = f"the suffix {path.suffix!r} is not an" if path.suffix else "a name without a suffix names no"
            raise DiveBenchError(f"{flag} {path}: {shown} image format the plot can write; end the "
                                 f"name with one of {', '.join('.' + f for f in formats)} (e.g. {path.stem}.png)")
    if path.is_dir():
        raise DiveBenchError(f"{flag} {path} is a folder; give a file name for the {what}, e.g. {path / 'out'}"
                             f"{'.png' if formats else '.md'}")
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise DiveBenchError(f"{flag} {path}: {parent} is a file, not a folder; give the {what} a path in a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise DiveBenchError(f"{flag} {path}: {parent} is not writable; give the {what} a path in a folder you can "
                             "write to")
    return path


def write_output(path: str | Path, write: Callable[[Path], None], *, what: str, flag: str,
                 atomic: bool = False) -> None:
    """``write(path)`` after making its folder, with an OSError (read-only, immutable, full disk) as
    one DiveBenchError naming ``flag``; the stored runs the report was read from are only read.

    ``atomic``: ``write`` fills a temporary file beside ``path`` (same suffix, so matplotlib picks
    the same format), which then replaces ``path`` in one step: two processes writing the same
    page (the last workers of a sweep) leave one whole file, never an interleaving of both."""
    path = Path(path)
    target = path.with_name(f".{path.stem}.tmp-{os.getpid()}{path.suffix}") if atomic else path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write(target)
        if atomic:
            os.replace(target, path)
    except OSError as exc:
        raise DiveBenchError(f"cannot write the {what} to {path} ({exc.strerror or exc}); pass {flag} a path in a "
                             "folder you can write to (the run.json files were only read)") from exc
    finally:
        if atomic:
            with contextlib.suppress(OSError):
                target.unlink(missing_ok=True)
