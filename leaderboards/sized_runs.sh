#!/usr/bin/env bash
# The detection ablation (the paper's Table III) on canvas-det-sized: the canvases with one size
# per class, whose layouts carry rules a prior can learn (on canvas-det they carry none that
# DIVE's errors break). Model: layout-canvas-s-sized = the layout-canvas-s image model with priors
# trained on canvas-det-sized train layouts.
#  1. The prior weight is chosen on the dev split (canvas-det-sized-dev, first 30 images) among
#     1, 0.3, 0.1, 0.03 by AP (ties: the smaller weight); runs in leaderboards/tuning-sized.
#  2. All 100 val images: full DIVE at that weight, the four ablations, and the coarse seed alone.
# Rows share cached coarse seeds (the first row computes them: about 45 min on 2 cores).
# LIMIT=N scores only N images per row (a quick try of the script); DEVICE=cuda uses a GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=layout-canvas-s-sized
source leaderboards/_row.sh
T=leaderboards/tuning-sized
R=leaderboards/runs
COMMON=(--task canvas-det-sized-dev --limit "${LIMIT:-30}" --quiet --items-per-batch 10)
row $T/dev-no-prior --no-prior
for w in 1 0.3 0.1 0.03; do
  row $T/dev-prior-w$w --prior-weight $w
done
best=$(python3 - "$T" <<'PY'
import json, sys
from pathlib import Path
runs = [json.loads(p.read_text()) for p in Path(sys.argv[1]).glob("dev-prior-w*/run.json")]
best = max(runs, key=lambda r: (r["metrics"]["ap"]["value"], -r["method_config"]["prior_weight"]))
print(best["method_config"]["prior_weight"])
PY
)
echo "prior weight chosen on dev: $best"
"${DB[@]}" leaderboard $T --title "canvas-det-sized-dev: prior weight" --out $T/TUNING.md
COMMON=(--task canvas-det-sized --quiet --items-per-batch 10 ${LIMIT:+--limit $LIMIT})
row $R/layout-canvas-s-sized-dive-no-prior --no-prior
row $R/layout-canvas-s-sized-dive --prior-weight "$best"
row $R/layout-canvas-s-sized-dive-no-snap --prior-weight "$best" --no-snap
row $R/layout-canvas-s-sized-dive-no-prior-no-snap --no-prior --no-snap
row $R/layout-canvas-s-sized-dive-decoupled --prior-weight "$best" --decoupled-prior
row $R/layout-canvas-s-sized-coarse-seed-only --steps 0
"${DB[@]}" leaderboard $R --out leaderboards/LEADERBOARD.md
