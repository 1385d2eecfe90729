#!/usr/bin/env bash
# Trains weights/music-stft (issue 20): the general-audio model, 24 kHz, stereo as mid/side.
# Data: the Wesnoth soundtrack (Debian package wesnoth-1.16-music, GPL-2+ / CC-BY-SA; see
# training/music/README.md), split by track; fetch it first:
#     python training/music/fetch.py --out ../ckpt/music-data
# Hardware: this 2-core CPU machine, no GPU: about 1.3 s/step in stage 1 (batch 16 x 1 s, bf16
# autocast, one core), so the preset's 3000 steps take about 70 min; RESUME=1 continues a run
# from its checkpoint (every 500 steps).
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA="${DATA:-../ckpt/music-data}/train"
OUT="${OUT:-../ckpt/music-stft}"
vqcodec train --data "$DATA" --out "$OUT" --preset music-stft --name music-stft --seed 0 \
    --device auto ${RESUME:+--resume} "$@"
