#!/usr/bin/env bash
# Testing on a Slurm cluster, one task per GPU.
#   [GPUS=8] bash tools/slurm_test.sh PARTITION JOB_NAME CONFIG CHECKPOINT [test.py options]
set -euo pipefail
DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
CHECKPOINT=$4
shift 4
exec bash "$DIR/slurm_launch.sh" "$PARTITION" "$JOB_NAME" "$DIR/test.py" \
    "$CONFIG" "$CHECKPOINT" "$@"
