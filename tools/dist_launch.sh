#!/usr/bin/env bash
# torchrun around tools/train.py or tools/test.py; dist_train.sh and
# dist_test.sh call this. Multi-node: NNODES, NODE_RANK, MASTER_ADDR, PORT.
#   bash tools/dist_launch.sh GPUS SCRIPT [script arguments]
set -euo pipefail
GPUS=$1
SCRIPT=$2
shift 2
DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHONPATH="$DIR/..${PYTHONPATH:+:$PYTHONPATH}" \
"${PYTHON:-python}" -m torch.distributed.run \
    --nnodes="${NNODES:-1}" \
    --node_rank="${NODE_RANK:-0}" \
    --master_addr="${MASTER_ADDR:-127.0.0.1}" \
    --nproc_per_node="$GPUS" \
    --master_port="${PORT:-29500}" \
    "$SCRIPT" "$@" --launcher pytorch
