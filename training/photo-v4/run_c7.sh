#!/usr/bin/env bash
# photo-v4 campaign, chunk 7: preset photo-v4-c7 -- photo-v4-c4's autoencoder unchanged (0
# stage-1 steps), chunk 6's coding prior trained on (init_prior) for 1500 more steps on 256 px
# crops at batch 2, with near context added: each stream's stem also reads the 3x3
# neighbourhoods of the group before it and of its own group a layer up (prior near [1, 24]);
# those weights start at zero, so the chunk starts at chunk 6's probabilities.
# Checkpoints and the log go to $OUT, outside the work tree; RESUME=1 continues a cut-off chunk.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-../ckpt/photo-v4-c7}
DATA=${DATA:-../shared/data/photos}
python -m vqcodec train --data "$DATA" --out "$OUT" --preset photo-v4-c7 --name photo-v4-c7 \
    --init weights/photo-v4-c6 --seed 0 ${RESUME:+--resume} "$@"
