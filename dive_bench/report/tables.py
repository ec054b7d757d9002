"""One Markdown table builder for every table dive_bench writes (leaderboard, fidelity, Table IV, cost vs K).

Why one: the leaderboard's quality, detection and speed tables and the fidelity table each built
their own pandas DataFrame, bolded their own best values and filled their own missing cells, and
the Table IV and cost-vs-K tables were concatenated by hand with a look of their own. With one
builder every table bolds the best value of a column the same way (all ties bolded), marks a
missing cell with "-" and is padded by the same renderer (pandas ``to_markdown``: tabulate's pipe
format with number parsing off, so "0.50" stays "0.50" and every column is left-aligned), and a
regenerated leaderboard diffs cleanly.

Pandas only (no torch): the leaderboard and ``dive-bench check`` start fast.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import pandas as pd

#: what a missing cell shows
MISSING = "-"

#: a cell: its display text, or (display text, raw value) where the column bolds its best value;
#: a raw value of None or NaN takes no part in the comparison. A cell of None shows "-".
Cell = str | tuple[str, float | None]


@dataclass(frozen=True)
class Column:
    """A column's header, and which raw value is best in it: ``"max"``, ``"min"`` or None (no bolding)."""

    name: str
    best: Literal["max", "min"] | None = None

    def __post_init__(self) -> None:
        if self.best not in (None, "max", "min"):
            raise ValueError(f"Column {self.name!r}: best must be 'max', 'min' or None, not {self.best!r}")


def best_of(higher_is_better: bool) -> Literal["max", "min"]:
    """``Column.best`` for a metric whose direction is known as a bool (``metric_info``)."""
    return "max" if higher_is_better else "min"


def _text(cell: Cell | None) -> str:
    if cell is None:
        return MISSING
    return cell[0] if isinstance(cell, tuple) else cell


def _raw(cell: Cell | None) -> float | None:
    if not isinstance(cell, tuple) or cell[1] is None:
        return None
    value = float(cell[1])
    return None if math.isnan(value) else value


def _winners(column: Column, rows: Sequence[Mapping[str, Cell]]) -> set[int]:
    """Indices of the rows holding the column's best raw value (every tie), none without ``best``."""
    if column.best is None:
        return set()
    values = {i: v for i, row in enumerate(rows) if (v := _raw(row.get(column.name))) is not None}
    if not values:
        return set()
    best = max(values.values()) if column.best == "max" else min(values.values())
    return {i for i, v in values.items() if v == best}


def markdown_table(columns: Sequence[Column | str], rows: Iterable[Mapping[str, Cell]]) -> str:
    """A pipe Markdown table: one line per row, columns in the given order.

    Every dive_bench table goes through here, so all of them bold, pad and mark missing cells alike.
    ``columns``: ``Column`` objects, or plain header strings for columns that bold nothing.
    ``rows``: header -> cell (see ``Cell``); a header a row lacks, or maps to None, shows "-". The
    best raw value of each ``best`` column is wrapped in ``**...**`` (every tie). The output is
    byte-identical to ``pandas.DataFrame(...).to_markdown(index=False, disable_numparse=True)`` of
    the shown text, the call every table made before this builder, so regenerated files keep their
    bytes. Raises ValueError for duplicate headers or a cell under a header the table lacks.
    """
    cols = [c if isinstance(c, Column) else Column(c) for c in columns]
    names = [c.name for c in cols]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate column names in {names}: a row maps each name to one cell")
    rows = list(rows)
    unknown = sorted({k for row in rows for k in row} - set(names))
    if unknown:
        raise ValueError(f"cells for columns {unknown} that the table does not have ({names})")
    shown = [[_text(row.get(n)) for n in names] for row in rows]
    for j, col in enumerate(cols):
        for i in _winners(col, rows):
            shown[i][j] = f"**{shown[i][j]}**"
    return pd.DataFrame(shown, columns=names, dtype=object).to_markdown(index=False, disable_numparse=True)
