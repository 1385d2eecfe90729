#!/usr/bin/env bash
# speech-stft-3 (issue 20: PESQ-WB >= 3.0 at <= 8 kbps): what the phase-aware complex loss buys.
# First an A/B at equal steps from scratch, same seed, speech-stft-2's networks and data:
#
#   bash training/speech-stft-3/run.sh ab-base      # speech-stft-2's losses, a 3000-step cosine
#   bash training/speech-stft-3/run.sh ab-complex   # the same + complex_weight (preset speech-stft-3)
#
# (no prior: --prior-steps 0; the verdict is the unquantized and nearest-word PESQ-WB of
# training/speech-stft/ceiling.py on the test speakers, README.md here). Then the winner's full run:
#
#   bash training/speech-stft-3/run.sh full 4000    # a chunk: stage 1 to step 4000 (--stop-at)
#   bash training/speech-stft-3/run.sh full         # on to the end: stage 1, the prior, the model
#
# If two layers stay under PESQ-WB 3.0, a fine-tune of the full run's model that trains two layers
# on 5/8 of each batch (preset speech-stft-3-2l; FULL= the full run's folder, default $OUT's sibling):
#
#   bash training/speech-stft-3/run.sh ft2l
#
# Both runs' folders were lost with their machine before anything shipped (README, "The rerun");
# their replacement, from scratch with the draw weighted to two layers (preset speech-stft-3a,
# 12000 steps and a 1500-step prior, 1.5 h on an AVX-512 Zen 4 in bf16), then its second cosine
# (4000 steps, 35 min; A= the first one's folder, default $OUT's sibling), which ships as
# weights/speech-stft-3 after half.py:
#
#   bash training/speech-stft-3/run.sh a
#   bash training/speech-stft-3/run.sh a-c2
#
# Rerun the same line after an interruption (--resume). Checkpoints live in $OUT (default
# ../ckpt/speech-stft-3/ARM), outside the work tree. Data: ../shared/data/speech/train.
set -euo pipefail
cd "$(dirname "$0")/../.."
arm=${1:?ab-base, ab-complex, full, ft2l, a or a-c2}
step=${2:-}
DATA="${VQCODEC_DATA:-../shared/data}/speech/train"
OUT="${OUT:-../ckpt/speech-stft-3/$arm}"
case $arm in
    ab-base) args=(--preset speech-stft-2 --steps 3000 --prior-steps 0) ;;
    ab-complex) args=(--preset speech-stft-3 --steps 3000 --prior-steps 0) ;;
    full) args=(--preset speech-stft-3) ;;
    ft2l) args=(--preset speech-stft-3-2l --init "${FULL:-$(dirname "$OUT")/full}") ;;
    a) args=(--preset speech-stft-3a) ;;
    a-c2) args=(--preset speech-stft-3a-c2 --init "${A:-$(dirname "$OUT")/a}") ;;
    *) echo "no arm $arm (ab-base, ab-complex, full, ft2l, a, a-c2)" >&2; exit 2 ;;
esac
python -m vqcodec train --data "$DATA" --out "$OUT" "${args[@]}" --name "speech-stft-3-$arm" \
    --seed 0 --device auto --resume ${step:+--stop-at $step}
