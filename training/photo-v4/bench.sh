#!/usr/bin/env bash
# Kodak and the held-out photos (not Kodak, never trained on) for photo-v4-c1 against photo-v3
# and Pillow's JPEG / WebP / AVIF, one pinned core each, side by side.
set -euo pipefail
cd "$(dirname "$0")/../.."
python training/photo-v4/heldout.py ../shared/data/photos /tmp/heldout
taskset -c 0 env OMP_NUM_THREADS=1 vqcodec bench images ../shared/data/kodak -m photo-v4-c1 -m photo-v3 \
    --out-json training/photo-v4/bench_kodak.json --plot training/photo-v4/rd_kodak.png > /tmp/bench_kodak.txt 2>&1 &
taskset -c 1 env OMP_NUM_THREADS=1 vqcodec bench images /tmp/heldout -m photo-v4-c1 -m photo-v3 \
    --out-json training/photo-v4/bench_heldout.json --plot training/photo-v4/rd_heldout.png > /tmp/bench_heldout.txt 2>&1 &
wait
