"""Registry: decorator and lazy entries, did-you-mean errors, third-party plugins via entry points."""

from __future__ import annotations

import sys
import textwrap

import pytest

from dive_bench.errors import DiveBenchError
from dive_bench.registry import Registry


def test_decorator_lazy_and_pattern():
    reg: Registry = Registry("widget")

    @reg.register("alpha-small")
    class Alpha:
        """An alpha widget."""

    reg.register("beta-small", "collections:OrderedDict", description="lazy")
    assert reg.get("alpha-small") is Alpha
    import collections
    assert reg.get("beta-small") is collections.OrderedDict
    assert reg.names("*-small") == ["alpha-small", "beta-small"]
    assert reg.describe("alpha-small") == "An alpha widget."
    with pytest.raises(ValueError, match="already registered"):
        reg.register("alpha-small", object())


def test_unknown_name_suggests_nearest():
    reg: Registry = Registry("adapter")
    reg.register("dit", object())
    reg.register("unet", object())
    with pytest.raises(DiveBenchError, match=r"unknown adapter 'ditt'\. Did you mean 'dit'\?"):
        reg.get("ditt")


def test_broken_lazy_entry_is_a_clear_error():
    reg: Registry = Registry("adapter")
    reg.register("ghost", "no_such_module_xyz:Thing")
    with pytest.raises(DiveBenchError, match="cannot be imported"):
        reg.get("ghost")


def test_entry_point_plugin_is_found_and_loadable(tmp_path, monkeypatch):
    """A package installed with an entry point in group dive_bench.adapters shows up by name."""
    pkg = tmp_path / "fake_dive_plugin"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(textwrap.dedent("""
        from dive_bench.testing import make_dit
        from dive_bench.adapters.dit import DiTAdapter

        def make_adapter():
            return DiTAdapter(make_dit(), name="fake-plugin")
    """))
    dist = tmp_path / "fake_dive_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-dive-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[dive_bench.adapters]\nfakeplug = fake_dive_plugin:make_adapter\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    from dive_bench.adapters import ADAPTERS, load_model

    monkeypatch.setattr(ADAPTERS, "_plugins_loaded", False)
    assert "fakeplug" in ADAPTERS.names()
    adapter = load_model("fakeplug")
    assert adapter.name == "fake-plugin" and adapter.label_space.num_classes == 5
    monkeypatch.delitem(ADAPTERS._items, "fakeplug")
    sys.modules.pop("fake_dive_plugin", None)


def test_load_model_unknown_suggests():
    from dive_bench.adapters import load_model

    with pytest.raises(DiveBenchError, match="Did you mean 'dit-fmnist-s'"):
        load_model("dit-fmnist-z")
