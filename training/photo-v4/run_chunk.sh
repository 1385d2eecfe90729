#!/usr/bin/env bash
# photo-v4 campaign, chunks 2 on: `bash training/photo-v4/run_chunk.sh N [train options]` trains
# chunk N (its preset, from the model it starts from; why each chunk is what it is: the presets'
# comments in vqcodec/presets.py and README.md). Chunk 1 is run.sh (from scratch).
# Checkpoints and the log go to $OUT (default ../ckpt/photo-v4-cN), outside the work tree;
# RESUME=1 continues a cut-off chunk. Extra options go to `vqcodec train` (e.g. --steps).
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:?chunk number (2-8)}
shift
case $n in  # preset and parent of each chunk
    2) preset=photo-v4-g24 init=photo-v4-c1 ;;
    3) preset=photo-v4-c3 init=photo-v4-c2 ;;
    4) preset=photo-v4-c4 init=photo-v4-c3 ;;
    5) preset=photo-v4-c5 init=photo-v4-c4 ;;
    6) preset=photo-v4-c6 init=photo-v4-c5 ;;
    7) preset=photo-v4-c7 init=photo-v4-c6 ;;
    8) preset=photo-v4-c8 init=photo-v4-c6 ;;
    *) echo "no chunk $n (2-8; chunk 1 is run.sh)" >&2; exit 2 ;;
esac
OUT=${OUT:-../ckpt/photo-v4-c$n}
DATA=${DATA:-../shared/data/photos}
python -m vqcodec train --data "$DATA" --out "$OUT" --preset "$preset" --name "photo-v4-c$n" \
    --init "weights/$init" --seed 0 ${RESUME:+--resume} "$@"
