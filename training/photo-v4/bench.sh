#!/usr/bin/env bash
# Kodak and the held-out photos (not Kodak, never trained on) for a photo-v4 chunk's model
# against photo-v3 and Pillow's JPEG / WebP / AVIF, one pinned core each, side by side.
#   MODEL=photo-v4-c3 TAG=c3 bash training/photo-v4/bench.sh   (MODEL may be a folder)
set -euo pipefail
cd "$(dirname "$0")/../.."
MODEL=${MODEL:-photo-v4-c3}
TAG=${TAG:-c3}
D=training/photo-v4
python $D/heldout.py ../shared/data/photos /tmp/heldout
taskset -c 0 env OMP_NUM_THREADS=1 vqcodec bench images ../shared/data/kodak -m "$MODEL" -m photo-v3 \
    --out-json $D/bench_kodak_$TAG.json --plot $D/rd_kodak_$TAG.png > /tmp/bench_kodak_$TAG.txt 2>&1 &
taskset -c 1 env OMP_NUM_THREADS=1 vqcodec bench images /tmp/heldout -m "$MODEL" -m photo-v3 \
    --out-json $D/bench_heldout_$TAG.json --plot $D/rd_heldout_$TAG.png > /tmp/bench_heldout_$TAG.txt 2>&1 &
wait
