"""Numbers composed from digit glyphs: one generator for K = 10, 100 and 1000 classes.

Every image is a 16x16 canvas holding a 2x2 grid of 8x8 cells (scikit-learn's digit glyphs):
hundreds top left, tens top right, units bottom left; the bottom-right cell is always blank.
``numbers-10`` fills only the units cell, ``numbers-100`` tens and units, ``numbers-1000`` all
three; unused cells are blank. One image size and one model protocol serve every K, so a
cost-vs-K curve compares like with like. The class id is the number.

Leading zeros are drawn (class 7 of ``numbers-1000`` is "007"): every class then has the same
number of glyphs, so no class is recognisable from how many cells are blank, and a classifier
has to read every cell of every class.

Glyphs are split by their scikit-learn index, so no glyph is ever in two splits:
  test  -- the last 500 glyphs (the ``digits`` task's test images),
  dev   -- the 200 glyphs before them (indices 1097..1296), for tuning method settings,
  train -- the first 1097.
Dev uses held-out glyphs (not train glyphs in unseen combinations) because that is what test
measures: reading handwriting the model has never seen. With per-step generation every
combination of train glyphs is reachable in training, so unseen combinations would not be
unseen.

Test and dev images are a fixed, seeded set with every class equally often, in shuffled order
(so ``--limit N`` takes a class-uniform sample). The train split is a small fixed sample for
inspection; training draws fresh composites every step through :meth:`NumbersDataset.sample_batch`
(unlimited data from 1097 glyphs). Generation is numpy indexing, milliseconds, so nothing is
cached on disk.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from dive_bench.errors import DiveBenchError
from dive_bench.data.base import ImageDataset

#: bump when the pixels for given parameters change (it is part of the task versions)
NUMBERS_VERSION = 1
CELL = 8
SIZE = 2 * CELL
#: (row, col) of the cell holding hundreds, tens, units
CELLS = ((0, 0), (0, 1), (1, 0))
TEST_GLYPHS = 500
DEV_GLYPHS = 200
#: images per class in the fixed splits, by number of digits
PER_CLASS = {"test": {1: 50, 2: 10, 3: 2}, "dev": {1: 20, 2: 3, 3: 1}, "train": {1: 100, 2: 10, 3: 1}}
SPLITS = ("train", "dev", "test")
DEFAULT_SEED = 0


@lru_cache(maxsize=1)
def _glyphs() -> tuple[np.ndarray, np.ndarray]:
    """All 1797 scikit-learn glyphs as uint8 (N, 8, 8) in 0..255, and their digit labels."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = np.clip(np.round(bunch.images * (255.0 / 16.0)), 0, 255).astype(np.uint8)
    images.setflags(write=False)
    return images, bunch.target.astype(np.int64)


def glyph_indices(split: str) -> np.ndarray:
    """The scikit-learn indices of the glyphs a split may use."""
    n = len(_glyphs()[1])
    cut_test, cut_dev = n - TEST_GLYPHS, n - TEST_GLYPHS - DEV_GLYPHS
    bounds = {"train": (0, cut_dev), "dev": (cut_dev, cut_test), "test": (cut_test, n)}
    if split not in bounds:
        raise DiveBenchError(f"numbers datasets have splits {', '.join(SPLITS)}, not {split!r}")
    return np.arange(*bounds[split])


def _pools(split: str) -> list[np.ndarray]:
    """Per digit 0..9, the indices of that digit's glyphs in the split."""
    idx = glyph_indices(split)
    labels = _glyphs()[1][idx]
    return [idx[labels == d] for d in range(10)]


def digits_of(numbers: np.ndarray, num_digits: int) -> np.ndarray:
    """(N, num_digits) decimal digits, most significant first (leading zeros kept)."""
    powers = 10 ** np.arange(num_digits - 1, -1, -1)
    return (np.asarray(numbers)[:, None] // powers) % 10


def compose(glyph_ids: np.ndarray, num_digits: int) -> np.ndarray:
    """uint8 (N, 1, 16, 16) canvases from (N, num_digits) glyph indices (most significant first);
    the last ``num_digits`` of (hundreds, tens, units) cells are filled, the others stay blank."""
    glyphs = _glyphs()[0]
    out = np.zeros((len(glyph_ids), 1, SIZE, SIZE), dtype=np.uint8)
    for j, (r, c) in enumerate(CELLS[3 - num_digits:]):
        out[:, 0, r * CELL:(r + 1) * CELL, c * CELL:(c + 1) * CELL] = glyphs[glyph_ids[:, j]]
    return out


def draw_glyphs(numbers: np.ndarray, num_digits: int, split: str, rng: np.random.Generator) -> np.ndarray:
    """For each number, one uniformly drawn glyph of the split per digit: (N, num_digits) indices."""
    pools = _pools(split)
    digits = digits_of(numbers, num_digits)
    ids = np.empty(digits.shape, dtype=np.int64)
    for d in range(10):
        mask = digits == d
        ids[mask] = pools[d][rng.integers(0, len(pools[d]), size=int(mask.sum()))]
    return ids


@dataclass(frozen=True)
class NumbersDataset(ImageDataset):
    """An :class:`ImageDataset` plus the glyph indices behind each image and a per-step sampler."""

    glyph_ids: torch.Tensor | None = None
    num_digits: int = 3

    def sample_batch(self, generator: torch.Generator, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Fresh composites of this split's glyphs, classes uniform: (uint8 images, labels).

        Seeded from ``generator`` (one draw), so a training step's batch is fixed by its seed."""
        seed = int(torch.randint(0, 2 ** 62, (1,), generator=generator))
        rng = np.random.default_rng(seed)
        numbers = rng.integers(0, 10 ** self.num_digits, size=batch_size)
        images = compose(draw_glyphs(numbers, self.num_digits, self.split, rng), self.num_digits)
        return torch.from_numpy(images), torch.from_numpy(numbers).long()


def make_numbers(num_digits: int, split: str, seed: int = DEFAULT_SEED) -> NumbersDataset:
    """The fixed image set of a split: every class ``PER_CLASS[split][num_digits]`` times, shuffled."""
    if num_digits not in (1, 2, 3):
        raise DiveBenchError(f"numbers has 1, 2 or 3 digits, not {num_digits}")
    glyph_indices(split)  # validates the split name
    k = 10 ** num_digits
    # One stream per (seed, K, split), so adding a split or a K never changes another's images.
    rng = np.random.default_rng([seed, num_digits, SPLITS.index(split), NUMBERS_VERSION])
    numbers = rng.permutation(np.repeat(np.arange(k), PER_CLASS[split][num_digits]))
    ids = draw_glyphs(numbers, num_digits, split, rng)
    images = compose(ids, num_digits)
    names = tuple(f"{i:0{num_digits}d}" for i in range(k))
    return NumbersDataset(f"numbers-{k}", split, torch.from_numpy(images), torch.from_numpy(numbers).long(), names,
                          glyph_ids=torch.from_numpy(ids), num_digits=num_digits)


def load_numbers_10(split: str = "test", root: str | None = None) -> NumbersDataset:
    return make_numbers(1, split)


def load_numbers_100(split: str = "test", root: str | None = None) -> NumbersDataset:
    return make_numbers(2, split)


def load_numbers_1000(split: str = "test", root: str | None = None) -> NumbersDataset:
    return make_numbers(3, split)
