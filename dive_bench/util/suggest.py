"""Did-you-mean hints for names a user typed (models, tasks, datasets, options)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def close_names(name: str, candidates: Iterable[str], n: int = 3, cutoff: float = 0.5) -> list[str]:
    return difflib.get_close_matches(name, list(candidates), n=n, cutoff=cutoff)


def did_you_mean(name: str, candidates: Iterable[str], n: int = 3, cutoff: float = 0.5) -> str:
    """`` Did you mean 'a', 'b'?`` (leading space) or "" when nothing is close."""
    close = close_names(name, candidates, n, cutoff)
    return f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
