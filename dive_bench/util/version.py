"""The package version, in one place below every layer: ``dive_bench.__version__``, the
environment block of every run.json and ``dive-bench --version`` read it from here, and
pyproject.toml takes it from here too (``dynamic = ["version"]``)."""

__version__ = "0.1.0"
