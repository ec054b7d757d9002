"""The pixels of a run's items, as a report shows them: :class:`ItemImages`, and PNG decoding.

Why a class with ``missing`` rather than an exception: a report of many runs is written on
machines that hold some datasets and not others. One run whose images are absent (Fashion-MNIST
not installed, samples deleted) must leave a sentence in its gallery saying why and how to get
them, never stop the report. Torch-free, as every report module.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dive_bench.errors import DiveBenchError


@dataclass(frozen=True)
class ItemImages:
    """Item id -> uint8 pixels, (H, W) grayscale or (H, W, 3) RGB, exactly the dataset's (or the
    sample files') values. ``missing``: one sentence why they are not available here (with the
    fix), None when they are; ``get`` then raises it as a DiveBenchError."""

    source: str
    missing: str | None = None
    read: Callable[[int], np.ndarray] | None = None
    #: how many items there are (None where unknown, e.g. a sample folder)
    count: int | None = None

    @classmethod
    def unavailable(cls, source: str, why: str) -> "ItemImages":
        return cls(source, missing=why)

    def get(self, item_id: int) -> np.ndarray:
        """The pixels of item ``item_id`` (its position in the task's split, as run.json stores ids)."""
        if self.missing is not None or self.read is None:
            raise DiveBenchError(self.missing or f"no images for {self.source}")
        if isinstance(item_id, bool) or not isinstance(item_id, (int, np.integer)) or item_id < 0 or (
                self.count is not None and item_id >= self.count):
            raise DiveBenchError(f"item id {item_id!r} is not one of the "
                                 f"{'' if self.count is None else f'{self.count} '}items of {self.source}; use an id "
                                 "from the run's items.ids")
        return self.read(int(item_id))

    def describe(self) -> str:
        """Where the images come from (or, when missing, what was looked for)."""
        return self.source


def hwc(images: np.ndarray) -> Callable[[int], np.ndarray]:
    """A reader of item i of uint8 (N, C, H, W) arrays as (H, W) for one channel, (H, W, 3) for three."""
    def read(i: int) -> np.ndarray:
        one = images[i]
        return one[0].copy() if one.shape[0] == 1 else np.ascontiguousarray(one.transpose(1, 2, 0))

    return read


def read_png(path: Path, where: str) -> np.ndarray:
    """A sample PNG as uint8 (H, W) (grayscale files) or (H, W, 3): the values the sample cache wrote."""
    from dive_bench.data.pixels import open_bounded

    if not path.is_file():
        raise DiveBenchError(f"{where} ({path}) is missing; rerun the `dive-bench fidelity` command that made the "
                             "folder (it regenerates missing samples only)")
    try:
        with open_bounded(path, where) as im:
            return np.asarray(im if im.mode == "L" else im.convert("RGB"), dtype=np.uint8).copy()
    except DiveBenchError:
        raise
    except (OSError, ValueError, SyntaxError) as exc:  # PIL: unidentified or truncated files
        detail = " ".join(str(exc).split())[:100] or type(exc).__name__
        raise DiveBenchError(f"{where} ({path}) is not a readable PNG ({detail}); delete it and rerun the fidelity "
                             "command that made the folder") from exc


__all__ = ["ItemImages", "hwc", "read_png"]
