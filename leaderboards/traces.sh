#!/usr/bin/env bash
# Per-item search traces (run.json items.trace: DIVE's monitor curve and visited classes,
# enumeration's ranked classes) for stored rows scored before traces were recorded. Each row is
# scored again, with the command of its own script (reference_runs.sh, numbers_runs.sh), into a
# scratch folder; leaderboards/add_traces.py copies the traces into the stored run.json only if the
# rerun has the same run key and the same prediction for every item. About 40 min on one core.
# Usage: bash leaderboards/traces.sh [SCRATCH_DIR]   (from the repository root, dive-bench on PATH)
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
S=${1:-/tmp/dive-bench-traces}
P=(--task fmnist --limit 300 --interval 10 --quiet)
DIVE=(--method dive --steps 100 --batch-size 10 --monitor-every 10 --items-per-batch 20)
ENUM=(--method enumerate --eval-batch 1000 --items-per-batch 20)
redo() {  # redo ROW MODEL ARGS...
  local row=$1; shift
  rm -rf "${S:?}/$row"
  dive-bench score "$@" --out "$S/$row" >/dev/null
  python3 leaderboards/add_traces.py "leaderboards/runs/$row" "$S/$row"
}
for k in 10 100 1000; do
  redo "numbers-$k-dive" "dit-numbers-$k" --task "numbers-$k" --limit 300 --interval 100 --quiet --method dive
done
redo dit-fmnist-s-dive dit-fmnist-s "${P[@]}" "${DIVE[@]}"
redo dit-fmnist-s-enumerate dit-fmnist-s "${P[@]}" "${ENUM[@]}"
redo dit-fmnist-b-enumerate dit-fmnist-b "${P[@]}" "${ENUM[@]}"
redo dit-fmnist-b-dive dit-fmnist-b "${P[@]}" "${DIVE[@]}"
