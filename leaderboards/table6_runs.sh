#!/usr/bin/env bash
# The class-conditional rows of the model comparison (the paper's Table VI(a), LEADERBOARD.md's first
# section) beyond leaderboards/reference_runs.sh's two DiTs: dit-fmnist-s-1k (the small DiT's recipe
# stopped at 1,000 of 3,000 steps), unet-fmnist-s (another architecture family: a UNet2DModel
# through the `unet` adapter) and dit-fmnist-b-flow (dit-fmnist-b's recipe as a rectified-flow
# model), each scored by DIVE and exhaustive enumeration under the reference
# protocol; the fidelity runs of all four with 50 bootstrap replicates over the generated samples
# (the agreement intervals resample them); and each model's self-consistency: exhaustive
# enumeration (the reference probes) of the first 300 of its own fidelity samples, 30 per class
# (--task generated:, which reads the samples the fidelity run left in its folder; they are
# gitignored). CPU, one torch thread per job, two jobs at a time: about 2 hours on 2 cores.
# DB is the command (default dive-bench).
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
read -r -a DB <<< "${DB:-dive-bench}"
R=leaderboards/runs
P=(--task fmnist --limit 300 --interval 10 --quiet)
DIVE=(--method dive --steps 100 --batch-size 10 --monitor-every 10 --items-per-batch 20)
ENUM=(--method enumerate --eval-batch 1000 --items-per-batch 20)
FID=(--reference fmnist --num-samples 5000 --feature-extractor fmnist-classifier --steps 50 --sampler ddim
     --guidance 1 --seed 0 --bootstrap 50 --threads 1 --quiet)
(
  "${DB[@]}" score unet-fmnist-s "${P[@]}" "${DIVE[@]}" --out $R/unet-fmnist-s-dive
  "${DB[@]}" score dit-fmnist-b-flow "${P[@]}" "${DIVE[@]}" --out $R/dit-fmnist-b-flow-dive
) &
(
  "${DB[@]}" score dit-fmnist-s-1k "${P[@]}" "${DIVE[@]}" --out $R/dit-fmnist-s-1k-dive
  "${DB[@]}" score dit-fmnist-s-1k "${P[@]}" "${ENUM[@]}" --out $R/dit-fmnist-s-1k-enumerate
  "${DB[@]}" score unet-fmnist-s "${P[@]}" "${ENUM[@]}" --out $R/unet-fmnist-s-enumerate
  "${DB[@]}" score dit-fmnist-b-flow "${P[@]}" "${ENUM[@]}" --out $R/dit-fmnist-b-flow-enumerate
  for m in dit-fmnist-s dit-fmnist-b dit-fmnist-s-1k unet-fmnist-s dit-fmnist-b-flow; do
    "${DB[@]}" fidelity $m "${FID[@]}" --out $R/$m-fidelity
    "${DB[@]}" score $m --task generated:$R/$m-fidelity --limit 300 --interval 10 --quiet "${ENUM[@]}" \
      --out $R/$m-self-consistency
  done
) &
wait
"${DB[@]}" leaderboard $R --out leaderboards/LEADERBOARD.md
