#!/usr/bin/env bash
# Acceptance runs of the sequential gate (`score --sequential`, docs/gate.md): three Fashion-MNIST
# DIVE runs against the stored dit-fmnist-b DIVE run (leaderboards/runs/dit-fmnist-b-dive, 300 test
# images), margin accuracy = 0.01, checked every 16 images. Expected: dit-fmnist-b itself passes
# after all 300 (no discordance cannot show a drop below 0.01 sooner), dit-fmnist-s stops with a
# regression (exit 1), dit-fmnist-b-flow passes (exit 0). Only each run.json is kept
# (leaderboards/gate/sequential/NAME/run.json); the shards stay in $WORK.
# CPU, one thread each, 2-core machine: about 10 min (b), 1 min (s), 8 min (flow).
# Needs the Debian package dataset-fashion-mnist (or --data-root via $SCORE_ARGS).
set -uo pipefail
cd "$(dirname "$0")/../.."
export OMP_NUM_THREADS=1
read -r -a DB <<< "${DB:-dive-bench}"
WORK=${WORK:-/tmp/dive-bench-gate-sequential}
G=leaderboards/gate/sequential
for pair in b:dit-fmnist-b s:dit-fmnist-s flow:dit-fmnist-b-flow; do
  name=${pair%%:*} model=${pair#*:}
  /usr/bin/time -f "$name: %e s wall" "${DB[@]}" score "$model" --task fmnist --sequential \
      --baseline leaderboards/runs/dit-fmnist-b-dive --margin accuracy=0.01 --quiet --out "$WORK/$name" ${SCORE_ARGS:-}
  echo "$name: exit $?"
  mkdir -p "$G/$name" && cp "$WORK/$name/run.json" "$G/$name/run.json"
done
