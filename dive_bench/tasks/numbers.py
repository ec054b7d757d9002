"""The numbers tasks (data/numbers.py): test splits for reporting, dev splits for tuning."""

from dive_bench.tasks.classification import ClassificationTask

#: DIVE for large label spaces, chosen on numbers-1000-dev (10 probes; README, "Large label
#: spaces", leaderboards/tuning-numbers/TUNING.md): one probe per step with a larger step size
#: explores more classes than the released 25-probe steps, and ``verify`` scores the 100 classes
#: nearest the final embedding, which the search often ends next to without snapping to, in
#: Diffusion Classifier's staged schedule (``verify_schedule="dc"``: 100 on one probe, the best 5
#: on all). On dev images 100-299: 77.5% at 245 evaluations per image, against 66% at 605 for the
#: first default (100 steps, verify 30 on all probes, chosen on dev images 0-99) and 32% (25
#: images) for the released 200 x 25 configuration at 6,051.
NUMBERS_DIVE = {"steps": 30, "probes_per_step": 1, "monitor_every": 30, "lr": 0.1, "verify": 100,
                "verify_schedule": "dc"}
_DEFAULTS = {"dive": NUMBERS_DIVE}

NUMBERS_10 = ClassificationTask("numbers-10", "1", "numbers-10", "test", "numbers 0-9 from test digit glyphs, 500 images",
                                method_defaults=_DEFAULTS, dev="numbers-10-dev")
NUMBERS_100 = ClassificationTask("numbers-100", "1", "numbers-100", "test",
                                 "numbers 00-99 from test digit glyphs, 1000 images", method_defaults=_DEFAULTS,
                                 dev="numbers-100-dev")
NUMBERS_1000 = ClassificationTask("numbers-1000", "1", "numbers-1000", "test",
                                  "numbers 000-999 from test digit glyphs, 2000 images", method_defaults=_DEFAULTS,
                                  dev="numbers-1000-dev")
NUMBERS_10_DEV = ClassificationTask("numbers-10-dev", "1", "numbers-10", "dev",
                                    "numbers 0-9 from dev digit glyphs, 200 images (tuning)")
NUMBERS_100_DEV = ClassificationTask("numbers-100-dev", "1", "numbers-100", "dev",
                                     "numbers 00-99 from dev digit glyphs, 300 images (tuning)")
NUMBERS_1000_DEV = ClassificationTask("numbers-1000-dev", "1", "numbers-1000", "dev",
                                      "numbers 000-999 from dev digit glyphs, 1000 images (tuning)")
