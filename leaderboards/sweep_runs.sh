#!/usr/bin/env bash
# A checkpoint sweep (issue 15 item 4): the dit-fmnist-s recipe (preset s, 3,000 steps, batch 64,
# lr 1e-3, seed 0) with the EMA model kept every 500 steps, each checkpoint scored with the
# reference DIVE protocol on the first 200 Fashion-MNIST test images (100 probes, 100 steps x 10
# probes, monitor every 10) and with the in-domain FD (fmnist-classifier, 2,000 samples, DDIM 50).
# About 30 min on one CPU core. Only the run.json files, SWEEP.md and sweep.png are kept in
# leaderboards/sweep-fmnist-s (checkpoints and shards stay in $WORK); `dive-bench plot sweep`
# re-renders the page from them, and tests/report/test_report_check.py checks that it agrees.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
read -r -a DB <<< "${DB:-dive-bench}"
WORK=${WORK:-runs/sweep-fmnist-s-work}
OUT=leaderboards/sweep-fmnist-s
"${DB[@]}" train class-dit --dataset fmnist --preset s --steps 3000 --batch-size 64 --lr 0.001 --seed 0 \
  --threads 1 --save-every 500 --save-dtype fp16 --out "$WORK/train"
"${DB[@]}" sweep "$WORK/train" --task fmnist --limit 200 --interval 10 --method dive --steps 100 \
  --probes-per-step 10 --monitor-every 10 --items-per-batch 20 --quiet \
  --fidelity --reference fmnist --feature-extractor fmnist-classifier --num-samples 2000 --out "$WORK/sweep"
for f in "$WORK"/sweep/{score,fidelity}/*/run.json; do
  rel=${f#"$WORK"/sweep/}
  mkdir -p "$OUT/$(dirname "$rel")"
  cp "$f" "$OUT/$rel"
done
"${DB[@]}" plot sweep "$OUT" --title "Checkpoint sweep: dit-fmnist-s recipe, fmnist"
