"""dive_bench: score conditional diffusion models by inverting them (DIVE) and by classic metrics."""

__version__ = "0.1.0"
