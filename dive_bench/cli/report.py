"""``dive-bench report RUN_OR_DIR... --out report.html``: the self-contained HTML report.

Reads run.json files and the images their items name, never a model (no torch: it starts fast and
works with the weights deleted). ``--images DIR`` adds folders where generated sample sets may be
(``fidelity --out`` folders moved off the machine that made them), matched by content, not by name.
"""

from __future__ import annotations

import argparse
import sys
import time


def cmd_report(args: argparse.Namespace) -> int:
    from dive_bench.report.html import build_report
    from dive_bench.report.output import check_output, write_output

    out = check_output(args.out, what="report", flag="--out", formats=["html", "htm"])
    start = time.perf_counter()
    quiet = args.quiet

    def progress(section: str) -> None:
        if not quiet:
            print(f"  {section}: {time.perf_counter() - start:.1f} s", file=sys.stderr)

    text = build_report(args.runs, search=args.images or (), title=args.title, progress=progress)
    def write(path) -> None:  # whole or not at all: a killed build never leaves half a page behind
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)

    write_output(out, write, what="report", flag="--out")
    print(f"wrote {out} ({len(text.encode()) / 1e6:.1f} MB, {time.perf_counter() - start:.1f} s)")
    return 0


def add_report_parser(sub) -> None:
    r = sub.add_parser("report", help="one self-contained HTML page: tables, plots, error galleries, box overlays")
    r.add_argument("runs", nargs="+", help="run.json files or folders holding them (searched recursively)")
    r.add_argument("--out", required=True, help="the HTML file to write (e.g. report.html)")
    r.add_argument("--images", action="append", metavar="DIR",
                   help="a folder holding sample sets (fidelity --out folders); repeatable")
    r.add_argument("--title", default="dive_bench report", help="the page's title")
    r.add_argument("--quiet", action="store_true", help="no progress on stderr")
    r.set_defaults(func=cmd_report)
