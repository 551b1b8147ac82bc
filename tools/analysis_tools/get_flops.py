"""Parameters and FLOPs of a detection, segmentation or classification config
(and of its backbone alone), at a chosen input shape.

    python tools/analysis_tools/get_flops.py configs/maskrcnn_fasternet_s_coco.py --shape 1280 800
    python tools/analysis_tools/get_flops.py mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py

FLOPs are counted as multiply-accumulates (mmengine's counter, as fvcore and
the FasterNet paper count them) and printed in G, params in M, without
automatic unit scaling. ``--shape`` is H W (one number: square). For
two-stage detectors the RPN keeps exactly ``--proposals`` boxes (NMS off),
so the count does not depend on the random weights: the paper's mmdet 2.x
counting ran the box head on 1000 proposals and the mask head on 100.
Configs of the installed libraries are named ``mmdet::PATH``,
``mmseg::PATH`` or ``mmpretrain::PATH`` (PATH under their ``configs/``).
"""
import argparse
import copy

import torch
import torch.nn as nn
from mmengine.analysis import get_model_complexity_info
from mmengine.config import DictAction

from mmfasternet.engine.tasks import (
    build_model_from_config,
    model_inputs,
    read_config,
    task_of,
)

# Input (H, W) counted when none is given.
DEFAULT_SHAPES = dict(detection=(1280, 800), segmentation=(512, 512),
                      classification=(224, 224))


class TensorForward(nn.Module):
    """The model's ``mode='tensor'`` forward (what mmdet's, mmseg's and
    mmpretrain's FLOPs tools count) with fixed data samples."""

    def __init__(self, model, data_samples):
        super().__init__()
        self.model = model
        self.data_samples = data_samples

    def forward(self, inputs):
        return self.model(inputs, self.data_samples, mode='tensor')


def fix_proposals(model_cfg, proposals):
    """Make the RPN of a two-stage detector's model config keep exactly
    ``proposals`` boxes per image (NMS off: IoU threshold 1), in place.
    Returns False when the config has no ``test_cfg.rpn``."""
    rpn = model_cfg.get('test_cfg', {}).get('rpn')
    if not rpn:
        return False
    rpn.nms_pre = max(rpn.get('nms_pre', proposals), proposals)
    rpn.max_per_img = proposals
    rpn.nms = dict(type='nms', iou_threshold=1.0)
    return True


def count_flops(config, shape=None, proposals=1000):
    """Parameters and FLOPs of a config's model (a path, ``pkg::path`` or a
    ``Config``, not modified) and of its backbone alone, on one random
    image of ``shape`` (H, W; default :data:`DEFAULT_SHAPES` of the task).
    ``proposals``: RPN boxes per image kept for two-stage detectors (0:
    the config's RPN as it is).

    Returns a dict: ``task``, ``shape``, ``params`` and ``backbone_params``,
    ``flops`` and ``backbone_flops`` (multiply-accumulates), ``proposals``
    (the count used; None when the RPN was left as configured or there is
    none).
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
            TensorForward(model, samples), inputs=(inputs, ),
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


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config', help='config file path, or mmdet::PATH')
    parser.add_argument(
        '--shape', type=int, nargs='+', default=None, metavar='SIZE',
        help='input H W (default: 1280 800 for detection, 512 512 for '
        'segmentation, 224 224 for classification)')
    parser.add_argument(
        '--proposals', type=int, default=1000,
        help='RPN proposals per image for two-stage detectors')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config entries')
    args = parser.parse_args(argv)
    if args.shape is not None and len(args.shape) not in (1, 2):
        parser.error('--shape takes H W or one size for a square input')
    return args


def main(argv=None):
    args = parse_args(argv)
    cfg = read_config(args.config, args.cfg_options)
    shape = None if args.shape is None else (
        args.shape * 2 if len(args.shape) == 1 else args.shape)
    result = count_flops(cfg, shape, args.proposals)
    height, width = result['shape']
    print(f'config:   {args.config} ({result["task"]})')
    print(f'input:    1x3x{height}x{width}')
    print(f'params:   {result["params"] / 1e6:.2f} M '
          f'(backbone {result["backbone_params"] / 1e6:.2f} M)')
    print(f'FLOPs:    {result["flops"] / 1e9:.2f} G '
          f'(backbone {result["backbone_flops"] / 1e9:.2f} G)')
    if result['proposals']:
        print(f'counted with {result["proposals"]} RPN proposals per image')
    return result


if __name__ == '__main__':
    main()
