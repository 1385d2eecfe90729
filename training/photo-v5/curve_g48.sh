#!/usr/bin/env bash
# The 48-tree line's learning curve (curve_g48.json, curve_g48.png): every stage-1 log since g48
# in campaign order (side branches and probes included: their CPU-hours were spent too; curve.py
# numbers chunks by position, so chunk N is the N-th log) and the Kodak bench of each chunk that
# had one. Bring it up to date after a chunk: add its log and bench below, then
#   bash training/photo-v5/curve_g48.sh
set -euo pipefail
cd "$(dirname "$0")"
last=18  # the newest chunk with a log here
logs=(train_log_g48.jsonl@2)
for n in $(seq 2 $last); do logs+=("train_log_g48c$n.jsonl@2"); done
benches=(--bench 1=bench_kodak_g48.json=photo-v5-g48)
for n in 2 5 6 7 8 9 10 11 14 15 16 17 18; do  # chunk 10's of record: its 10-lam bench
    f=bench_kodak_g48c$n.json; [ "$n" = 10 ] && f=bench_kodak_g48c10_lam10.json
    benches+=(--bench "$n=$f")
done
python ../photo-v4/curve.py "${benches[@]}" --campaign photo-v5-g48 --json curve_g48.json \
    --plot curve_g48.png "${logs[@]}"
