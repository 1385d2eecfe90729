#!/usr/bin/env bash
# Reproduces weights/cifar-hrvq: HR-VQ 8/64/512 on CIFAR-10 (the 5085-image training subset in
# ../shared/data/cifar10; the test images are never seen), then its .vqc round-trip check.
set -euo pipefail
DATA=${DATA:-../shared/data}
python training/cifar/cifar_vqc.py export --data "$DATA" --out runs/cifar-png
vqcodec train --data runs/cifar-png/train --out runs/cifar-hrvq --preset cifar --name cifar-hrvq
mkdir -p weights/cifar-hrvq
cp runs/cifar-hrvq/{config.json,model.safetensors,prior.safetensors} weights/cifar-hrvq/
cp runs/cifar-hrvq/train_log.jsonl training/cifar/train_log.jsonl
python training/cifar/cifar_vqc.py eval --model cifar-hrvq --data "$DATA" -n 500 \
    --out training/cifar/eval_vqc_500.json
