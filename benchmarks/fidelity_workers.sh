#!/usr/bin/env bash
# Issue 29's acceptance for sharded fidelity, on a CPU: one fidelity run (dit-fmnist-s, N samples,
# DDIM 50 steps, Fashion-MNIST test set, fmnist-classifier) made by 1 worker, by 2 workers under
# torchrun, by 3 workers with --shard K/3 started together, and by 1 worker killed (SIGKILL) after
# its first samples and resumed. Prints one line per run (sample hash, metrics, wall seconds) and
# whether all four agree, into benchmarks/FIDELITY_WORKERS.md. One torch and BLAS thread per process.
# Usage: bash benchmarks/fidelity_workers.sh [N] [SCRATCH]   (repository root, dive-bench on PATH)
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
N=${1:-1000}
S=${2:-/tmp/dive-bench-fidelity-workers}
rm -rf "$S" && mkdir -p "$S"
F=(fidelity dit-fmnist-s --reference fmnist --feature-extractor fmnist-classifier --num-samples "$N"
   --sampler-steps 50 --sample-batch 50 --threads 1 --quiet)

t0=$(date +%s.%N); dive-bench "${F[@]}" --out "$S/one" >/dev/null; t_one=$(echo "$(date +%s.%N) - $t0" | bc)
t0=$(date +%s.%N)
python -m torch.distributed.run --nproc-per-node 2 --master-port 29533 -m dive_bench "${F[@]}" --out "$S/torchrun" \
  >/dev/null 2>"$S/torchrun.log"
t_two=$(echo "$(date +%s.%N) - $t0" | bc)
t0=$(date +%s.%N)
for k in 0 1 2; do dive-bench "${F[@]}" --shard "$k/3" --out "$S/three" >/dev/null & done; wait
t_three=$(echo "$(date +%s.%N) - $t0" | bc)
# killed after its first committed samples, then resumed by the same command
dive-bench "${F[@]}" --out "$S/killed" >/dev/null 2>&1 & pid=$!
while kill -0 "$pid" 2>/dev/null && [ "$(find "$S/killed/samples" -name '*.png' 2>/dev/null | wc -l)" -lt 100 ]; do
  sleep 0.1
done
kill -9 "$pid"; wait "$pid" 2>/dev/null || true
at_kill=$(find "$S/killed/samples" -name '[0-9]*.png' | wc -l)
dive-bench "${F[@]}" --out "$S/killed" >/dev/null

python3 - "$S" "$N" "$t_one" "$t_two" "$t_three" "$at_kill" <<'EOF'
import hashlib, json, sys
from pathlib import Path
s, n, t1, t2, t3, at_kill = Path(sys.argv[1]), int(sys.argv[2]), *map(float, sys.argv[3:6]), int(sys.argv[6])
rows, seen = [], set()
for name, label, wall in (("one", "1 worker", t1), ("torchrun", "2 workers (torchrun)", t2),
                          ("three", "3 workers (--shard K/3)", t3), ("killed", f"1 worker, SIGKILL at {at_kill} samples, resumed", None)):
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in sorted((s / name / "samples").glob("[0-9]*.png")))).hexdigest()
    run = json.loads((s / name / "run.json").read_text())
    metrics = {k: v["value"] for k, v in run["metrics"].items()}
    made = json.loads((s / name / "samples" / "manifest.json").read_text())["generated"]
    seen.add((digest, json.dumps(metrics, sort_keys=True), run["run_key"]))
    rows.append(f"| {label} | {len(list((s / name / 'samples').glob('[0-9]*.png')))} | {made} | {digest[:16]} | "
                f"{metrics['fd_fmnist']!r} | {metrics['kid_fmnist']:.6f} | {metrics['precision_fmnist']:.4f} | "
                + (f"{wall:.1f} |" if wall is not None else "- |"))
text = "\n".join([
    "# Fidelity on many workers (issue 29)", "",
    f"Written by `benchmarks/fidelity_workers.sh {n}`: dit-fmnist-s, {n} samples, DDIM 50 steps, --sample-batch 50, "
    "fmnist test set (10,000), fmnist-classifier; one torch and BLAS thread per process on a 2-core CPU shared with "
    "other jobs (wall times include each process's start and, for the last worker, the metrics).", "",
    "| run | samples | manifest: generated | sha256 of all samples | FD | KID | precision | wall s |",
    "|---|---:|---:|---|---:|---:|---:|---:|", *rows, "",
    f"All four identical (samples, metrics, run key): **{'yes' if len(seen) == 1 else 'NO'}**.", ""])
Path("benchmarks/FIDELITY_WORKERS.md").write_text(text)
print(text)
sys.exit(0 if len(seen) == 1 else 1)
EOF
