"""Which items a run covers: ``--limit N``, ``--items 300:400`` or ``--item-ids FILE``.

The item set is part of a run (its run key and its metric), but not of its *protocol*: an item's
result depends on the protocol (task, version, checkpoint, method config, seed, precision) and the
item id alone, since per-item seeds derive from (seed, task, item id). So results are stored per
item under the protocol, a run names the items it covers, and a larger run reuses every item a
smaller one stored (``RunSpec.protocol_key``). This module turns the user's selection into the
sorted, duplicate-free list of item ids, or one line naming what is wrong. It imports no torch.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from dive_bench.errors import DiveBenchError
from dive_bench.util.parse import describe_number, quoted, whole_number

#: "300:400", "7", "0:10,20,30:40" (half-open ranges, as Python slices)
_PART = re.compile(r"\s*([0-9]{1,9})\s*(?::\s*([0-9]{1,9})\s*)?")


def parse_items(text: str, n_items: int | None = None, task: str = "the task") -> list[int]:
    """``"300:400"`` -> 300..399; ``"0:10,20"`` -> 0..9 and 20. Ranges are half-open, as slices.
    With ``n_items``, a range reaching past the last item is refused before it is expanded (a
    typo like ``0:999999999`` must not build a billion ids first)."""
    ids: list[int] = []
    for part in str(text).split(","):
        m = _PART.fullmatch(part)
        if m is None:
            raise DiveBenchError(f"--items: {quoted(part)} is not an item id or a range A:B (ids of at most 9 digits); write "
                                 "e.g. --items 300:400 (items 300 to 399) or --items 0:10,20")
        a, b = int(m.group(1)), m.group(2)
        if b is None:
            ids.append(a)
        elif int(b) <= a:
            raise DiveBenchError(f"--items {text!r}: the range {a}:{b} is empty (A:B takes A to B-1); write A:B with B > A")
        else:
            if n_items is not None and int(b) > n_items:
                _refuse_out_of_range(max(a, n_items), n_items, task)
            ids.extend(range(a, int(b)))
    return ids


def _refuse_out_of_range(item: int, n_items: int, task: str) -> None:
    raise DiveBenchError(f"item {item} is out of range: {task} has {n_items} items (ids 0 to {n_items - 1})")


def read_item_ids(path: str | Path) -> list[int]:
    """Item ids from a text file: whitespace- or comma-separated integers, ``#`` comments allowed."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise DiveBenchError(f"--item-ids {path}: cannot read it ({exc}); pass a text file of item ids") from exc
    ids = []
    for n, line in enumerate(text.splitlines(), 1):
        for word in line.split("#", 1)[0].replace(",", " ").split():
            value = whole_number(word, max_digits=9)
            if value is None:
                raise DiveBenchError(f"--item-ids {path}, line {n}: {describe_number(word, 9)}, not an item id; write "
                                     "whole numbers >= 0")
            ids.append(value)
    if not ids:
        raise DiveBenchError(f"--item-ids {path} holds no item ids; write one id (or several, separated by spaces) a line")
    return ids


def select_items(n_items: int, *, limit: int | None = None, items: Any = None,
                 item_ids: str | Path | None = None, task: str = "the task") -> list[int]:
    """The sorted item ids a run covers, out of ``n_items``: all of them, the first ``limit``,
    the ``items`` selection (``"300:400"``, a range or a list of ids) or the ids in the file
    ``item_ids``. At most one of the three; duplicates and ids out of range are refused."""
    given = [name for name, v in (("--limit", limit), ("--items", items), ("--item-ids", item_ids)) if v is not None]
    if len(given) > 1:
        raise DiveBenchError(f"{' and '.join(given)} both select items; use one (--items 0:N is --limit N)")
    if items is not None:
        ids = parse_items(items, n_items, task) if isinstance(items, str) else _as_ids(items, n_items, task)
    elif item_ids is not None:
        ids = read_item_ids(item_ids)
    else:
        ids = list(range(n_items if limit is None else min(limit, n_items)))
    if not ids:
        raise DiveBenchError(f"{task} has no items to score")
    bad = next((i for i in ids if not 0 <= i < n_items), None)
    if bad is not None:
        _refuse_out_of_range(bad, n_items, task)
    ids = sorted(ids)
    dup = next((a for a, b in zip(ids, ids[1:]) if a == b), None)
    if dup is not None:
        raise DiveBenchError(f"item {dup} is selected twice; list each item once")
    return ids


def _as_ids(items: Iterable[Any], n_items: int, task: str) -> list[int]:
    if isinstance(items, range) and len(items) > n_items:  # refused before it is listed
        _refuse_out_of_range(items[-1] if items[-1] >= n_items else items[0], n_items, task)
    try:
        ids = list(items)
    except TypeError as exc:
        raise DiveBenchError(f"items={items!r}: pass 'A:B', a range or a list of item ids") from exc
    if not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        raise DiveBenchError(f"items: every item id must be a whole number, got {ids[:5]!r}")
    return ids
