#!/usr/bin/env bash
# The layout half of the paper's Table VI (LDM-8-S vs LDM-8): two layout-to-image models that differ
# in size only, each with a DIVE AP run and a fidelity run, for `dive-bench compare`.
#
# - layout-canvas-s  (width 128, 2.37M) and layout-canvas-xs (width 64, same recipe otherwise;
#   training is not part of this script: the commands are in their model cards).
# - DIVE: the protocol of the stored row leaderboards/runs/layout-canvas-s-dive-no-prior-neighbour-repairs
#   (detection_runs.sh: all 100 canvas-det val images, task defaults = coarse seed + 30 steps of 6
#   probes + neighbour repairs, --no-prior). layout-canvas-s's row is that stored run; this script
#   adds layout-canvas-xs's, as ONE process with one torch thread (the s row ran as two shards).
# - Fidelity: 2,000 samples per model, sample i conditioned on the layout of canvas-det-ref image i
#   (2,000 canvases of a split nothing else uses; val's 100 images would be too few for a covariance
#   of the extractor's 64 feature dimensions), DDIM 25 steps ("trailing"), guidance 1, seed 0,
#   in-domain extractor canvas-classifier (fd_canvas, is_canvas, ...), 50 bootstrap replicates of
#   FD/IS for compare's intervals. 25 steps were chosen from a timing under heavy load (10 ms per
#   sample and step for s) to keep each run under ~15 min on one core; the runs took 248 s (s) and
#   128 s (xs). Real vs real for scale (2,000 training canvases vs the same reference): fd_canvas
#   0.088, is_canvas 9.14, precision 0.92, recall 0.91.
# - Self-consistency (issue 15, item 5): each model's first 100 fidelity samples scored with
#   `--task generated:$RUNS/MODEL-fidelity` under the DIVE protocol above (the task takes
#   canvas-det's DIVE defaults; --no-prior as above); the ground truth of sample i is the layout of
#   canvas-det-ref image i it was drawn from, so the AP says how much of the layout each model
#   recovers from its own image.
# - Times on one thread of a shared 2-core CPU (2026-12-02): DIVE on xs 2,085 s (20.8 s / image,
#   its coarse seeds computed in the run); s's stored row: 19.4 s / image + 43.8 s of cached seeds.
#
# Outputs go to $RUNS (default /work/runsL); only the run.json files are copied into
# leaderboards/runs/ (no samples). DB is the command (default dive-bench; `python3 -m dive_bench`
# where the package is only on PYTHONPATH).
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
read -r -a DB <<< "${DB:-dive-bench}"
RUNS=${RUNS:-/work/runsL}
L=leaderboards/runs
COMMON=(--task canvas-det --quiet --items-per-batch 10)
FID=(--reference canvas-det-ref --feature-extractor canvas-classifier --num-samples 2000 --sampler ddim --steps 25
     --guidance 1 --seed 0 --bootstrap 50 --threads 1 --quiet)

keep() {  # copy a finished run's run.json (only) into leaderboards/runs/NAME/
  mkdir -p "$L/$1"
  cp "$RUNS/$1/run.json" "$L/$1/run.json"
}

"${DB[@]}" score layout-canvas-xs "${COMMON[@]}" --no-prior --out "$RUNS/layout-canvas-xs-dive-no-prior-neighbour-repairs"
keep layout-canvas-xs-dive-no-prior-neighbour-repairs

for m in layout-canvas-s layout-canvas-xs; do
  "${DB[@]}" fidelity "$m" "${FID[@]}" --out "$RUNS/$m-fidelity"
  keep "$m-fidelity"
done

for m in layout-canvas-s layout-canvas-xs; do
  "${DB[@]}" score "$m" --task "generated:$RUNS/$m-fidelity" --limit 100 "${COMMON[@]:2}" --no-prior \
    --out "$RUNS/$m-self-consistency"
  keep "$m-self-consistency"
done

"${DB[@]}" compare $L/layout-canvas-{s,xs}-dive-no-prior-neighbour-repairs $L/layout-canvas-{s,xs}-fidelity \
  $L/layout-canvas-{s,xs}-self-consistency
"${DB[@]}" leaderboard $L --out leaderboards/LEADERBOARD.md
