#!/usr/bin/env bash
# GPU path check: run the CUDA, TF32 and bf16-autocast paths on the protocols of the stored CPU
# reference runs (leaderboards/runs) and compare results and speed with them
# (benchmarks/gpu_compare.py). Usage:
#   bash benchmarks/gpu_check.sh OUTDIR [DEVICE] [LIMIT]
# DEVICE defaults to cuda; LIMIT (items per scoring run, default: the reference protocols' full
# size) exists so the script itself can be tried on a CPU in seconds. Each step has its own
# timeout and a failed step does not stop the others: the summary says what ran.
set -u
OUT=${1:?usage: gpu_check.sh OUTDIR [DEVICE] [LIMIT]}
DEV=${2:-cuda}
LIMIT=${3:-}
PY=${PYTHON:-python3}
STEP_TIMEOUT=${STEP_TIMEOUT:-150}
mkdir -p "$OUT"
db() { timeout "$STEP_TIMEOUT" "$PY" -m dive_bench "$@" --device "$DEV" --quiet; echo "exit $? : $*"; }

nvidia-smi -L 2>/dev/null || echo "no nvidia-smi"
"$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available() and torch.cuda.get_device_name(0))"

# Classification: the reference protocol of leaderboards/reference_runs.sh (Fashion-MNIST test
# 0-299, 100 probes), all 300 images in one batch, under fp32, fp32 + TF32 and bf16 autocast.
FM=(--task fmnist --limit "${LIMIT:-300}" --interval 10 --items-per-batch 300)
DIVE=(--method dive --steps 100 --batch-size 10 --monitor-every 10)
db score dit-fmnist-b "${FM[@]}" "${DIVE[@]}" --out "$OUT/fmnist-b-dive-fp32"
db score dit-fmnist-b "${FM[@]}" "${DIVE[@]}" --tf32 --out "$OUT/fmnist-b-dive-tf32"
db score dit-fmnist-b "${FM[@]}" "${DIVE[@]}" --dtype bf16 --out "$OUT/fmnist-b-dive-bf16"
db score dit-fmnist-b "${FM[@]}" --method enumerate --eval-batch 1000 --out "$OUT/fmnist-b-enumerate-fp32"
db score dit-fmnist-b "${FM[@]}" --method enumerate --eval-batch 1000 --dtype bf16 --out "$OUT/fmnist-b-enumerate-bf16"

# Detection: full DIVE on all 100 canvas-det images (coarse seed computed on the GPU: its cache is
# the machine's own), fp32 and bf16.
DET=(--task canvas-det --limit "${LIMIT:-100}" --items-per-batch 100)
db score layout-canvas-s "${DET[@]}" --out "$OUT/canvas-dive-fp32"
db score layout-canvas-s "${DET[@]}" --dtype bf16 --out "$OUT/canvas-dive-bf16"

# Fidelity: the stored dit-fmnist-s protocol (5000 DDIM-50 samples, fmnist-classifier features).
FID=(--reference fmnist --feature-extractor fmnist-classifier --num-samples "${LIMIT:-5000}" --batch-size 1000)
db fidelity dit-fmnist-s "${FID[@]}" --out "$OUT/fidelity-fp32"
db fidelity dit-fmnist-s "${FID[@]}" --dtype bf16 --out "$OUT/fidelity-bf16"

"$PY" benchmarks/gpu_compare.py "$OUT" | tee "$OUT/summary.md"
