#!/usr/bin/env bash
# Reproduces training/paper/RESULTS.md (tables), sweep.png and results.json.
# 2-core CPU, one thread per run: main ~60 min, sweep ~30 min. Results are cached per run in runs/paper/.
set -euo pipefail
DATA=${DATA:-../shared/data}
python training/paper/reproduce.py main --data "$DATA" --steps 1500 --batch 32
python training/paper/reproduce.py sweep --data "$DATA" --steps 600 --batch 32
python training/paper/reproduce.py report
