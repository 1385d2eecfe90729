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
# The shipped weights are a short CPU run (the preset's 12000 + 3000 steps did not fit the session):
# 500 steps of a 1500-step schedule, then resumed from that checkpoint and ended at 650 steps
# (the cosine schedule recomputed for 650), then 300 prior steps. About 50 min on 2 shared cores.
# For the full recipe, drop the two --steps/--prior-steps overrides and the first command.
vqcodec train --data "$DATA" --out "$OUT" --preset speech-small --name speech-small --seed 0 \
    --device auto --steps 1500 --prior-steps 500 &
pid=$!
until python -c "import sys, torch; sys.exit(torch.load('$OUT/checkpoint.pt', weights_only=False)['step'] < 500)" \
    2>/dev/null; do sleep 20; done
kill "$pid"; wait "$pid" || true
vqcodec train --data "$DATA" --out "$OUT" --preset speech-small --name speech-small --seed 0 \
    --device auto --steps 650 --prior-steps 300 --resume
mkdir -p weights/speech-small
cp "$OUT"/config.json "$OUT"/model.safetensors "$OUT"/prior.safetensors weights/speech-small/
cp "$OUT"/train_log.jsonl training/speech-small/train_log.jsonl
vqcodec bench audio "${VQCODEC_DATA:-../shared/data}/speech/test" --model speech-small \
    --out-json training/speech-small/bench_speech_test.json --plot training/speech-small/rd_speech_test.png
