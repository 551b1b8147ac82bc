# mmdeploy: a box detector (RTMDet; any mmdet detector without masks) to
# ONNX Runtime, dynamic batch and image size; the graph ends with mmdeploy's
# NMS (boxes with scores, and labels).
#   PYTHONPATH=. python projects/mmdeploy_fasternet/tools/deploy.py projects/mmdeploy_fasternet/configs/detection_onnxruntime_dynamic.py \
#       MODEL_CONFIG CHECKPOINT IMAGE --work-dir WORK_DIR
_base_ = ['./_base_/onnxruntime.py']

onnx_config = dict(
    output_names=['dets', 'labels'],
    dynamic_axes=dict(
        input={0: 'batch', 2: 'height', 3: 'width'},
        dets={0: 'batch', 1: 'num_dets'},
        labels={0: 'batch', 1: 'num_dets'}))

codebase_config = dict(
    type='mmdet',
    task='ObjectDetection',
    model_type='end2end',
    # The model's test_cfg gives the score and IoU thresholds and the number
    # of detections kept where it names them (RTMDet's does); these are the
    # limits mmdeploy's ONNX NMS adds.
    post_processing=dict(
        score_threshold=0.05,
        confidence_threshold=0.005,
        iou_threshold=0.5,
        max_output_boxes_per_class=200,
        pre_top_k=5000,
        keep_top_k=100,
        background_label_id=-1))
