#!/usr/bin/env bash
# Regenerate every page under leaderboards/ from the stored run.json files alone (no model, no
# compute): LEADERBOARD.md, the two TUNING.md pages, NUMBERS.md with its PNG, the sweep page and report.html.
# A restructure must leave `git status leaderboards/` clean after this script.
# Usage: bash leaderboards/regenerate.sh   (from the repository root, dive-bench on PATH)
set -euo pipefail
cd "$(dirname "$0")/.."
DB=(dive-bench)
"${DB[@]}" leaderboard leaderboards/runs --out leaderboards/LEADERBOARD.md
"${DB[@]}" leaderboard leaderboards/tuning --title "canvas-det-dev: prior weight x prior draws, repairs" \
  --out leaderboards/tuning/TUNING.md
"${DB[@]}" leaderboard leaderboards/tuning-sized --title "canvas-det-sized-dev: prior weight and repairs" \
  --out leaderboards/tuning-sized/TUNING.md
names=()
for k in 10 100 1000; do
  while IFS=$'\t' read -r row name; do
    d="leaderboards/runs/numbers-$k-$row"
    if [ -f "$d/run.json" ]; then names+=("$d=$name"); fi
  done < leaderboards/numbers_rows.tsv
done
"${DB[@]}" plot cost "${names[@]}" --png leaderboards/numbers-cost.png --out leaderboards/NUMBERS.md
"${DB[@]}" plot sweep leaderboards/sweep-fmnist-s --title "Checkpoint sweep: dit-fmnist-s recipe, fmnist"
# The HTML report of every stored run (tables, figures, galleries); the galleries read the items
# from the datasets (Fashion-MNIST: dataset-fashion-mnist; canvas and numbers are generated) and
# the generated samples in leaderboards/samples (leaderboards/report_samples.sh).
"${DB[@]}" report leaderboards/runs leaderboards/sweep-fmnist-s --images leaderboards/samples --quiet \
  --out leaderboards/report.html
