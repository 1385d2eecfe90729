#!/usr/bin/env bash
# photo-v4 campaign, chunk 6: preset photo-v4-c6 -- photo-v4-c4's autoencoder unchanged (0
# stage-1 steps), chunk 5's coding prior trained on (init_prior) for 1500 more steps with a
# full cosine, on the codes of 256 px crops (32x32 latent grids; chunk 5: 128 px, 16x16) at batch 2
# (chunk 5: 8): the share of positions at a border comes nearer a Kodak image's.
# Checkpoints and the log go to $OUT, outside the work tree; RESUME=1 continues a cut-off chunk.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-../ckpt/photo-v4-c6}
DATA=${DATA:-../shared/data/photos}
python -m vqcodec train --data "$DATA" --out "$OUT" --preset photo-v4-c6 --name photo-v4-c6 \
    --init weights/photo-v4-c5 --seed 0 ${RESUME:+--resume} "$@"
