#!/usr/bin/env bash
# Reproduces weights/photo-v3: weights/photo-v2 (training/photo-v2/run.sh) fine-tuned for a
# second round of the same no-layer-dropout schedule (seed 1), then a prior trained afresh.
# Data: ../shared/data/photos (BSDS500 + Wikimedia photos; never Kodak, the test set).
# Hardware used: this 2-core CPU, no GPU. The shipped run first ran stage 1 with
# --prior-steps 1 (to read validation before paying for a prior), then was resumed at stage 2
# with the preset's 1500 prior steps (config.json: training.resumed); this runs it straight.
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA="${VQCODEC_DATA:-../shared/data}/photos"
OUT="${OUT:-runs/photo-v3}"
vqcodec train --data "$DATA" --out "$OUT" --preset photo-v2 --init photo-v2 --name photo-v3 \
    --seed 1 --device auto
mkdir -p weights/photo-v3
cp "$OUT"/config.json "$OUT"/model.safetensors "$OUT"/prior.safetensors weights/photo-v3/
cp "$OUT"/train_log.jsonl training/photo-v3/train_log.jsonl
