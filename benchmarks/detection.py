"""Detector settings that make a measurement independent of the random
weights: a fixed number of detections per image, equal head work
whatever the backbone."""
from typing import Dict, List

import torch
import torch.nn as nn
from mmengine.config import ConfigDict

# The last layer of each prediction branch, by the attribute name mmdet's
# heads give it, and the constant its bias is set to (its weights are
# zeroed). Found at any depth: in a head, in a per-level ModuleList
# (RTMDet's rtm_cls.0, .1, ...) and in a cascade's stages
# (roi_head.bbox_head.0.fc_cls). RTMDet's regressors predict distances from
# a point to the box sides in strides (exponentiated by the larger models),
# so their bias is 1: boxes of two strides (or 2e) a side rather than empty
# boxes, which min_bbox_size would drop. The others give equal scores, zero
# box deltas (boxes = anchors or proposals), zero mask kernels and logits.
PREDICTION_LAYERS: Dict[str, float] = {
    'rpn_cls': 0.0, 'rpn_reg': 0.0,  # RPN (two-stage detectors)
    'fc_cls': 0.0, 'fc_reg': 0.0,  # box heads, every cascade stage
    'conv_logits': 0.0,  # mask heads, every cascade stage
    'retina_cls': 0.0, 'retina_reg': 0.0,  # RetinaNet
    'rtm_cls': 0.0, 'rtm_reg': 1.0, 'rtm_obj': 0.0,  # RTMDet
    'rtm_kernel': 0.0,  # RTMDet-Ins's dynamic mask kernels
}


def keep_all_detections(model_cfg: ConfigDict,
                        max_per_img: int = 100) -> bool:
    """Make a detector keep exactly ``max_per_img`` detections per image
    (score threshold 0), in place in its model config: in ``test_cfg.rcnn``
    for two-stage and cascade detectors, in ``test_cfg`` itself for
    one-stage ones (RetinaNet, RTMDet). Returns False when the config has
    neither."""
    test_cfg = model_cfg.get('test_cfg') or {}
    target = test_cfg.get('rcnn')
    if target is None and ('score_thr' in test_cfg
                           or 'max_per_img' in test_cfg):
        target = test_cfg
    if target is None:
        return False
    target.score_thr = 0.0
    target.max_per_img = max_per_img
    return True


def _layer_kind(name: str) -> str:
    """A module name's last word that is not a list index."""
    words = [w for w in name.split('.') if not w.isdigit()]
    return words[-1] if words else ''


def prediction_layers(model: nn.Module) -> Dict[str, nn.Module]:
    """The model's prediction layers: each submodule with parameters of its
    own whose name, numbers (list indices) left out, ends in a key of
    :data:`PREDICTION_LAYERS`, by its full name."""
    return {
        name: module
        for name, module in model.named_modules()
        if _layer_kind(name) in PREDICTION_LAYERS
        and any(True for _ in module.parameters(recurse=False))
    }


def zero_prediction_layers(model: nn.Module) -> List[str]:
    """Make every prediction layer of a detector
    (:func:`prediction_layers`) output a constant, in place: weights zeroed,
    biases set to :data:`PREDICTION_LAYERS`' value, so that any two
    detectors of the same architecture find the same boxes in the same
    image whatever their backbone. Two-stage and cascade detectors: equal
    objectness makes the proposals the top anchors, equal class scores and
    zero box deltas make the detections the top proposals, and all-0.5 mask
    probabilities paste full boxes. One-stage detectors: equal class scores
    at every anchor or point, the anchors themselves (RetinaNet) or squares
    of fixed size around the points (RTMDet) as boxes, and masks of
    constant logits (RTMDet-Ins). The heads then do the same work for every
    backbone, unlike random weights, whose proposals, boxes and scores
    change the head time (by seconds per image for Mask R-CNN on a CPU).
    The layers still run.

    Returns:
        list[str]: the names of the layers set.

    Raises:
        ValueError: when the model has none of these layers.
    """
    layers = prediction_layers(model)
    if not layers:
        raise ValueError(
            f'{type(model).__name__}: no prediction layer named '
            f'{sorted(PREDICTION_LAYERS)} found; time this detector with '
            f'its own prediction layers instead '
            f'(benchmark_models(real_heads=True), python -m '
            f'benchmarks.benchmark model --real-heads).')
    for name, layer in layers.items():
        bias = PREDICTION_LAYERS[_layer_kind(name)]
        with torch.no_grad():
            layer.weight.zero_()
            if getattr(layer, 'bias', None) is not None:
                layer.bias.fill_(bias)
    return list(layers)
