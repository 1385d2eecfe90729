#!/usr/bin/env bash
# Reproduces training/paper/RESULTS.md, results.json and sweep.png (see README.md here).
# 2-core CPU, one thread per run: main ~50 min, sweep ~25 min, search ~5 min.
# Each run is cached in runs/paper/<name>.json, so an interrupted recipe resumes.
set -euo pipefail
DATA=${DATA:-../shared/data}
python training/paper/reproduce.py main --data "$DATA" --steps 1500 --batch 32
python training/paper/reproduce.py sweep --data "$DATA" --steps 600 --batch 32
python training/paper/reproduce.py search
python training/paper/reproduce.py report
