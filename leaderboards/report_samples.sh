#!/usr/bin/env bash
# The generated samples leaderboards/report.html shows (per-class sample grids; the detection
# overlays of the layout models' self-consistency runs): the first samples of each stored fidelity
# run, generated again with the same configuration (model sha256, sampler, steps, guidance, seed:
# sample i is fixed by (seed, i) whatever N), into leaderboards/samples/MODEL/ as PNG files with
# the sample cache's manifest.json, which `dive-bench report --images leaderboards/samples` matches
# to a run by its samples config. 80 per class-conditional model (8 per class, the grid), 100 per
# layout model (the 100 its self-consistency run scored). About 2 min on one core, 1 MB in all.
# Usage: bash leaderboards/report_samples.sh [SCRATCH]   (repository root, dive-bench on PATH)
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
S=${1:-/tmp/dive-bench-report-samples}
FMNIST=(--reference fmnist --feature-extractor fmnist-classifier --steps 50 --num-samples 80)
CANVAS=(--reference canvas-det-ref --feature-extractor canvas-classifier --steps 25 --num-samples 100)
sample() {  # sample MODEL ARGS...
  local m=$1; shift
  dive-bench fidelity "$m" "$@" --sampler ddim --guidance 1 --seed 0 --threads 1 --quiet --out "$S/$m" >/dev/null
  rm -rf "leaderboards/samples/$m"
  mkdir -p "leaderboards/samples/$m"
  cp "$S/$m/samples/"*.png "$S/$m/samples/manifest.json" "leaderboards/samples/$m/"
}
for m in dit-fmnist-s dit-fmnist-b dit-fmnist-s-1k unet-fmnist-s dit-fmnist-b-flow; do
  sample "$m" "${FMNIST[@]}"
done
for m in layout-canvas-s layout-canvas-xs; do
  sample "$m" "${CANVAS[@]}"
done
