#!/usr/bin/env bash
# photo-v4 campaign, chunk 7: preset photo-v4-c7 -- photo-v4-c6's autoencoder (c4's) trained on
# for 2400 stage-1 steps at a restart lr of 2e-4, then chunk 6's coding prior (init_prior)
# adapted to the new codes for 500 steps on 256 px crops at batch 2.
# Checkpoints and the log go to $OUT, outside the work tree; RESUME=1 continues a cut-off chunk.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-../ckpt/photo-v4-c7}
DATA=${DATA:-../shared/data/photos}
python -m vqcodec train --data "$DATA" --out "$OUT" --preset photo-v4-c7 --name photo-v4-c7 \
    --init weights/photo-v4-c6 --seed 0 ${RESUME:+--resume} "$@"
