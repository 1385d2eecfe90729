#!/usr/bin/env bash
# photo-v5 campaign (issue 19): `bash training/photo-v5/run_chunk.sh N [train options]` trains
# chunk N with its preset (why each chunk is what it is: the presets' comments in
# vqcodec/presets.py and README.md here). Chunks 1-3: the 24-tree line (1 from scratch, each later
# one from the committed weights of the one before). g48, g48-c2, g48-c5 ... g48-c11: the 48-tree
# line that made the default photo-v5-g48-c11, each from the one before (g48-c5 from the shipped
# photo-v5-g48-c2; g48-c3 and -c4 are side branches from it); parents that do not ship are read
# from $CKPT (default ../ckpt), where the chunk before wrote them. The whole line again:
#   for n in g48 g48-c2 g48-c5 g48-c6 g48-c7 g48-c8 g48-c9 g48-c10 g48-c11; do
#       bash training/photo-v5/run_chunk.sh $n; done        # about 10 CPU-hours on 2 cores
# Checkpoints and the log go to $OUT (default $CKPT/NAME), outside the work tree; RESUME=1
# continues a chunk cut off in the same session. g48-c14 is a fork of g48-c13 at step 500 (run
# `run_chunk.sh g48-c13 --stop-at 500` first): its checkpoint is copied and resumed under the
# g48-c14 preset; g48-c15 starts from the shipped photo-v5-g48-c14, g48-c16 from the shipped
# g48-c15, g48-c16-p4 (a probe: c16's prior refitted with 4 phases on layer 1) and g48-c17 from
# c16 in $CKPT, g48-c18 (shipped) from c17 in $CKPT. Extra options go to `vqcodec train` (e.g.
# --steps). Data: BSDS500 + Wikimedia photos (../shared/data/photos), never Kodak.
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:?chunk number}
shift
C=${CKPT:-../ckpt}
case $n in  # name and parent of each chunk (its preset is photo-v5-<name without photo-v5->)
    1) name=photo-v5-c1 init= ;;
    2|3) name=photo-v5-c$n init=weights/photo-v5-c$((n - 1)) ;;
    g48) name=photo-v5-g48 init= ;;
    g48-c2) name=photo-v5-g48-c2 init=$C/photo-v5-g48 ;;
    g48-c3|g48-c4|g48-c5) name=photo-v5-$n init=weights/photo-v5-g48-c2 ;;
    g48-c6|g48-c7|g48-c8|g48-c9|g48-c10|g48-c11)
        name=photo-v5-$n init=$C/photo-v5-g48-c$((${n#g48-c} - 1)) ;;
    g48-c13) name=photo-v5-g48-c13 init=weights/photo-v5-g48-c11 ;;
    g48-c14) name=photo-v5-g48-c14 init= ;;
    g48-c15) name=photo-v5-g48-c15 init=weights/photo-v5-g48-c14 ;;
    g48-c16) name=photo-v5-g48-c16 init=weights/photo-v5-g48-c15 ;;
    g48-c16-p4|g48-c17) name=photo-v5-$n init=$C/photo-v5-g48-c16 ;;
    g48-c18) name=photo-v5-g48-c18 init=$C/photo-v5-g48-c17 ;;
    *) echo "no chunk $n (1-3, g48, g48-c2 ... g48-c18)" >&2; exit 2 ;;
esac
preset=${name/photo-v5-c1/photo-v5}
OUT=${OUT:-$C/$name}
if [ "$n" = g48-c14 ] && [ ! -e "$OUT/checkpoint.pt" ]; then  # the fork point: c13 at step 500
    mkdir -p "$OUT" && cp "$C/photo-v5-g48-c13/checkpoint.pt" "$OUT/"
    RESUME=1
fi
DATA=${DATA:-../shared/data/photos}
python -m vqcodec train --data "$DATA" --out "$OUT" --preset "$preset" --name "$name" \
    ${init:+--init "$init"} --seed 0 ${RESUME:+--resume} "$@"
