#!/usr/bin/env bash
# Multi-GPU / multi-node testing with torchrun.
#   bash tools/dist_test.sh CONFIG CHECKPOINT GPUS [test.py options, e.g. --eval bbox segm]
# Multi-node: NNODES, NODE_RANK, MASTER_ADDR, PORT in the environment.
# Without GPUs the processes use gloo on the CPU (tools/test.py sets it up).
set -euo pipefail
DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CONFIG=$1
CHECKPOINT=$2
GPUS=$3
shift 3
exec bash "$DIR/dist_launch.sh" "$GPUS" "$DIR/test.py" "$CONFIG" "$CHECKPOINT" "$@"
