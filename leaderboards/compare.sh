#!/usr/bin/env bash
# The model-comparison table (the paper's Table VI) from the stored Fashion-MNIST runs: DIVE and
# enumeration accuracy beside the in-domain fidelity metrics of the same checkpoints, with rank
# agreement and paired tests. Reads run.json files only (seconds, no model); tests/test_compare.py
# regenerates leaderboards/COMPARE.md the same way and compares.
set -euo pipefail
cd "$(dirname "$0")/.."
read -r -a DB <<< "${DB:-dive-bench}"
R=leaderboards/runs
"${DB[@]}" compare "$R/dit-fmnist-b-dive" "$R/dit-fmnist-s-dive" "$R/dit-fmnist-b-enumerate" \
  "$R/dit-fmnist-s-enumerate" "$R/dit-fmnist-b-fidelity" "$R/dit-fmnist-s-fidelity" \
  --title "Model comparison (Table VI)" --out leaderboards/COMPARE.md
