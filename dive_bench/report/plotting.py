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
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)  # a renderer to measure text with (plotting.place_labels)
    return fig


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


#: where a point's name may go, as (dx, dy) in points from the point, nearest first
_OFFSETS = [(6, 3), (6, -10), (-6, 3), (-6, -10), (0, 9), (0, -16), (10, 14), (10, -22), (-10, 14), (-10, -22),
            (14, 26), (14, -34), (-14, 26), (-14, -34), (24, 3), (-24, 3), (20, 38), (20, -46), (-20, 38), (-20, -46)]


def _overlap(a: tuple, b: tuple) -> float:
    """The area two (x0, y0, x1, y1) boxes share."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return w * h if w > 0 and h > 0 else 0.0


def place_labels(ax, points: list[tuple[float, float]], labels: list[str], fontsize: float = 7,
                 obstacles: list[tuple] | None = None) -> list:
    """Name each of ``points`` (data coordinates) with a label placed where it overlaps no other
    label, point or ``obstacles`` (display boxes, e.g. error bars) and stays inside the axes; the
    first free spot of a fixed list of offsets, else the least covered one, with a thin leader line
    where the label sits away from its point. Why not matplotlib's default: neighbouring runs of
    equal cost (the same DIVE budget) otherwise print their names on top of each other. Call it
    after the axes' limits and the figure's layout are final (it works in display coordinates)."""
    fig = ax.figure
    renderer = fig.canvas.get_renderer()
    frame = ax.get_window_extent(renderer).extents
    px = fig.dpi / 72
    xy = [tuple(ax.transData.transform(p)) for p in points]
    taken = [(x - 4 * px, y - 4 * px, x + 4 * px, y + 4 * px) for x, y in xy] + list(obstacles or [])
    texts = []
    for (x, y), (dx0, dy0), label in zip(xy, points, labels):
        probe = ax.annotate(label, (dx0, dy0), fontsize=fontsize)
        w, h = probe.get_window_extent(renderer).width, probe.get_window_extent(renderer).height
        probe.remove()
        best = None
        for dx, dy in _OFFSETS:
            x0 = x + dx * px - (w if dx < 0 else w / 2 if dx == 0 else 0)
            box = (x0, y + dy * px, x0 + w, y + dy * px + h)
            outside = max(0, frame[0] - box[0]) + max(0, box[2] - frame[2]) + max(0, frame[1] - box[1]) + \
                max(0, box[3] - frame[3])
            cost = sum(_overlap(box, t) for t in taken) + 1e3 * outside * h
            if best is None or cost < best[0]:
                best = (cost, dx, dy, box)
            if cost == 0:
                break
        _, dx, dy, box = best
        taken.append(box)
        far = abs(dx) > 10 or abs(dy) > 16
        texts.append(ax.annotate(label, (dx0, dy0), xytext=(dx, dy), textcoords="offset points", fontsize=fontsize,
                                 color="0.25", ha="right" if dx < 0 else "center" if dx == 0 else "left",
                                 va="bottom", arrowprops={"arrowstyle": "-", "color": "0.6", "lw": 0.5,
                                                          "shrinkA": 0, "shrinkB": 3} if far else None))
    return texts
