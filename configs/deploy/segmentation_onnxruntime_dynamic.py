# mmdeploy: UperNet / Semantic FPN (any mmseg encoder-decoder) to ONNX
# Runtime, dynamic batch and image size; the graph ends with the argmax
# (label map at the network's input size). Self-contained: mmdeploy's wheel
# ships no deploy configs.
#   python tools/deployment/deploy.py configs/deploy/segmentation_onnxruntime_dynamic.py \
#       MODEL_CONFIG CHECKPOINT IMAGE --work-dir WORK_DIR
# The custom import makes mmdeploy 1.3.1 work on this torch and onnxruntime
# and pools UperNet's pyramid exactly at any size
# (see mmfasternet/deploy/mmdeploy_support.py).
custom_imports = dict(
    imports=['mmfasternet.deploy.mmdeploy_support'],
    allow_failed_imports=False)

onnx_config = dict(
    type='onnx',
    export_params=True,
    keep_initializers_as_inputs=False,
    opset_version=17,
    save_file='end2end.onnx',
    input_names=['input'],
    output_names=['output'],
    input_shape=None,  # the model config's test pipeline decides the size
    # mmdeploy's graph optimiser needs a compiled extension its wheel lacks.
    optimize=False,
    dynamic_axes=dict(
        input={0: 'batch', 2: 'height', 3: 'width'},
        output={0: 'batch', 2: 'height', 3: 'width'}))

codebase_config = dict(type='mmseg', task='Segmentation', with_argmax=True)

backend_config = dict(type='onnxruntime')
