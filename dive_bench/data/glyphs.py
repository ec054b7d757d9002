"""scikit-learn's 8x8 digit glyphs as numpy arrays: the ``digits`` split and the ``numbers``
composites, without torch.

Why apart from :mod:`.digits` and :mod:`.numbers`: the HTML report shows the images a run scored
and may not import torch (``pyproject.toml``'s import contracts). The torch loaders wrap the
arrays made here, so report and scorer see the very same pixels. The numbers' layout, splits and
seeding are described in :mod:`.numbers`.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from dive_bench.errors import DiveBenchError

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
#: the ``digits`` dataset's test split: its last 500 images (the numbers' test glyphs)
DIGITS_TEST_SIZE = 500


@lru_cache(maxsize=1)
def _glyphs() -> tuple[np.ndarray, np.ndarray]:
    """All 1797 scikit-learn glyphs as uint8 (N, 8, 8) in 0..255, and their digit labels."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = np.clip(np.round(bunch.images * (255.0 / 16.0)), 0, 255).astype(np.uint8)
    images.setflags(write=False)
    return images, bunch.target.astype(np.int64)


def digits_arrays(split: str = "test") -> tuple[np.ndarray, np.ndarray]:
    """The ``digits`` dataset: (uint8 images (N, 1, 8, 8), int64 labels), writable copies. The split
    is positional (first 1297 train, last 500 test), so it never changes between library versions."""
    if split not in ("train", "test"):
        raise DiveBenchError(f"digits has splits 'train' and 'test', not {split!r}; use one of those")
    images, labels = _glyphs()
    cut = len(labels) - DIGITS_TEST_SIZE
    sl = slice(0, cut) if split == "train" else slice(cut, None)
    return images[sl, None].copy(), labels[sl].copy()


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


def numbers_arrays(num_digits: int, split: str, seed: int = DEFAULT_SEED) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The fixed image set of a split, every class ``PER_CLASS[split][num_digits]`` times, shuffled:
    (uint8 images (N, 1, 16, 16), int64 numbers (the labels), (N, num_digits) glyph indices)."""
    if num_digits not in (1, 2, 3):
        raise DiveBenchError(f"numbers has 1, 2 or 3 digits, not {num_digits}")
    glyph_indices(split)  # validates the split name
    k = 10 ** num_digits
    # One stream per (seed, K, split), so adding a split or a K never changes another's images.
    rng = np.random.default_rng([seed, num_digits, SPLITS.index(split), NUMBERS_VERSION])
    numbers = rng.permutation(np.repeat(np.arange(k), PER_CLASS[split][num_digits]))
    ids = draw_glyphs(numbers, num_digits, split, rng)
    return compose(ids, num_digits), numbers, ids


#: dataset name -> number of digits, for the datasets the registry names ``numbers-K``
NUMBERS_DATASETS = {"numbers-10": 1, "numbers-100": 2, "numbers-1000": 3}
