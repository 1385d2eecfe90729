#!/usr/bin/env bash
# photo-v4 campaign, chunk 4: preset photo-v4-c4 (photo-v4-c3 with 4+5 decoder blocks where it
# had 2+3), started from chunk 3's shipped weights: the added blocks start as identities, so
# training continues from exactly what photo-v4-c3 computes.
# Checkpoints and the log go to $OUT, outside the work tree; RESUME=1 continues a cut-off chunk.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-../ckpt/photo-v4-c4}
DATA=${DATA:-../shared/data/photos}
python -m vqcodec train --data "$DATA" --out "$OUT" --preset photo-v4-c4 --name photo-v4-c4 \
    --init weights/photo-v4-c3 --seed 0 ${RESUME:+--resume} "$@"
