#!/usr/bin/env bash
# The music bench (issue 20): music models against speech-stft and Opus (48 kHz stereo) on the
# held-out Wesnoth tracks, the middle 20 s of each, ViSQOL audio mode + log-mel distance +
# energy above 8 kHz (`vqcodec bench audio --metrics music`; needs the bench extra).
#   MODELS="../ckpt/music-stft speech-stft" TAG=c1 bash training/music-stft/bench.sh
# One core; ~1 min per codec setting for the 8 tracks. Extra options go to `vqcodec bench audio`.
set -euo pipefail
cd "$(dirname "$0")/../.."
TEST=${TEST:-../ckpt/music-data/test}
MODELS=${MODELS:-speech-stft}
TAG=${TAG:?a name for the result files, e.g. c1}
D=training/music-stft
args=()
for m in $MODELS; do args+=(--model "$m"); done
OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 python -m vqcodec bench audio "$TEST" --metrics music \
    --max-seconds 20 --opus-levels 1.0,0.99,0.98,0.97,0.96,0.95,0.93,0.9 "${args[@]}" \
    --out-json $D/bench_music_$TAG.json --plot $D/rd_music_$TAG.png "$@"
