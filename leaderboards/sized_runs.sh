#!/usr/bin/env bash
# The detection ablation (the paper's Table III) on canvas-det-sized: the canvases with one size
# per class, whose layouts carry rules a prior can learn (on canvas-det they carry none that
# DIVE's errors break). Model: layout-canvas-s-sized = the layout-canvas-s image model with priors
# trained on canvas-det-sized train layouts.
#  1. Prior settings on the dev split (canvas-det-sized-dev, first 30 images): the prior's loss at
#     weights 1, 0.3, 0.1, 0.03, and weights 0.3 and 0.03 with prior repairs (--prior-repairs);
#     runs and TUNING.md in leaderboards/tuning-sized. The best dev AP (0.03 with repairs) is
#     the canvas-det-sized task default (dive_bench/tasks/__init__.py).
#     The prior-free control: the same repair search over every one-cell move of a box side
#     (--neighbour-repairs), without and with the prior's repairs.
#  2. All 100 val images: full DIVE, the four ablations and the coarse seed alone, first with DIVE's
#     gradient search and prior repairs alone (--no-neighbour-repairs), then with today's defaults,
#     which add neighbour repairs: full DIVE, w/o prior (is the gain the prior's or the search's?)
#     and decoupled priors. (Rows without snapping cannot repair, so they are the same either way.)
# Rows share cached coarse seeds (the first val row computes them: about 45 min on 2 cores).
# LIMIT=N scores only N images per row (a quick try of the script); DEVICE=cuda uses a GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=layout-canvas-s-sized
source leaderboards/_row.sh
T=leaderboards/tuning-sized
R=leaderboards/runs
COMMON=(--task canvas-det-sized-dev --limit "${LIMIT:-30}" --quiet --items-per-batch 10)
row $T/dev-no-prior --no-prior --no-neighbour-repairs
for w in 1 0.3 0.1 0.03; do
  row $T/dev-prior-w$w --prior-weight $w --no-prior-repairs --no-neighbour-repairs
done
for w in 0.3 0.03; do
  row $T/dev-prior-w$w-repairs --prior-weight $w --prior-repairs --no-neighbour-repairs
done
row $T/dev-no-prior-neighbour-repairs --no-prior --neighbour-repairs
row $T/dev-prior-w0.03-repairs-neighbour-repairs --prior-weight 0.03 --prior-repairs --neighbour-repairs
"${DB[@]}" leaderboard $T --title "canvas-det-sized-dev: prior weight and repairs" --out $T/TUNING.md
COMMON=(--task canvas-det-sized --quiet --items-per-batch 10 ${LIMIT:+--limit $LIMIT})
row $R/layout-canvas-s-sized-dive-no-prior --no-prior --no-neighbour-repairs
row $R/layout-canvas-s-sized-dive --no-neighbour-repairs
row $R/layout-canvas-s-sized-dive-no-snap --no-snap --no-neighbour-repairs
row $R/layout-canvas-s-sized-dive-no-prior-no-snap --no-prior --no-snap --no-neighbour-repairs
row $R/layout-canvas-s-sized-dive-decoupled --decoupled-prior --no-neighbour-repairs
row $R/layout-canvas-s-sized-coarse-seed-only --steps 0 --no-prior-repairs --no-neighbour-repairs
row $R/layout-canvas-s-sized-dive-no-prior-neighbour-repairs --no-prior
row $R/layout-canvas-s-sized-dive-neighbour-repairs
row $R/layout-canvas-s-sized-dive-decoupled-neighbour-repairs --decoupled-prior
"${DB[@]}" leaderboard $R --out leaderboards/LEADERBOARD.md
