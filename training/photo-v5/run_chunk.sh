#!/usr/bin/env bash
# photo-v5 campaign (issue 19): `bash training/photo-v5/run_chunk.sh N [train options]` trains
# chunk N with its preset (why each chunk is what it is: the presets' comments in
# vqcodec/presets.py and README.md here). Chunk 1 starts from scratch, each later one from the
# committed weights of the one before (--init weights/photo-v5-c<N-1>), so a chunk needs nothing
# that does not outlive a session. Checkpoints and the log go to $OUT (default
# ../ckpt/photo-v5-cN), outside the work tree; RESUME=1 continues a chunk cut off in the same
# session. Extra options go to `vqcodec train` (e.g. --steps). Data: BSDS500 + Wikimedia
# photos (../shared/data/photos), never Kodak.
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:?chunk number}
shift
case $n in  # preset and parent of each chunk
    1) preset=photo-v5 init= ;;
    2) preset=photo-v5-c2 init=photo-v5-c1 ;;
    3) preset=photo-v5-c3 init=photo-v5-c2 ;;
    *) echo "no chunk $n (1-3)" >&2; exit 2 ;;
esac
OUT=${OUT:-../ckpt/photo-v5-c$n}
DATA=${DATA:-../shared/data/photos}
python -m vqcodec train --data "$DATA" --out "$OUT" --preset "$preset" --name "photo-v5-c$n" \
    ${init:+--init "weights/$init"} --seed 0 ${RESUME:+--resume} "$@"
