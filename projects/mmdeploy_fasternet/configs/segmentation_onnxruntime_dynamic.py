# mmdeploy: UperNet / Semantic FPN (any mmseg encoder-decoder) to ONNX
# Runtime, dynamic batch and image size; the graph ends with the argmax
# (label map at the network's input size).
#   PYTHONPATH=. python projects/mmdeploy_fasternet/tools/deploy.py projects/mmdeploy_fasternet/configs/segmentation_onnxruntime_dynamic.py \
#       MODEL_CONFIG CHECKPOINT IMAGE --work-dir WORK_DIR
# The project's rewriters (imported by the base) pool UperNet's pyramid
# exactly at any size.
_base_ = ['./_base_/onnxruntime.py']

onnx_config = dict(
    output_names=['output'],
    dynamic_axes=dict(
        input={0: 'batch', 2: 'height', 3: 'width'},
        output={0: 'batch', 2: 'height', 3: 'width'}))

codebase_config = dict(type='mmseg', task='Segmentation', with_argmax=True)
