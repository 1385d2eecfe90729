#!/usr/bin/env bash
# Issue 21: sampling priors for cifar-hrvq and for a new MNIST model, a flat-VQ CIFAR model of
# the same bits for the hierarchy comparison, and the measurements. One CPU core:
#
#   OMP_NUM_THREADS=1 taskset -c 1 bash training/sampler/run.sh [STAGE ...]
#
# Stages (default: all, in this order): cifar  mnist-model  mnist  flat-model  flat  measure
# Every stage resumes: after an interruption rerun the same command; a finished stage is
# skipped (delete its run folder to redo it). Smoke runs: STEPS=3 LIMIT=64 WEIGHTS=/tmp/w
# (a copy of weights/cifar-hrvq in it) RUNS=/tmp/runs LOGS=/tmp/logs OUT=/tmp/mout, so
# nothing lands in the repo; see training/sampler/README.md.
set -euo pipefail
DATA=${DATA:-../shared/data}
RUNS=${RUNS:-runs}
WEIGHTS=${WEIGHTS:-weights}
STEPS=${STEPS:-}   # every stage's step count (default: the presets')
LIMIT=${LIMIT:-}   # only the first N images of each split (smoke runs)
HERE=training/sampler
LOGS=${LOGS:-$HERE}   # where the training logs are copied
OUT=${OUT:-$HERE}     # where measure.py writes
mkdir -p "$LOGS"
CIFAR=$DATA/cifar10/cifar10_subset.npz
MNIST=$DATA/mnist/mnist_subset.npz
steps() { [ -n "$STEPS" ] && echo "--steps $STEPS" || true; }
limit() { [ -n "$LIMIT" ] && echo "--limit $LIMIT" || true; }
model_steps() { [ -n "$STEPS" ] && echo "--steps $STEPS --prior-steps $STEPS" || true; }

sampler() {  # sampler MODEL_FOLDER DATA PRESET RUN LOG_COPY
    if [ -f "$4/sampler.json" ]; then echo "$4: done"; return; fi
    python -m vqcodec train-sampler --model "$1" --data "$2" --preset "$3" --out "$4" \
        --into "$1" --resume $(steps) $(limit)
    cp "$4/train_log.jsonl" "$5"
}

model() {  # model NPZ PRESET NAME FOLDER: train RUNS/NAME, then copy the model to FOLDER
    if [ -f "$4/config.json" ]; then echo "$4: done"; return; fi
    [ -d "$RUNS/$3-png/train" ] || python $HERE/npz_png.py "$1" "$RUNS/$3-png" ${LIMIT:+--limit $LIMIT}
    python -m vqcodec train --data "$RUNS/$3-png/train" --out "$RUNS/$3" --preset "$2" \
        --name "$3" --resume $(model_steps)
    mkdir -p "$4"
    cp "$RUNS/$3"/{config.json,model.safetensors,prior.safetensors} "$4/"
}

stage_cifar() { sampler "$WEIGHTS/cifar-hrvq" "$CIFAR" cifar "$RUNS/sampler-cifar" \
    $LOGS/cifar_sampler_log.jsonl; }

stage_mnist_model() {
    model "$MNIST" mnist mnist-hrvq "$WEIGHTS/mnist-hrvq"
    cp "$RUNS/mnist-hrvq/train_log.jsonl" $LOGS/mnist_model_log.jsonl
    [ -f "$WEIGHTS/mnist-hrvq/card.json" ] || cat > "$WEIGHTS/mnist-hrvq/card.json" <<'EOF'
{
  "summary": "28x28 grey digits (MNIST), stride 2; try `vqcodec sample --class 7`",
  "rates": "HR-VQ 8/64/512 on a 14x14 grid",
  "listed": true
}
EOF
}

stage_mnist() { sampler "$WEIGHTS/mnist-hrvq" "$MNIST" mnist "$RUNS/sampler-mnist" \
    $LOGS/mnist_sampler_log.jsonl; }

# The flat VQ stays a run folder: it is a comparison, not a model to ship (and keep) for ever.
stage_flat_model() {
    model "$CIFAR" cifar-flat cifar-flat "$RUNS/cifar-flat-model"
    cp "$RUNS/cifar-flat/train_log.jsonl" $LOGS/cifar_flat_model_log.jsonl
}

stage_flat() { sampler "$RUNS/cifar-flat-model" "$CIFAR" cifar-flat "$RUNS/sampler-cifar-flat" \
    $LOGS/cifar_flat_sampler_log.jsonl; }

stage_measure() {
    local small=()
    [ -n "$LIMIT" ] && small=(--train-limit "$LIMIT" --test-limit "$LIMIT" --per-class 2
                               --nearest 1 --classifier-epochs 1 --grid-cols 2)
    local models=(--model "$WEIGHTS/cifar-hrvq")
    [ -f "$RUNS/cifar-flat-model/config.json" ] && models+=(--model "$RUNS/cifar-flat-model")
    python $HERE/measure.py "${models[@]}" --data "$CIFAR" --out "$OUT/cifar" "${small[@]}"
    if [ -f "$WEIGHTS/mnist-hrvq/config.json" ]; then
        python $HERE/measure.py --model "$WEIGHTS/mnist-hrvq" --data "$MNIST" \
            --out "$OUT/mnist" --no-flip --classifier-epochs 3 --test-limit 2000 \
            "${small[@]}"
    fi
}

for s in ${@:-cifar mnist-model mnist flat-model flat measure}; do
    echo "== stage $s"
    "stage_${s//-/_}"
done
