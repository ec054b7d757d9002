"""Where a method option's default comes from, in one rule: the method's own default, then the
label-space rule below, then the task's own declaration. run.json records the source of every
option that did not come from the method itself (``defaults_from``).

Why a rule keyed by the label space and not by the task: the DIVE that works at K = 1000 is not
the released one. Keyed by task name, the same 100 numbers-1000 test images exported as a
``folder:`` set silently ran the released DIVE (about 6,060 evaluations and 6 s per image) instead
of the large-K default (245 and 0.2 s). The model's own label space decides now, whatever the
task is called. A task may still declare its own defaults for a method, which then replace the
rule for that method entirely (``imagenet-2x1000`` declares the paper's released protocol, and
``numbers-10`` keeps one DIVE across its K sweep). This module imports no torch.
"""

from __future__ import annotations

#: the label-space size from which DIVE's large-K defaults apply (they were tuned at K = 1000 and
#: hold at K = 100: numbers-100 and numbers-1000, docs "Large label spaces")
LARGE_LABEL_SPACE = 100

#: DIVE for large label spaces, chosen on numbers-1000-dev (10 probes; docs/models.md, "Large label
#: spaces", leaderboards/tuning-numbers/TUNING.md): one probe per step with a larger step size
#: explores more classes than the released 25-probe steps, and ``verify`` scores the 100 classes
#: nearest the final embedding, which the search often ends next to without snapping to, in
#: Diffusion Classifier's staged schedule (``verify_schedule="dc"``: 100 on one probe, the best 5
#: on all). On dev images 100-299: 77.5% at 245 evaluations per image, against 66% at 605 for the
#: first default (100 steps, verify 30 on all probes, chosen on dev images 0-99) and 32% (25
#: images) for the released 200 x 25 configuration at 6,051.
LARGE_K_DIVE = {"steps": 30, "probes_per_step": 1, "monitor_every": 30, "lr": 0.1, "verify": 100,
                "verify_schedule": "dc"}


def method_defaults(method: str, num_classes: int | None, task_defaults: dict, task: str) -> tuple[dict, dict]:
    """(defaults, source of each) for ``method`` on a model with ``num_classes`` classes (None
    for a layout model) and a task that declares ``task_defaults`` (its ``method_defaults``)."""
    if method in task_defaults:
        declared = dict(task_defaults[method])
        return declared, {name: f"task {task}" for name in declared}
    if method == "dive" and num_classes is not None and num_classes >= LARGE_LABEL_SPACE:
        rule = f"label space: K = {num_classes} >= {LARGE_LABEL_SPACE}"
        return dict(LARGE_K_DIVE), {name: rule for name in LARGE_K_DIVE}
    return {}, {}
