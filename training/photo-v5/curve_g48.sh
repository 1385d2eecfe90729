#!/usr/bin/env bash
# The 48-tree line's learning curve (curve_g48.json, curve_g48.png): every stage-1 log since g48
# in campaign order (side branches and probes included: their CPU-hours were spent too; curve.py
# numbers chunks by position, so chunk N is the N-th log) and the Kodak bench of each chunk that
# had one. The logs and benches are found by name (train_log_g48cN.jsonl for N = 2, 3, ... until
# one is missing; bench_kodak_g48cN.json where it exists), so after a chunk, with its log and
# bench here:
#   bash training/photo-v5/curve_g48.sh
set -euo pipefail
cd "$(dirname "$0")"
logs=(train_log_g48.jsonl@2)
benches=(--bench 1=bench_kodak_g48.json=photo-v5-g48)
for ((n = 2; ; n++)); do
    [ -f "train_log_g48c$n.jsonl" ] || break
    logs+=("train_log_g48c$n.jsonl@2")
    f=bench_kodak_g48c$n.json
    [ "$n" = 10 ] && f=bench_kodak_g48c10_lam10.json  # chunk 10's of record: its 10-lam bench
    [ -f "$f" ] && benches+=(--bench "$n=$f")
done
python ../photo-v4/curve.py "${benches[@]}" --campaign photo-v5-g48 --json curve_g48.json \
    --plot curve_g48.png "${logs[@]}"
