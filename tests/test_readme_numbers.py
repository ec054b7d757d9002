"""The model-comparison table in docs/comparison.md (moved there from README.md) quotes LEADERBOARD.md's comparison section cell for
cell (which tests/report/test_report_check.py regenerates from the stored runs and tests/report/test_comparison.py
checks against their run.json numbers): a rerun that changes a number cannot leave the README
behind.
The file keeps its name; the page it reads is ``PAGE``."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "comparison.md"  # the model comparison and its per-class reading live here


def _rows(md: str) -> dict[str, list[str]]:
    """Markdown table rows keyed by their first cell's model name (`name`)."""
    out = {}
    for line in md.splitlines():
        if line.startswith("| `"):
            cells = [c.strip().strip("*") for c in line.strip().strip("|").split("|")]
            out.setdefault(cells[0].strip("`"), cells)
    return out


def _header(md: str, first: str) -> list[str]:
    line = next(x for x in md.splitlines() if x.startswith(f"| {first} "))
    return [c.strip() for c in line.strip().strip("|").split("|")]


def test_readme_comparison_table_quotes_the_leaderboard():
    readme = PAGE.read_text().split("<!-- table6 -->", 1)[1].split("<!-- /table6 -->", 1)[0]
    board = (ROOT / "leaderboards" / "LEADERBOARD.md").read_text()
    section = board.split("## Model comparison", 1)[1].split("\n## Table 1:", 1)[0]
    class_part, layout_part = section.split("### Layout-conditional models", 1)
    ours = _rows(readme)
    assert len(ours) == 7
    for part, fd_prefix, score in ((class_part, "fd_fmnist", "DIVE: top-1"), (layout_part, "fd_canvas", "DIVE: AP")):
        header = _header(part, "Model")
        theirs = {k: dict(zip(header, v)) for k, v in _rows(part.split("Pairwise")[0]).items()}
        fd_col = next(h for h in header if h.startswith(fd_prefix))
        score_col = next(h for h in header if h.startswith(score))
        for model, cells in theirs.items():
            mine = dict(zip(["model", "architecture", "#params", "fd", "dive", "enumeration", "self"], ours[model]))
            assert mine["#params"] == cells["#Params"], model
            assert mine["fd"] == cells[fd_col], model
            assert mine["dive"].removeprefix("AP ") == cells[score_col], model
            enum = next((v for h, v in cells.items() if h.startswith("Exhaustive enumeration")), "-")
            assert mine["enumeration"] == enum.split(" [")[0], model
            own = next((v for h, v in cells.items() if h.startswith("Self-consistency")), "-")
            assert mine["self"].removeprefix("AP ") == own, model


def _outcomes(run_dir: str) -> tuple:
    import json

    import numpy as np

    run = json.loads((ROOT / "leaderboards" / "runs" / run_dir / "run.json").read_text())
    return np.array(run["items"]["labels"]), np.array(run["items"]["predictions"])


def test_readme_per_class_reading_quotes_the_runs():
    """The per-class paragraph's numbers, recomputed from the stored runs' per-item outcomes
    (class 2 pullover, 6 shirt, 8 bag: Fashion-MNIST's label order)."""
    import numpy as np

    text = " ".join(PAGE.read_text().split())

    def share(run_dir: str, c: int) -> str:
        _, p = _outcomes(run_dir)
        return f"{100 * (p == c).mean():.0f}%"

    def recall(run_dir: str, c: int) -> str:
        y, p = _outcomes(run_dir)
        return f"{100 * (p[y == c] == c).mean():.0f}%"

    models = ("dit-fmnist-s", "dit-fmnist-s-1k", "unet-fmnist-s", "dit-fmnist-b", "dit-fmnist-b-flow")
    real_max = max(int(np.bincount(_outcomes(f"{m}-dive")[1], minlength=10)[[6, 8]].max()) / 300 for m in models)
    expected = (f"class 6, shirt ({share('dit-fmnist-s-self-consistency', 6)} of DiT-s's answers, "
                f"{share('unet-fmnist-s-self-consistency', 6)} of the UNet's) or class 8, bag "
                f"({share('dit-fmnist-s-1k-self-consistency', 8)} of DiT-s-1k's), while on real images shirt and "
                f"bag each take at most {100 * real_max:.0f}% of any model's answers",
                f"The UNet recovers {recall('unet-fmnist-s-self-consistency', 2)} of its own pullovers (class 2) "
                f"yet recognises {recall('unet-fmnist-s-dive', 2)} of real ones",
                f"weakest class on its own samples ({recall('dit-fmnist-b-flow-self-consistency', 2)})")
    for sentence in expected:
        assert sentence in text, sentence
    y, p = _outcomes("dit-fmnist-b-flow-self-consistency")  # "weakest": no class lower than pullover
    assert min(range(10), key=lambda c: (p[y == c] == c).mean()) == 2
