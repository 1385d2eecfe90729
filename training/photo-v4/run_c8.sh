#!/usr/bin/env bash
# photo-v4 campaign, chunk 8: preset photo-v4-c8 -- photo-v4-c6 with its decoder grown from 4+5
# to 4+9 ConvNeXt blocks (the new ones start as identities) and trained alone for 4000 steps:
# the encoder, codebooks, search scales and coding prior stay chunk 6's, so its codes and
# bytes do too. Checkpoints and the log go to $OUT, outside the work tree; RESUME=1 continues.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-../ckpt/photo-v4-c8}
DATA=${DATA:-../shared/data/photos}
python -m vqcodec train --data "$DATA" --out "$OUT" --preset photo-v4-c8 --name photo-v4-c8 \
    --init weights/photo-v4-c6 --seed 0 ${RESUME:+--resume} "$@"
