#!/usr/bin/env bash
# Reproduce the detection ablation (the paper's Table III) on the bundled layout-canvas-s model:
# the first 50 images of the canvas-det val split, full DIVE and four ablations. Each row runs as two
# shards in parallel (one torch thread each); rows run one after another so that the coarse seed
# layouts computed by the first row come from the seed cache in the others (their evaluations
# are still counted; seconds per image of rows 2-5 exclude the seeding, see seed_cost per item).
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
COMMON=(--task canvas-det --limit 50 --quiet --items-per-batch 10)
row() {
  local out=leaderboards/runs/$1; shift
  dive-bench score layout-canvas-s "${COMMON[@]}" "$@" --out "$out" --shard 0/2 >/dev/null &
  dive-bench score layout-canvas-s "${COMMON[@]}" "$@" --out "$out" --shard 1/2 >/dev/null &
  wait
  dive-bench merge "$out"
}
row layout-canvas-s-dive
row layout-canvas-s-dive-no-prior --no-prior
row layout-canvas-s-dive-no-snap --no-snap
row layout-canvas-s-dive-no-prior-no-snap --no-prior --no-snap
row layout-canvas-s-dive-decoupled --decoupled-prior
# then: dive-bench leaderboard leaderboards/runs --out leaderboards/LEADERBOARD.md
