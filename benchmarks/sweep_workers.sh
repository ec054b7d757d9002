#!/usr/bin/env bash
# Issue 29's acceptance for sharded sweeps, on a CPU: a sweep over the shipped checkpoints of one
# training recipe (dit-fmnist-s-1k = step 1000 and dit-fmnist-s = step 3000, linked as step-NNNNNN
# folders) scored by exhaustive enumeration on Fashion-MNIST test images 0-99 with fidelity
# (1,000 samples, fmnist-classifier), once by 1 worker and once by 2 workers under torchrun.
# Compares the pages (SWEEP.md, sweep.png) byte for byte and each checkpoint's per-item predictions
# and metrics, into benchmarks/SWEEP_WORKERS.md. One torch and BLAS thread per process.
# Usage: bash benchmarks/sweep_workers.sh [SCRATCH]   (repository root, dive-bench on PATH)
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
S=${1:-/tmp/dive-bench-sweep-workers}
rm -rf "$S" && mkdir -p "$S/ckpts"
A=$(python3 -c "import dive_bench, os; print(os.path.join(os.path.dirname(dive_bench.__file__), 'assets'))")
ln -s "$A/dit-fmnist-s-1k" "$S/ckpts/step-001000"
ln -s "$A/dit-fmnist-s" "$S/ckpts/step-003000"
W=(sweep "$S/ckpts" --task fmnist --method enumerate --limit 100 --interval 10 --threads 1 --quiet
   --fidelity --reference fmnist --feature-extractor fmnist-classifier --num-samples 1000)

t0=$(date +%s.%N); dive-bench "${W[@]}" --out "$S/one" >/dev/null; t_one=$(echo "$(date +%s.%N) - $t0" | bc)
t0=$(date +%s.%N)
python -m torch.distributed.run --nproc-per-node 2 --master-port 29534 -m dive_bench "${W[@]}" --out "$S/two" \
  >"$S/two.log" 2>&1
t_two=$(echo "$(date +%s.%N) - $t0" | bc)

python3 - "$S" "$t_one" "$t_two" <<'EOF'
import json, sys
from pathlib import Path
s, t1, t2 = Path(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
same_page = all((s / "one" / f).read_bytes() == (s / "two" / f).read_bytes() for f in ("SWEEP.md", "sweep.png"))
rows, same_runs = [], True
for kind in ("score", "fidelity"):
    for one in sorted((s / "one" / kind).glob("*/run.json")):
        a, b = json.loads(one.read_text()), json.loads((s / "two" / kind / one.parent.name / "run.json").read_text())
        keys = ("run_key", "metrics") + (("items",) if kind == "score" else ())
        equal = all((a.get(k) == b.get(k)) if k != "items" else
                    (a[k]["ids"], a[k]["predictions"]) == (b[k]["ids"], b[k]["predictions"]) for k in keys)
        same_runs &= equal
        value = a["metrics"].get("accuracy", a["metrics"].get("fd_fmnist"))["value"]
        rows.append(f"| {kind} | {one.parent.name} | {value:.4f} | {'yes' if equal else 'NO'} |")
text = "\n".join([
    "# Checkpoint sweeps on many workers (issue 29)", "",
    "Written by `benchmarks/sweep_workers.sh`: the shipped dit-fmnist-s-1k (step 1000) and dit-fmnist-s (step 3000), "
    "exhaustive enumeration on Fashion-MNIST test images 0-99 (100 probes), fidelity of 1,000 samples "
    "(fmnist-classifier); 1 worker vs 2 workers under torchrun, one thread each, on a 2-core CPU shared with other jobs.", "",
    "| run | checkpoint | accuracy / FD | 2 workers equal 1 (key, metrics, predictions) |", "|---|---|---:|---|", *rows, "",
    f"SWEEP.md and sweep.png byte-identical: **{'yes' if same_page else 'NO'}**. "
    f"Wall time: 1 worker {t1:.0f} s, 2 workers {t2:.0f} s.", ""])
Path("benchmarks/SWEEP_WORKERS.md").write_text(text)
print(text)
sys.exit(0 if same_page and same_runs else 1)
EOF
