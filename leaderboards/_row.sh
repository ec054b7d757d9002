# Sourced by the detection scripts: `row OUT ARGS...` scores layout-canvas-s with "${COMMON[@]}"
# and ARGS as two shards in parallel (one torch thread each), then merges OUT.
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
row() {
  local out=$1; shift
  dive-bench score layout-canvas-s "${COMMON[@]}" "$@" --out "$out" --shard 0/2 >/dev/null &
  dive-bench score layout-canvas-s "${COMMON[@]}" "$@" --out "$out" --shard 1/2 >/dev/null &
  wait
  dive-bench merge "$out"
}
