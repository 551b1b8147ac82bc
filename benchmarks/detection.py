"""Detector settings that make a measurement independent of the random
weights: a fixed number of detections per image, equal head work
whatever the backbone."""
from typing import List

import torch
import torch.nn as nn
from mmengine.config import ConfigDict

# The last layer of each prediction branch of a two-stage detector.
PREDICTION_LAYERS = ('rpn_head.rpn_cls', 'rpn_head.rpn_reg',
                     'roi_head.bbox_head.fc_cls', 'roi_head.bbox_head.fc_reg',
                     'roi_head.mask_head.conv_logits')


def keep_all_detections(model_cfg: ConfigDict,
                        max_per_img: int = 100) -> bool:
    """Make the second stage keep exactly ``max_per_img`` detections per
    image (score threshold 0), in place in a detector's model config.
    Returns False when the config has no ``test_cfg.rcnn``."""
    rcnn = model_cfg.get('test_cfg', {}).get('rcnn')
    if rcnn is None:
        return False
    rcnn.score_thr = 0.0
    rcnn.max_per_img = max_per_img
    return True


def zero_prediction_layers(model: nn.Module) -> List[str]:
    """Zero the last layer of every prediction branch of a two-stage
    detector (:data:`PREDICTION_LAYERS`), in place, so that any two
    detectors of the same architecture find the same boxes in the same
    image whatever their backbone: equal objectness makes the proposals
    the top anchors, equal class scores and zero box deltas make the
    detections the top proposals, and all-0.5 mask probabilities paste
    full boxes. The heads then do the same work for every backbone, unlike
    random weights, whose proposals and box sizes (mask pasting scales with
    them) change the head time by seconds per image on a CPU. The layers
    still run.

    Returns:
        list[str]: the names of the layers zeroed.

    Raises:
        ValueError: when the model has none of these layers.
    """
    zeroed = []
    for name in PREDICTION_LAYERS:
        try:
            layer = model.get_submodule(name)
        except AttributeError:
            continue
        with torch.no_grad():
            for tensor in layer.parameters():
                tensor.zero_()
        zeroed.append(name)
    if not zeroed:
        raise ValueError(
            f'{type(model).__name__}: none of {PREDICTION_LAYERS} found; '
            f'time this detector with its own prediction layers instead '
            f'(benchmark_models(real_heads=True), python -m '
            f'benchmarks.benchmark model --real-heads).')
    return zeroed
