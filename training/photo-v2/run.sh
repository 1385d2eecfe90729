#!/usr/bin/env bash
# Reproduces weights/photo-v2: weights/photo (training/photo/run.sh) fine-tuned without layer
# dropout, then a prior trained afresh on its codes.
# Data: ../shared/data/photos (BSDS500 + Wikimedia photos; never Kodak, the test set).
# Hardware used: this 2-core CPU, no GPU (see README.md for the times).
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA="${VQCODEC_DATA:-../shared/data}/photos"
OUT="${OUT:-runs/photo-v2}"
vqcodec train --data "$DATA" --out "$OUT" --preset photo-v2 --init photo --name photo-v2 \
    --seed 0 --device auto
mkdir -p weights/photo-v2
cp "$OUT"/config.json "$OUT"/model.safetensors "$OUT"/prior.safetensors weights/photo-v2/
cp "$OUT"/train_log.jsonl training/photo-v2/train_log.jsonl
