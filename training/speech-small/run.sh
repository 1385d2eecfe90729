#!/usr/bin/env bash
# Reproduces weights/speech-small: the first default audio (speech) model, 16 kHz.
# Data: ../shared/data/speech/train (LibriSpeech train-clean, 251 speakers, 52 min; never test/,
# whose speakers are disjoint from it).
# Hardware planned: this 2-core CPU machine, no GPU. Measured in a smoke run (1 thread, machine
# shared with another training): 1.5 s/step in stage 1 (batch 16 x 1 s), 0.48 s/step in stage 2;
# 12000 + 3000 steps are then about 5 h + 25 min on one thread (about half with 2 idle cores).
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA="${VQCODEC_DATA:-../shared/data}/speech/train"
OUT="${OUT:-runs/speech-small}"
vqcodec train --data "$DATA" --out "$OUT" --preset speech-small --name speech-small --seed 0 \
    --device auto ${RESUME:+--resume}
mkdir -p weights/speech-small
cp "$OUT"/config.json "$OUT"/model.safetensors "$OUT"/prior.safetensors weights/speech-small/
cp "$OUT"/train_log.jsonl training/speech-small/train_log.jsonl
vqcodec bench audio "${VQCODEC_DATA:-../shared/data}/speech/test" --model speech-small \
    --json training/speech-small/bench_speech_test.json --plot training/speech-small/rd_speech_test.png
