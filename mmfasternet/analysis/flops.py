"""Parameters and FLOPs of whole models built from configs, counted with
mmengine's counter (multiply-accumulates, as fvcore and the FasterNet paper
count them)."""
import copy
from typing import Optional, Sequence, Union

import torch
import torch.nn as nn
from mmengine.analysis import get_model_complexity_info
from mmengine.config import Config

from ..engine import task_of
from .detection import fix_proposals
from .models import build_model_from_config, model_inputs, read_config

# Input (H, W) counted when none is given.
DEFAULT_SHAPES = dict(detection=(1280, 800), segmentation=(512, 512),
                      classification=(224, 224))


class _TensorForward(nn.Module):
    """The model's ``mode='tensor'`` forward (what mmdet's, mmseg's and
    mmpretrain's FLOPs tools count) with fixed data samples."""

    def __init__(self, model: nn.Module, data_samples):
        super().__init__()
        self.model = model
        self.data_samples = data_samples

    def forward(self, inputs):
        return self.model(inputs, self.data_samples, mode='tensor')


def count_flops(config: Union[str, Config],
                shape: Optional[Sequence[int]] = None,
                proposals: int = 1000) -> dict:
    """Parameters and FLOPs of a config's model and of its backbone alone,
    on one random image.

    Args:
        config: a path, ``pkg::path`` or :class:`Config` (not modified).
        shape: input (H, W); default :data:`DEFAULT_SHAPES` of the task.
        proposals: for two-stage detectors, RPN boxes per image, kept
            exactly (NMS off) so that the count does not depend on random
            weights (the paper's mmdet 2.x count ran the box head on 1000
            proposals and the mask head on 100); 0 keeps the config's RPN.

    Returns:
        dict: ``task``, ``shape`` (H, W), ``params`` and
        ``backbone_params`` (counts), ``flops`` and ``backbone_flops``
        (multiply-accumulates), ``proposals`` (the count used, None when
        the RPN was left as configured or there is none).

    Raises:
        ValueError: for a config of another library than mmdet, mmseg or
            mmpretrain.
    """
    cfg = copy.deepcopy(read_config(config))
    task = task_of(cfg)
    fixed = bool(proposals) and fix_proposals(cfg.model, proposals)
    model = build_model_from_config(cfg).eval()
    height, width = DEFAULT_SHAPES[task] if shape is None else shape
    inputs, samples = model_inputs(task, 1, (height, width))
    if task != 'detection':  # their tensor forward takes no samples
        samples = None
    with torch.no_grad():
        whole = get_model_complexity_info(
            _TensorForward(model, samples), inputs=(inputs, ),
            show_table=False, show_arch=False)
        backbone = get_model_complexity_info(
            model.backbone, inputs=(inputs, ), show_table=False,
            show_arch=False)
    return dict(
        task=task,
        shape=(height, width),
        params=sum(p.numel() for p in model.parameters()),
        flops=whole['flops'],
        backbone_params=sum(p.numel() for p in model.backbone.parameters()),
        backbone_flops=backbone['flops'],
        proposals=proposals if fixed else None)
