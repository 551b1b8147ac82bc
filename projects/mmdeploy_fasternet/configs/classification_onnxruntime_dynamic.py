# mmdeploy: FasterNet ImageNet classifier (mmpretrain ImageClassifier with
# FasterNetClsHead) to ONNX Runtime, dynamic batch; the graph ends with
# mmdeploy's softmax (class scores).
#   PYTHONPATH=. python projects/mmdeploy_fasternet/tools/deploy.py projects/mmdeploy_fasternet/configs/classification_onnxruntime_dynamic.py \
#       MODEL_CONFIG CHECKPOINT IMAGE --work-dir WORK_DIR
_base_ = ['./_base_/onnxruntime.py']

onnx_config = dict(
    output_names=['output'],
    dynamic_axes=dict(input={0: 'batch'}, output={0: 'batch'}))

codebase_config = dict(type='mmpretrain', task='Classification')
