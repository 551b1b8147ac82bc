#!/usr/bin/env bash
# The GPU figures of docs/benchmarks.md in one run (about 6 minutes on an
# H200, most of it torch.compile). Each step writes a log and a JSON file.
#   bash benchmarks/gpu_benchmarks.sh OUT_DIR
# QUICK=1 DEVICE=cpu runs the same steps tiny, to check the script itself.
set -u
OUT=${1:-work_dirs/gpu_benchmarks}
PY=${PYTHON:-python3}
# this checkout's mmfasternet and benchmarks, mmfasternet installed or not
# (as tools/dist_launch.sh does)
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"
DEVICE=${DEVICE:-cuda}
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
# the config paths below are relative to the repository root
cd "$REPO"
if [ "${QUICK:-0}" = 1 ]; then
    BIG="--batch 2 --shape 64 64 --warmup 1 --repeats 2"
    DET="--shape 128 128 --warmup 1 --repeats 1"
    OPS="--batch 1 --warmup 1 --repeats 2"
else
    BIG="--batch 256 --shape 224 224 --warmup 10 --repeats 30"
    DET="--shape 800 1344 --warmup 3 --repeats 10"
    OPS="--batch 32 --warmup 5 --repeats 20"
fi

step() {
    name=$1
    shift
    echo "== $name: $*"
    start=$(date +%s)
    timeout "${STEP_TIMEOUT:-300}" "$PY" "$@" --json "$OUT/$name.json" \
        > "$OUT/$name.log" 2>&1
    echo "   exit $? after $(( $(date +%s) - start )) s"
    grep -v -E "^(W|I)[0-9]{4} |UserWarning|warnings.warn|^\s*$" "$OUT/$name.log" | tail -n 25
}

command -v nvidia-smi > /dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$OUT/gpu.txt"
"$PY" -c "import torch, mmcv, mmdet, mmengine; print('torch', torch.__version__, 'mmcv', mmcv.__version__, 'mmdet', mmdet.__version__)"

# Backbone throughput, the issue's protocol: bf16, channels_last, batch 256.
step backbone_s_bf16 -m benchmarks.benchmark backbone --archs s --baselines resnet50 \
    --device "$DEVICE" --dtype bf16 --channels-last --compile $BIG
step backbone_t0_l_bf16 -m benchmarks.benchmark backbone --archs t0 l --baselines \
    --device "$DEVICE" --dtype bf16 --channels-last $BIG
# Where the GPU time of each form goes, kernel by kernel (eager).
step profile_s_bf16 -m benchmarks.benchmark backbone --archs s --baselines \
    --device "$DEVICE" --dtype bf16 --channels-last --profile 15 $BIG
# Backbone latency at detection resolution, fp32, batch 1.
step backbone_s_fp32_1344 -m benchmarks.benchmark backbone --archs s --baselines resnet50 \
    --device "$DEVICE" --dtype fp32 $DET
# The paper's Table 1 operators.
step ops_fp32 -m benchmarks.operators --device "$DEVICE" $OPS
# Whole Mask R-CNN, 100 detections per image, batch 1 and 8.
for batch in 1 8; do
    step "maskrcnn_b$batch" -m benchmarks.benchmark model configs/maskrcnn_fasternet_s_coco.py \
        configs/maskrcnn_fasternet_t0_coco.py mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py \
        --device "$DEVICE" --batch "$batch" $DET
done
