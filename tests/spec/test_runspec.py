"""Protocol.differs_from: why two runs cannot be paired, in words a user can act on."""

from __future__ import annotations

from dive_bench.spec.runspec import Protocol


def _protocol(**config) -> Protocol:
    return Protocol("fmnist", "1", "abc", "dive", {"steps": 100, "probes_per_step": 10, "lr": None, **config})


def test_a_different_method_configuration_names_the_options_that_differ():
    reason = _protocol(steps=200, probes_per_step=25).differs_from(_protocol())
    # the baseline's value first, then this run's, option by option; same options are not listed
    assert reason == "different method configuration (probes_per_step 10 vs 25; steps 100 vs 200)"
    assert _protocol().differs_from(_protocol()) is None


def test_many_differences_are_cut_after_four():
    many = {f"o{i}": i for i in range(6)}
    reason = _protocol(**many).differs_from(_protocol())
    assert reason.count(" vs ") == 4 and reason.endswith("; ...)")
