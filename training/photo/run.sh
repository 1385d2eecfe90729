#!/usr/bin/env bash
# Reproduces weights/photo: the default image model.
# Data: ../shared/data/photos (BSDS500 + Wikimedia photos; never Kodak, the test set).
# It starts from weights/photo-small (reproduced by training/photo-small/run.sh) and trains on
# 128 px crops; hardware used: this 2-core CPU, no GPU (see README.md for the times).
# The shipped run was started with a 4000-step schedule, stopped at step 1500 and resumed with
# the preset's 2000 steps (config.json: training.resumed); this script runs the 2000 straight.
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA="${VQCODEC_DATA:-../shared/data}/photos"
OUT="${OUT:-runs/photo}"
vqcodec train --data "$DATA" --out "$OUT" --preset photo --init photo-small --name photo \
    --seed 0 --device auto
mkdir -p weights/photo
cp "$OUT"/config.json "$OUT"/model.safetensors "$OUT"/prior.safetensors weights/photo/
cp "$OUT"/train_log.jsonl training/photo/train_log.jsonl
