#!/usr/bin/env bash
# One bounded training run on the GPU machine, resuming where the last run stopped; and, with --collect,
# bringing its checkpoint back into the checkout afterwards.
#
#   here, once per run: .venv/bin/python scripts/prepare_device_run.py [--seed N]  # data-local/: JPEGs + the VGG-19 file
#   the device call:    command "bash scripts/device_train.sh", carry ["data-local"], timeout_s 600
#   here, after it:     bash scripts/device_train.sh --collect FILES_AT    # the folder the call's files landed in
#   then commit $WEIGHTS and $RUN_DIR: the next run, from any clone, resumes from them.
#
# Stop the CPU background run first (python -m model background stop) and resume it after --collect: both
# train the same committed state. On the machine it trains for BUDGET seconds (default 480, start-up and
# saving included) with bf16 autocast and channels_last, and leaves in $OUT: model.safetensors (float16
# weights, 15.3 MiB), train_state.pt (step, RNG, 8-bit Adam state: 7.7 MiB), ema.safetensors (the run's
# weight average, 15.3 MiB, begun afresh: the payload has no room to carry one; --collect puts it where the
# background run goes on with it), train_log.csv, loss.png, grid.png (held-out stylizations: dataset images, never
# commit it) and train.out (the console log). It trains with the background run's recipe (model/background.py
# TRAIN_ARGS: crop schedule, zoom, identity pairs, learning rate, weight average, batch; 8 decoding threads, not
# its 1), so both continue the same run.
# Extra arguments go to `python -m model.train` after it and win, e.g. --sdpa or --compile (compare the it/s
# each run prints) or another --size.
# The machine needs only PyTorch, NumPy, Pillow and safetensors, which it has.
set -euo pipefail
cd "$(dirname "$0")/.."
WEIGHTS=${WEIGHTS:-model/checkpoints/sanet-vgg19.safetensors}   # travels in the tree once committed
RUN_DIR=${RUN_DIR:-model/checkpoints/training}                # train_state.pt + train_log.csv, committed too
DATA=${DATA:-data-local/images}
ENCODER=${ENCODER:-data-local/vgg19-encoder.pt}
BUDGET=${BUDGET:-480}
PYTHON=${PYTHON:-python3}
HISTORY=${HISTORY:-runs/history}     # git-ignored and not carried: every run's files, for evaluate
AVERAGE_DIR=${AVERAGE_DIR:-runs/background}   # where the background run keeps its weight average (git-ignored)

if [ "${1:-}" = "--collect" ]; then
    src=${2:?usage: $0 --collect FOLDER_HOLDING_THE_RUNS_FILES}
    for f in model.safetensors train_state.pt train_log.csv loss.png; do
        [ -f "$src/$f" ] || { echo "error: $src/$f is missing: the run did not finish" >&2; exit 2; }
    done
    step=$(tail -n 1 "$src/train_log.csv" | cut -d, -f1)
    mkdir -p "$RUN_DIR" "$(dirname "$WEIGHTS")" "$HISTORY/step-$step"
    cp "$src/model.safetensors" "$WEIGHTS"
    cp "$src/train_state.pt" "$src/train_log.csv" "$RUN_DIR/"
    cp "$src/loss.png" "$RUN_DIR/"                    # a plot of numbers: fine to commit (grid.png is not)
    cp "$src"/* "$HISTORY/step-$step/"
    if [ -f "$src/ema.safetensors" ]; then   # saved at the collected step: the background run goes on with it
        mkdir -p "$AVERAGE_DIR" && cp "$src/ema.safetensors" "$AVERAGE_DIR/"
    fi
    echo "step $step: $WEIGHTS and $RUN_DIR updated (commit them); its weight average in $AVERAGE_DIR;" \
         "every file of this run kept in $HISTORY/step-$step"
    exit 0
fi

for f in "$ENCODER" "$DATA/photos" "$DATA/paintings"; do
    [ -e "$f" ] || { echo "error: $f is missing: run scripts/prepare_device_run.py here and carry data-local" >&2; exit 2; }
done
OUT=${OUT:-runs/device-out}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo "(no nvidia-smi)"
"$PYTHON" -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available())'
read -r -a RECIPE <<< "$("$PYTHON" -c 'from model.background import TRAIN_ARGS; print(" ".join(TRAIN_ARGS))')"
PYTHONUNBUFFERED=1 "$PYTHON" -m model.train --data "$DATA" --run-dir "$RUN_DIR" --weights "$WEIGHTS" \
    --report-dir "$OUT" --encoder-weights "$ENCODER" --state-precision compact --budget-seconds "$BUDGET" \
    "${RECIPE[@]}" --threads 8 "$@" \
    2>&1 | tee "$OUT/train.out"
cp "$WEIGHTS" "$OUT/model.safetensors"
cp "$RUN_DIR"/train_state.pt "$RUN_DIR"/train_log.csv "$RUN_DIR"/loss.png "$OUT/"
ls -l "$OUT"
