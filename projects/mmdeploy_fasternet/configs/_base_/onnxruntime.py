# What every deploy config here shares: ONNX export for ONNX Runtime, opset 17.
# The custom import loads this project into every process that reads the
# config (mmdeploy's worker processes too): its patches of mmdeploy 1.3.1 and
# torch, and its exact ONNX Runtime rewriters (projects/mmdeploy_fasternet/
# README.md). It needs the repository root on PYTHONPATH. mmdeploy's wheel
# ships no deploy configs, so these stand alone.
custom_imports = dict(
    imports=['projects.mmdeploy_fasternet.mmdeploy_support'],
    allow_failed_imports=False)

onnx_config = dict(
    type='onnx',
    export_params=True,
    keep_initializers_as_inputs=False,
    # RoiAlign before opset 16 has no half-pixel mode: mmdeploy then shifts
    # the boxes itself, and ONNX Runtime enlarges every region smaller than
    # a feature pixel to one pixel, which mmcv's aligned RoIAlign does not.
    opset_version=17,
    save_file='end2end.onnx',
    input_names=['input'],
    input_shape=None,  # the model config's test pipeline decides the size
    # mmdeploy's graph optimiser needs a compiled extension its wheel lacks.
    optimize=False)

backend_config = dict(type='onnxruntime')
