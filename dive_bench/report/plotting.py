"""Figures without pyplot, saved so the same runs give the same bytes.

Why: a report embeds its figures and a paper keeps them under version control; a PNG that carries
matplotlib's version, or an SVG whose ids and date change on every save, shows a diff where the
numbers did not move. Figures are plain ``matplotlib.figure.Figure`` objects (no pyplot: nothing
global to close, safe in a long-running report), drawn at a fixed size and saved at :data:`DPI`
with the dated or versioned metadata left out. matplotlib is imported only inside these functions,
so importing the report stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: dots per inch of every saved raster figure
DPI = 150
#: the seed of the ids in a saved SVG, so they do not change between saves
SVG_HASHSALT = "dive-bench"


def new_figure(width: float, height: float) -> "Figure":
    """An empty figure of ``width`` x ``height`` inches, not registered with pyplot."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height))


def _metadata(suffix: str) -> dict:
    """Metadata that leaves out the date and the matplotlib version, per format."""
    if suffix == "png":
        return {"Software": None}
    if suffix == "svg":
        return {"Date": None, "Creator": None}
    if suffix == "pdf":
        return {"CreationDate": None, "Creator": None, "Producer": None}
    if suffix in ("ps", "eps"):
        return {"Creator": None}
    return {}


def save(fig: "Figure", path: str | Path, dpi: int = DPI) -> Path:
    """Write ``fig`` to ``path`` in the format its suffix names (png, svg, pdf, ...), with no date
    or version in the file: the same figure gives the same bytes on every save."""
    import matplotlib

    path = Path(path)
    suffix = path.suffix.lower().lstrip(".")
    with matplotlib.rc_context({"svg.hashsalt": SVG_HASHSALT}):
        fig.savefig(path, dpi=dpi, metadata=_metadata(suffix))
    return path
