#!/usr/bin/env bash
# Reproduce the detection ablation (the paper's Table III) on the bundled layout-canvas-s model:
# all 100 images of the canvas-det val split; full DIVE (the task defaults, whose prior weight was
# chosen on canvas-det-dev by leaderboards/tune_prior.sh), the four ablations, and the coarse seed
# alone (no DIVE steps). Each row runs as two shards in parallel (one torch thread each); rows run
# one after another so that the coarse seed layouts computed by the first row come from the seed
# cache in the others. Their evaluations are still counted, and the seconds they took when computed
# show as "+ N cached" in the cost table.
# The last two rows add neighbour repairs (--neighbour-repairs: at each monitor pass every one-cell
# move of a box side is scored, no prior), with and without the prior: the search refinement chosen
# on canvas-det-dev (leaderboards/tune_prior.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
COMMON=(--task canvas-det --quiet --items-per-batch 10)
source leaderboards/_row.sh
R=leaderboards/runs
row $R/layout-canvas-s-dive-no-prior --no-prior
row $R/layout-canvas-s-dive
row $R/layout-canvas-s-dive-no-snap --no-snap
row $R/layout-canvas-s-dive-no-prior-no-snap --no-prior --no-snap
row $R/layout-canvas-s-dive-decoupled --decoupled-prior
row $R/layout-canvas-s-coarse-seed-only --steps 0
row $R/layout-canvas-s-dive-no-prior-neighbour-repairs --no-prior --neighbour-repairs
row $R/layout-canvas-s-dive-neighbour-repairs --neighbour-repairs
dive-bench leaderboard leaderboards/runs --out leaderboards/LEADERBOARD.md
