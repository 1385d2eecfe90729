#!/usr/bin/env bash
# speech-stft-2 (issue 20: speech above 6 kbps): preset speech-stft-2 on LibriSpeech's training
# speakers, trained in chunks that each end at a checkpoint and continue from the last one.
#
#   bash training/speech-stft-2/run.sh 4000     # chunk: stage 1 up to step 4000 (--stop-at)
#   bash training/speech-stft-2/run.sh          # to the end: stage 1, the prior, the model folder
#
# Rerun the same line after an interruption (--resume). Checkpoints live in $OUT (outside the
# work tree). Data: ../shared/data/speech/train (251 speakers; test/'s speakers are disjoint).
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA="${VQCODEC_DATA:-../shared/data}/speech/train"
OUT="${OUT:-../ckpt/speech-stft-2}"
step=${1:-}
python -m vqcodec train --data "$DATA" --out "$OUT" --preset speech-stft-2 --name speech-stft-2 \
    --seed 0 --device auto --resume ${step:+--stop-at $step}
