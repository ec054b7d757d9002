#!/usr/bin/env bash
# Is full DIVE's difference from "w/o prior" on canvas-det more than the run-to-run noise of DIVE
# itself? Reruns both rows with DIVE seeds 1 and 2 (the seed drives each image's probe order and
# prior draws; the coarse start and the probes stay fixed), then prints the paired comparisons.
set -euo pipefail
cd "$(dirname "$0")/.."
COMMON=(--task canvas-det --quiet --items-per-batch 10)
source leaderboards/_row.sh
for seed in 1 2; do
  row "leaderboards/detection_seeds/dive-seed$seed" --seed "$seed" --no-neighbour-repairs
  row "leaderboards/detection_seeds/dive-no-prior-seed$seed" --no-prior --seed "$seed" --no-neighbour-repairs
done
# canvas-det-sized with today's defaults (neighbour repairs): full DIVE and w/o prior, DIVE seed 1;
# the check asks whether w/o prior is significantly below full DIVE ("regressed" = it is)
MODEL=layout-canvas-s-sized
COMMON=(--task canvas-det-sized --quiet --items-per-batch 10)
row leaderboards/detection_seeds/sized-dive-no-prior-seed1 --no-prior --seed 1
row leaderboards/detection_seeds/sized-dive-seed1 --seed 1
dive-bench check leaderboards/detection_seeds/sized-dive-no-prior-seed1 --across-configs \
  --baseline leaderboards/detection_seeds/sized-dive-seed1 || true
for seed in 1 2; do
  dive-bench check "leaderboards/detection_seeds/dive-seed$seed" --across-configs \
    --baseline "leaderboards/detection_seeds/dive-no-prior-seed$seed" || true
done
