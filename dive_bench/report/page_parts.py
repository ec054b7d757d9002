"""The pieces of the HTML report that are not about one kind of result: page frame, CSS, Markdown
tables as HTML, embedded figures, collapsible blocks, class names, pairing helpers.

The page has no script and loads nothing: CSS is inline, images are data URIs. Tables come from
the same Markdown the leaderboard writes (``report/leaderboard.py``), converted with
Python-Markdown, so the page and LEADERBOARD.md can never disagree.
"""

from __future__ import annotations

import base64
import io
import re
from typing import Callable, Sequence

from dive_bench.report.galleries import esc
from dive_bench.spec.result import RunResult

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d2330;background:#fbfbfc}
header{background:#1d2330;color:#fff;padding:18px 32px}header h1{margin:0 0 4px;font-size:22px}
header p{margin:2px 0;color:#c9cfdb;font-size:12px}nav{margin-top:10px}
nav a{color:#9fd3ff;margin-right:14px;text-decoration:none;font-size:13px}
main{padding:8px 32px 40px;max-width:1500px}section{margin-top:26px;border-top:1px solid #dde1e8;padding-top:6px}
h2{font-size:19px;margin:10px 0}h3{font-size:15px;margin:16px 0 6px}h4{font-size:14px;margin:12px 0 4px}
table{border-collapse:collapse;margin:8px 0 14px;font-size:12.5px}
th,td{border:1px solid #d5d9e0;padding:3px 7px;text-align:left;vertical-align:top}th{background:#eef1f5}
tr:nth-child(even) td{background:#f6f7f9}
figure{margin:0}figure.plot img{max-width:100%;height:auto;border:1px solid #e3e6eb;background:#fff}
figure.plot figcaption{font-size:12px;color:#4a5263;margin:2px 0 14px}
.gallery{display:flex;flex-wrap:wrap;gap:8px}
figure.item{background:#fff;border:1px solid #d5d9e0;padding:4px;width:min-content;min-width:124px;font-size:11px}
figure.item img,figure.sample img,img.real{image-rendering:pixelated;display:block}
figure.item figcaption{margin-top:3px;line-height:1.3;overflow-wrap:anywhere}
.truth{color:#17663a}.pred{color:#b3261e;font-weight:600}.other.ok{color:#17663a}.other.bad{color:#8a5a00}
.top{color:#4a5263}.count,.note{color:#4a5263;font-size:12.5px}
.missing{background:#fff4e5;border:1px solid #f0c27b;padding:6px 10px;color:#6b4500;font-size:12.5px}
details{margin:6px 0;background:#fff;border:1px solid #e3e6eb;padding:4px 10px}summary{cursor:pointer;font-weight:600}
table.grid td.reals img{display:inline-block;margin:1px}table.grid td.samples{white-space:nowrap}
figure.sample{display:inline-block;margin:1px;border:2px solid transparent;vertical-align:top;font-size:10px;
max-width:60px}figure.sample.misread{border-color:#d62728}
figure.sample figcaption{color:#b3261e;white-space:normal;line-height:1.15}
footer{color:#6b7385;font-size:12px;padding:14px 32px}
"""


def markdown_html(text: str, drop_title: bool = False) -> str:
    """Markdown (tables, lists, emphasis) as HTML; headings move down one level (the page owns h1/h2)."""
    import markdown

    if drop_title:
        text = re.sub(r"\A# [^\n]*\n", "", text.lstrip())
    text = re.sub(r"^(#{1,5}) ", lambda m: "#" * (len(m.group(1)) + 1) + " ", text, flags=re.M)
    return markdown.markdown(text, extensions=["tables"], output_format="html")


def figure_html(fig, caption: str, dpi: int = 100) -> str:
    """A matplotlib figure embedded as PNG (no metadata, so the bytes regenerate identically)."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    plt.close(fig)
    uri = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<figure class="plot"><img alt="{esc(caption)}" src="{uri}"><figcaption>{caption}</figcaption></figure>'


def details(summary: str, body: str, open_: bool = False) -> str:
    return f'<details{" open" if open_ else ""}><summary>{esc(summary)}</summary>{body}</details>'


def by_task(runs: Sequence[RunResult]) -> dict[str, list[RunResult]]:
    """Runs grouped by task (first-seen order); in a group, DIVE runs with per-item traces first (the
    one shown open), then by model, method and name."""
    out: dict[str, list[RunResult]] = {}
    for run in runs:
        out.setdefault(run.task, []).append(run)
    return {t: sorted(g, key=lambda r: (not (r.method == "dive" and r.traces), r.model, r.method, r.name))
            for t, g in out.items()}


def primary_text(run: RunResult) -> str:
    """'accuracy 62.3%' / 'ap 50.9' for a summary line."""
    primary = run.primary
    if primary is None:
        return ""
    name, m = primary
    value = m.get("value")
    if value is None:
        return ""
    return f"{name} {100 * value:.1f}" + ("%" if name == "accuracy" else "")


def class_namer(run: RunResult) -> Callable[[int], str]:
    """Class index (or COCO category id, for layout runs) -> name, from what the run records; the
    number itself where no name is known."""
    names = list(run.label_space.names or ()) or dataset_class_names(run)
    layout = run.label_space.kind == "layout"

    def name(c: int | None) -> str:
        if c is None:  # run.json stores null for an item the method gave no answer
            return "no answer"
        i = int(c) - 1 if layout else int(c)
        return names[i] if 0 <= i < len(names) else str(c)
    return name


def dataset_class_names(run: RunResult) -> list[str]:
    """Class names of the run's dataset where run.json does not store them: Fashion-MNIST's, the
    canvas classes its item_source records (COCO category id i is class i - 1); [] otherwise."""
    from dive_bench.data.idx import CLASS_NAMES
    from dive_bench.report.item_images import source_of

    source = source_of(run)
    if source.get("dataset") == "fmnist" or run.task == "fmnist" or run.reference.get("spec", "").startswith("fmnist"):
        return list(CLASS_NAMES)
    return [str(c) for c in source.get("classes") or ()]


def self_run_of(fidelity: RunResult, candidates: Sequence[RunResult]) -> RunResult | None:
    """The self-consistency run scored on ``fidelity``'s own samples: task ``generated:G.S``, named
    by the samples' content (model sha256 and sample configuration)."""
    from dive_bench.spec.digests import generated_name

    config = (fidelity.samples or {}).get("config")
    if not config:
        return None
    want = "generated:" + generated_name(config)
    return next((r for r in candidates if r.task in (want, want + ".layout")), None)


def k_families(runs: Sequence[RunResult]) -> dict[str, list[RunResult]]:
    """Runs of tasks that differ only in their label-space size (numbers-10/100/1000 -> "numbers"),
    where at least two sizes exist: the groups an accuracy-vs-K figure compares."""
    out: dict[str, list[RunResult]] = {}
    for run in runs:
        m = re.fullmatch(r"(.+)-(\d+)", run.task)
        if m:
            out.setdefault(m.group(1), []).append(run)
    return {f: g for f, g in out.items() if len({r.task for r in g}) >= 2}


def row_names(runs: Sequence[RunResult]) -> dict[str, str]:
    """run.json path -> row name matched across K: the run folder's name less its task's
    (``numbers-100-dive-v30`` -> ``dive-v30``), as leaderboards/numbers_rows.tsv names the rows;
    runs whose folder does not start with the task name keep their default (configuration) name."""
    from pathlib import Path

    out = {}
    for run in runs:
        folder = Path(run.path).parent.name if run.path else ""
        if folder.startswith(run.task + "-"):
            out[run.path] = folder[len(run.task) + 1:]
    return out


def page(title: str, sources: Sequence[str], sections: Sequence[tuple[str, str, list[str]]]) -> str:
    """The whole document: header with a section index, the sections that have content, footer."""
    shown = [(i, t, b) for i, t, b in sections if b]
    nav = "".join(f'<a href="#{i}">{esc(t)}</a>' for i, t, _ in shown)
    body = "".join(f'<section id="{i}"><h2>{esc(t)}</h2>{"".join(b)}</section>' for i, t, b in shown)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width\"><title>{esc(title)}</title>"
            f"<style>{CSS}</style></head><body><header><h1>{esc(title)}</h1>"
            f"<p>Generated by <code>dive-bench report</code> from the run.json files under "
            f"{esc(', '.join(sources))}; images are embedded, the page needs no network.</p>"
            f"<nav>{nav}</nav></header><main>{body}</main>"
            "<footer>dive_bench: tables from run.json; galleries from the items the runs name.</footer></body></html>\n")
