#!/usr/bin/env bash
# Training on a Slurm cluster, one task per GPU.
#   [GPUS=16] bash tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR [train.py options]
set -euo pipefail
DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
WORK_DIR=$4
shift 4
exec bash "$DIR/slurm_launch.sh" "$PARTITION" "$JOB_NAME" "$DIR/train.py" \
    "$CONFIG" --work-dir="$WORK_DIR" "$@"
