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

import numpy as np
import torch

from dive_bench.data.base import ImageDataset
# the numpy part is torch-free (reports show these pixels); re-exported under its old names
from dive_bench.data.glyphs import (CELL, CELLS, DEFAULT_SEED, DEV_GLYPHS, NUMBERS_VERSION, PER_CLASS,  # noqa: F401
                                    SIZE, SPLITS, TEST_GLYPHS, _glyphs, _pools, compose, digits_of, draw_glyphs,
                                    glyph_indices, numbers_arrays)


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
    """The fixed image set of a split: every class ``PER_CLASS[split][num_digits]`` times, shuffled
    (:func:`~dive_bench.data.glyphs.numbers_arrays`, as tensors)."""
    images, numbers, ids = numbers_arrays(num_digits, split, seed)
    names = tuple(f"{i:0{num_digits}d}" for i in range(10 ** num_digits))
    return NumbersDataset(f"numbers-{10 ** num_digits}", split, torch.from_numpy(images),
                          torch.from_numpy(numbers).long(), names, glyph_ids=torch.from_numpy(ids),
                          num_digits=num_digits)


def load_numbers_10(split: str = "test", root: str | None = None) -> NumbersDataset:
    return make_numbers(1, split)


def load_numbers_100(split: str = "test", root: str | None = None) -> NumbersDataset:
    return make_numbers(2, split)


def load_numbers_1000(split: str = "test", root: str | None = None) -> NumbersDataset:
    return make_numbers(3, split)
