#!/usr/bin/env bash
# photo-v4 campaign, chunk 2: the photo-v4-g24 preset (24 trees of 4-dim words), started from
# chunk 1's shipped weights; --init splits each of its 8-dim groups in two (product_vq.split_groups).
# Checkpoints and the log go to $OUT, outside the work tree; RESUME=1 continues a cut-off chunk.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-../ckpt/photo-v4-c2}
DATA=${DATA:-../shared/data/photos}
python -m vqcodec train --data "$DATA" --out "$OUT" --preset photo-v4-g24 --name photo-v4-c2 \
    --init weights/photo-v4-c1 --seed 0 ${RESUME:+--resume} "$@"
