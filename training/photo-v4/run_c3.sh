#!/usr/bin/env bash
# photo-v4 campaign, chunk 3: preset photo-v4-c3 (the search weighs each group's error by the
# decoder's sensitivity; lam over [0.003, 2]), started from chunk 2's shipped weights (same
# shape: a plain --init; the sensitivities are probed at the first step).
# Checkpoints and the log go to $OUT, outside the work tree; RESUME=1 continues a cut-off chunk.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-../ckpt/photo-v4-c3}
DATA=${DATA:-../shared/data/photos}
python -m vqcodec train --data "$DATA" --out "$OUT" --preset photo-v4-c3 --name photo-v4-c3 \
    --init weights/photo-v4-c2 --seed 0 ${RESUME:+--resume} "$@"
