#!/usr/bin/env bash
# photo-v4 campaign, chunk 5: preset photo-v4-c5 -- photo-v4-c4's autoencoder unchanged (0
# stage-1 steps) and its coding prior trained on from the shipped integer prior (init_prior)
# for 1500 steps with a full cosine. Chunks 3 and 4 trained theirs from scratch for 500 steps.
# Checkpoints and the log go to $OUT, outside the work tree; RESUME=1 continues a cut-off chunk.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-../ckpt/photo-v4-c5}
DATA=${DATA:-../shared/data/photos}
python -m vqcodec train --data "$DATA" --out "$OUT" --preset photo-v4-c5 --name photo-v4-c5 \
    --init weights/photo-v4-c4 --seed 0 ${RESUME:+--resume} "$@"
