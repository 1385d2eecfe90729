#!/usr/bin/env bash
# photo-v4 campaign, chunk 1: the photo-v4 preset from scratch on ../shared/data/photos
# (BSDS500 + Wikimedia; never Kodak). Checkpoints and the log go to $OUT, outside the work
# tree; rerun with RESUME=1 to continue a chunk that was cut off. Chunks after this one start
# from the last committed weights: --init weights/photo-v4-c1 (see README.md here).
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-../ckpt/photo-v4-c1}
DATA=${DATA:-../shared/data/photos}
python -m vqcodec train --data "$DATA" --out "$OUT" --preset photo-v4 --name photo-v4-c1 \
    --seed 0 ${RESUME:+--resume} "$@"
