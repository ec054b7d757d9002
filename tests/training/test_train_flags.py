"""``dive-bench train``'s flags are generated from the recipes (training/configs.py): every flag
the command ever had still parses, with the recipe's default, and the recipes import no torch."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from dive_bench.cli.train import KINDS, add_train_parser, recipe_flags, train_config
from dive_bench.training.configs import EXTRACTOR_WIDTHS

#: every flag of ``train`` before the flags were generated (none may disappear)
FLAGS = ("--out", "--decoupled", "--dataset", "--preset", "--steps", "--batch-size", "--lr", "--seed", "--width",
         "--save-dtype", "--save-every", "--objective", "--data-root", "--device", "--noised-fraction", "--vae",
         "--patch", "--prior-set", "--predict-embedding", "--class-sizes", "--augment", "--widths", "--threads",
         "--no-resume")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser()
    add_train_parser(p.add_subparsers())
    return p


def test_every_earlier_flag_is_still_there():
    train = _parser()._subparsers._group_actions[0].choices["train"]
    assert set(FLAGS) <= set(train._option_string_actions)
    assert "training batch" in train._option_string_actions["--batch-size"].help


@pytest.mark.parametrize("kind", list(KINDS))
def test_no_flag_gives_the_recipe(kind):
    args = _parser().parse_args(["train", kind, "--out", "x"])
    cfg = train_config(kind, args)
    expected = KINDS[kind].config(**KINDS[kind].defaults, **KINDS[kind].fixed)
    assert cfg == expected


def test_flags_reach_their_kind_only():
    args = _parser().parse_args(["train", "layout-prior", "--out", "x", "--class-sizes", "4x4,6x6", "--decoupled",
                                 "--batch-size", "3"])
    cfg = train_config("layout-prior", args)
    assert cfg.class_sizes == ((4, 4), (6, 6)) and cfg.decoupled and cfg.batch_size == 3
    # a flag of another kind is refused, not ignored as it once was
    from dive_bench.errors import DiveBenchError

    with pytest.raises(DiveBenchError, match="--vae does not apply to layout-prior: it is a flag of layout"):
        train_config("layout-prior", _parser().parse_args(["train", "layout-prior", "--out", "x", "--vae", "v"]))
    unet = train_config("class-unet", _parser().parse_args(["train", "class-unet", "--out", "x"]))
    assert (unet.architecture, unet.preset) == ("unet", "s")
    with pytest.raises(DiveBenchError, match="--widths does not apply to class-unet: its --preset fixes the widths"):
        train_config("class-unet", _parser().parse_args(["train", "class-unet", "--out", "x", "--widths", "1,2,3"]))


def test_shared_flags_are_declared_once():
    assert {flag: [k for k, _, _ in uses] for flag, (_, uses) in recipe_flags().items()}["--steps"] == list(KINDS)


def test_extractor_widths_match_the_network_default():
    from dive_bench.generative.classifier_net import ClassifierConfig

    assert EXTRACTOR_WIDTHS == ClassifierConfig.widths


def test_recipes_load_no_torch():
    code = "import sys, dive_bench.training.configs, dive_bench.cli.train; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"
