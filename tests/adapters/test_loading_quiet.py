"""Loading a model prints nothing: diffusers' "install accelerate" warning (several lines, on
every load without accelerate) used to land in the output of every API call and CLI command."""

from __future__ import annotations

import importlib.util
import logging

import pytest


@pytest.mark.skipif(importlib.util.find_spec("accelerate") is not None,
                    reason="with accelerate installed diffusers never warns; the case needs it absent")
def test_loading_a_bundled_model_prints_no_accelerate_warning(capfd, caplog):
    import dive_bench as db

    with caplog.at_level(logging.WARNING):
        db.load_model("dit-digits-xs")
    out, err = capfd.readouterr()
    assert "accelerate" not in out + err + caplog.text
