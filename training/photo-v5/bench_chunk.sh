#!/usr/bin/env bash
# Bench one chunk's model on every image of a folder, one shard per core (the list forwards on
# core 0, backwards on core 1; bench_shards.py skips an image the other shard has taken), then
# merge with training/photo-v4/bench_shards.py merge or subset_bd.py (README.md here).
#   bash training/photo-v5/bench_chunk.sh MODEL ROWS [FOLDER]
# FOLDER defaults to Kodak (../shared/data/kodak); LAMBDAS (bench_shards.py's) picks fewer lams,
# e.g. LAMBDAS="0.003 0.01 0.03 0.1" for the held-out photos (training/photo-v4/heldout.py).
# Kodak at 12 lams takes about 35 min on 2 cores without bf16. Each shard's log: ROWS.log0/1.
set -euo pipefail
cd "$(dirname "$0")/../.."
model=${1:?model folder or name}
export ROWS=${2:?rows folder} KODAK=${3:-../shared/data/kodak}
mapfile -t imgs < <(ls "$KODAK" | grep -iE '\.(png|jpe?g)$')
[ ${#imgs[@]} -gt 0 ] || { echo "no images in $KODAK" >&2; exit 2; }
mapfile -t rev < <(printf '%s\n' "${imgs[@]}" | tac)
OMP_NUM_THREADS=1 taskset -c 0 python training/photo-v4/bench_shards.py run "$model" \
    "${imgs[@]}" > "$ROWS.log0" 2>&1 &
OMP_NUM_THREADS=1 taskset -c 1 python training/photo-v4/bench_shards.py run "$model" \
    "${rev[@]}" > "$ROWS.log1" 2>&1 &
wait
