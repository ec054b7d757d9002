"""The numbers tasks (data/numbers.py): test splits for reporting, dev splits for tuning."""

from dive_bench.spec.defaults import LARGE_K_DIVE
from dive_bench.tasks.classification import ClassificationTask

#: numbers-100 and numbers-1000 take DIVE's large-K defaults from the label-space rule
#: (spec/defaults.py); numbers-10 declares the same ones, so that one DIVE configuration runs
#: across the K = 10 / 100 / 1000 sweep (NUMBERS.md), where the rule alone would give it the
#: released DIVE.
_DEFAULTS = {"dive": LARGE_K_DIVE}

NUMBERS_10 = ClassificationTask("numbers-10", "1", "numbers-10", "test", "numbers 0-9 from test digit glyphs, 500 images",
                                method_defaults=_DEFAULTS, dev="numbers-10-dev")
NUMBERS_100 = ClassificationTask("numbers-100", "1", "numbers-100", "test",
                                 "numbers 00-99 from test digit glyphs, 1000 images", dev="numbers-100-dev")
NUMBERS_1000 = ClassificationTask("numbers-1000", "1", "numbers-1000", "test",
                                  "numbers 000-999 from test digit glyphs, 2000 images", dev="numbers-1000-dev")
NUMBERS_10_DEV = ClassificationTask("numbers-10-dev", "1", "numbers-10", "dev",
                                    "numbers 0-9 from dev digit glyphs, 200 images (tuning)")
NUMBERS_100_DEV = ClassificationTask("numbers-100-dev", "1", "numbers-100", "dev",
                                     "numbers 00-99 from dev digit glyphs, 300 images (tuning)")
NUMBERS_1000_DEV = ClassificationTask("numbers-1000-dev", "1", "numbers-1000", "dev",
                                      "numbers 000-999 from dev digit glyphs, 1000 images (tuning)")
