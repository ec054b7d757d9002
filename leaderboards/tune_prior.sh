#!/usr/bin/env bash
# Choose the layout prior's weight (and its draws per step, and the repair search) for canvas-det on the *dev* split
# (canvas-det-dev, first 30 images), never on the val images the detection table reports.
# Runs one after another on one core; the coarse seeds come from the seed cache after the first run.
# Results: leaderboards/tuning/*/run.json, summarised by the last command.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
COMMON=(--task canvas-det-dev --limit 30 --quiet --items-per-batch 10)
tune() {
  local out=leaderboards/tuning/$1; shift
  dive-bench score layout-canvas-s "${COMMON[@]}" "$@" --out "$out" >/dev/null
}
tune dev-no-prior --no-prior --no-neighbour-repairs
for w in 1 0.3 0.1 0.03 0.01; do
  for k in 1 8; do
    tune "dev-prior-w$w-k$k" --prior-weight "$w" --prior-probes "$k" --no-neighbour-repairs
  done
done
# neighbour repairs (every one-cell move of a box side scored at each monitor pass), without and
# with the paper-style prior, and with the masked priors of layout-canvas-s-masked and their repairs
tune dev-no-prior-neighbour-repairs --no-prior --neighbour-repairs
tune dev-prior-w0.1-k1-neighbour-repairs --neighbour-repairs
dive-bench score layout-canvas-s-masked "${COMMON[@]}" --prior-weight 0.03 --prior-repairs --neighbour-repairs \
  --out leaderboards/tuning/dev-masked-w0.03-repairs-neighbour-repairs >/dev/null
dive-bench leaderboard leaderboards/tuning --title "canvas-det-dev: prior weight x prior draws, repairs" \
  --out leaderboards/tuning/TUNING.md
