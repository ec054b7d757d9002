# Sourced by the detection scripts: `row OUT ARGS...` scores $MODEL (default layout-canvas-s) with
# "${COMMON[@]}" and ARGS, then merges OUT. On the CPU (DEVICE unset or cpu) as two shards in
# parallel, one torch thread each; on a GPU (DEVICE=cuda) as one process. DB is the command
# (default dive-bench; `python3 -m dive_bench` where the package is only on PYTHONPATH).
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
DEVICE=${DEVICE:-cpu}
MODEL=${MODEL:-layout-canvas-s}
read -r -a DB <<< "${DB:-dive-bench}"
row() {
  local out=$1; shift
  if [ "$DEVICE" = cpu ]; then
    "${DB[@]}" score "$MODEL" "${COMMON[@]}" "$@" --out "$out" --shard 0/2 >/dev/null &
    "${DB[@]}" score "$MODEL" "${COMMON[@]}" "$@" --out "$out" --shard 1/2 >/dev/null &
    wait
  else
    "${DB[@]}" score "$MODEL" "${COMMON[@]}" "$@" --device "$DEVICE" --out "$out" >/dev/null
  fi
  "${DB[@]}" merge "$out"
}
