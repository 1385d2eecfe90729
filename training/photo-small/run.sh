#!/usr/bin/env bash
# Reproduces weights/photo-small: the first default image model.
# Data: ../shared/data/photos (BSDS500 + Wikimedia photos; never Kodak, the test set).
# Hardware used: this 2-core CPU machine, no GPU (about 25 min stage 1 + 10 min stage 2).
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA="${VQCODEC_DATA:-../shared/data}/photos"
OUT="${OUT:-runs/photo-small}"
vqcodec train --data "$DATA" --out "$OUT" --preset small --name photo-small --seed 0 --device auto
mkdir -p weights/photo-small
cp "$OUT"/config.json "$OUT"/model.safetensors "$OUT"/prior.safetensors weights/photo-small/
cp "$OUT"/train_log.jsonl training/photo-small/train_log.jsonl
