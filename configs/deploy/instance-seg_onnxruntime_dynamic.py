# mmdeploy: Mask R-CNN (any mmdet instance segmentation model) to ONNX Runtime,
# dynamic batch and image size. Self-contained: mmdeploy's wheel ships no
# deploy configs.
#   python tools/deployment/deploy.py configs/deploy/instance-seg_onnxruntime_dynamic.py \
#       MODEL_CONFIG CHECKPOINT IMAGE --work-dir WORK_DIR
# The custom import makes mmdeploy 1.3.1 work on this torch and onnxruntime
# (see mmfasternet/deploy/mmdeploy_support.py).
custom_imports = dict(
    imports=['mmfasternet.deploy.mmdeploy_support'],
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
    output_names=['dets', 'labels', 'masks'],
    input_shape=None,  # the model config's test pipeline decides the size
    # mmdeploy's graph optimiser needs a compiled extension its wheel lacks.
    optimize=False,
    dynamic_axes=dict(
        input={0: 'batch', 2: 'height', 3: 'width'},
        dets={0: 'batch', 1: 'num_dets'},
        labels={0: 'batch', 1: 'num_dets'},
        masks={0: 'batch', 1: 'num_dets', 2: 'height', 3: 'width'}))

codebase_config = dict(
    type='mmdet',
    task='ObjectDetection',
    model_type='end2end',
    # The model's test_cfg gives the score and IoU thresholds and the number
    # of detections kept; these are the limits mmdeploy's ONNX NMS adds.
    post_processing=dict(
        score_threshold=0.05,
        confidence_threshold=0.005,
        iou_threshold=0.5,
        max_output_boxes_per_class=200,
        pre_top_k=5000,
        keep_top_k=100,
        background_label_id=-1,
        export_postprocess_mask=False))

backend_config = dict(type='onnxruntime')
