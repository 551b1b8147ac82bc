# mmdeploy: UperNet / Semantic FPN (any mmseg encoder-decoder) to ONNX
# Runtime, dynamic batch and image size; the graph ends with the argmax
# (label map at the network's input size).
#   python tools/deployment/deploy.py configs/deploy/segmentation_onnxruntime_dynamic.py \
#       MODEL_CONFIG CHECKPOINT IMAGE --work-dir WORK_DIR
# mmfasternet's mmdeploy support (in the base) pools UperNet's pyramid exactly
# at any size.
_base_ = ['./_base_/onnxruntime.py']

onnx_config = dict(
    output_names=['output'],
    dynamic_axes=dict(
        input={0: 'batch', 2: 'height', 3: 'width'},
        output={0: 'batch', 2: 'height', 3: 'width'}))

codebase_config = dict(type='mmseg', task='Segmentation', with_argmax=True)
