#!/usr/bin/env bash
# Multi-GPU / multi-node training with torchrun.
#   bash tools/dist_train.sh CONFIG GPUS [train.py options]
# Multi-node: NNODES, NODE_RANK, MASTER_ADDR, PORT in the environment.
# Without GPUs the processes use gloo on the CPU (tools/train.py sets it up).
set -euo pipefail
DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CONFIG=$1
GPUS=$2
shift 2
exec bash "$DIR/dist_launch.sh" "$GPUS" "$DIR/train.py" "$CONFIG" "$@"
