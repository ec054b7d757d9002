#!/usr/bin/env bash
# Acceptance runs of the fidelity gate (`dive-bench check` on two fidelity runs, docs/fidelity.md
# "Gating on fidelity"): five fidelity runs of the bundled Fashion-MNIST DiTs at N = 1,000 with 200
# paired replicates, and the four checks that must answer 1, 0, 2, 2. Only each run's run.json is
# kept (leaderboards/gate/fidelity/NAME/run.json); the samples stay in $WORK (default
# /tmp/dive-bench-gate-fidelity), so a rerun with them in place only recomputes the metrics.
# Not under leaderboards/runs/: these runs are a test of the gate, not leaderboard rows.
# CPU, two torch threads: about 20 minutes on a 2-core machine shared with other jobs (sampling), about
# 7 minutes with the samples cached (the metrics and their replicates). DB is the command (default dive-bench).
set -uo pipefail
cd "$(dirname "$0")/../.."
export OMP_NUM_THREADS=2 MKL_NUM_THREADS=2
read -r -a DB <<< "${DB:-dive-bench}"
WORK=${WORK:-/tmp/dive-bench-gate-fidelity}
G=leaderboards/gate/fidelity
FID=(--reference fmnist --feature-extractor fmnist-classifier --steps 50 --sampler ddim --guidance 1 --seed 0
     --bootstrap 200 --threads 2 --quiet)
run() {  # NAME MODEL ARGS...: one fidelity run into $WORK/NAME, its run.json copied to $G/NAME
  local name=$1 model=$2; shift 2
  /usr/bin/time -f "$name: %e s wall" "${DB[@]}" fidelity "$model" "${FID[@]}" "$@" --out "$WORK/$name" || exit 1
  mkdir -p "$G/$name" && cp "$WORK/$name/run.json" "$G/$name/run.json"
}
run b        dit-fmnist-b --num-samples 1000                 # the baseline
run b-rerun  dit-fmnist-b --num-samples 1000                 # the same command, another folder
run s        dit-fmnist-s --num-samples 1000                 # the smaller model: a regression
run b-n800   dit-fmnist-b --num-samples 800                  # another N: incomparable
run b-slice  dit-fmnist-b --num-samples 1000 --data-root tests/data/fmnist-slice   # another reference
for c in s b-rerun b-n800 b-slice; do
  /usr/bin/time -f "check $c: %e s wall" "${DB[@]}" check "$G/$c" --baseline "$G/b" --margin fd_fmnist=0.5
  echo "check $c --baseline b: exit $?"
done
