#!/usr/bin/env bash
# Reproduce the reference runs behind leaderboards/LEADERBOARD.md (CPU, about 25 min on 2 cores:
# two workers in parallel, one torch thread each). Protocol: Fashion-MNIST test images 0-299,
# 100 probes (timestep interval 10, seed-42 noise); DIVE 100 steps x 10 probes, monitor every 10.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
P=(--task fmnist --limit 300 --interval 10 --quiet)
DIVE=(--method dive --steps 100 --batch-size 10 --monitor-every 10 --items-per-batch 20)
ENUM=(--method enumerate --eval-batch 1000 --items-per-batch 20)
run() { local out=$1; shift; dive-bench score "$@" --out "leaderboards/runs/$out"; }
(
  run dit-fmnist-b-dive dit-fmnist-b "${P[@]}" "${DIVE[@]}"
) &
(
  run dit-fmnist-b-enumerate dit-fmnist-b "${P[@]}" "${ENUM[@]}"
  run dit-fmnist-s-enumerate dit-fmnist-s "${P[@]}" "${ENUM[@]}"
  run dit-fmnist-s-dive dit-fmnist-s "${P[@]}" "${DIVE[@]}"
  run dit-fmnist-b-dive-patience2 dit-fmnist-b "${P[@]}" "${DIVE[@]}" --patience 2
) &
wait
dive-bench leaderboard leaderboards/runs --out leaderboards/LEADERBOARD.md
