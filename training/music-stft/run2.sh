#!/usr/bin/env bash
# music-stft campaign (issue 20): one 12000-step run of preset music-stft-2 from scratch on
# training/music/fetch.py's split, trained in chunks, and its fork with the adversarial losses.
#
#   bash training/music-stft/run2.sh base 3000     # chunk: the base run up to step 3000
#   bash training/music-stft/run2.sh fork          # copy the base run's step-3000 checkpoint
#   bash training/music-stft/run2.sh gan 6000      # chunk: the fork (music-stft-2-gan) to 6000
#   bash training/music-stft/run2.sh base 6000     # ... the base run to the same step
#
# Each chunk ends at its step with a checkpoint (--stop-at) and continues from the last one
# (--resume): rerun the same line after an interruption. A chunk of ~3000 steps is ~70 min for
# the base run and ~105 min for the fork on one core (speed_gan.json). With the last step (no
# STEP, or 12000) the run finishes: stage 2 (the prior) and the model folder in $OUT/<run>.
# Data: python training/music/fetch.py --out ../ckpt/music-data
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA="${DATA:-../ckpt/music-data}/train"
OUT="${OUT:-../ckpt/music-stft-2}"
what=${1:?base, fork or gan}
step=${2:-}
chunk() {  # chunk PRESET FOLDER
    python -m vqcodec train --data "$DATA" --out "$2" --preset "$1" --name "$1" --seed 0 \
        --device auto --resume ${step:+--stop-at $step}
}
case $what in
    base) chunk music-stft-2 "$OUT/base" ;;
    gan) chunk music-stft-2-gan "$OUT/gan" ;;
    fork)
        python - "$OUT/base/checkpoint.pt" <<'PY'
import sys, torch
ck = torch.load(sys.argv[1], weights_only=False)
assert (ck["stage"], ck["step"]) == (1, 3000), f"the base run is at {ck['stage'], ck['step']}, not (1, 3000)"
PY
        mkdir -p "$OUT/gan"
        cp "$OUT/base/checkpoint.pt" "$OUT/gan/checkpoint.pt"
        cp "$OUT/base/train_log.jsonl" "$OUT/gan/train_log.jsonl" ;;
    *) echo "usage: run2.sh base|gan [STEP] | fork" >&2; exit 2 ;;
esac
