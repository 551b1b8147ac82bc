"""Parameters and FLOPs of a detection, segmentation or classification config
(and of its backbone alone), at a chosen input shape.

    python tools/get_flops.py configs/maskrcnn_fasternet_s_coco.py --shape 1280 800

FLOPs are counted as multiply-accumulates (mmengine's counter, as fvcore and
the FasterNet paper count them) and printed in G, params in M, without
automatic unit scaling. ``--shape`` is H W (one number: square). For
two-stage detectors the RPN keeps exactly ``--proposals`` boxes (NMS off),
so the count does not depend on the random weights: the paper's mmdet 2.x
counting ran the box head on 1000 proposals and the mask head on 100.
"""
import argparse
import os.path as osp
import sys

import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmengine.analysis import get_model_complexity_info  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402

from mmfasternet.engine import task_of  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config', help='config file path')
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


DEFAULT_SHAPES = dict(detection=(1280, 800), segmentation=(512, 512),
                      classification=(224, 224))


def detection_forward_inputs(model, height, width):
    from mmdet.structures import DetDataSample
    sample = DetDataSample()
    sample.set_metainfo(
        dict(img_shape=(height, width), ori_shape=(height, width),
             pad_shape=(height, width), batch_input_shape=(height, width),
             scale_factor=(1., 1.)))
    return torch.rand(1, 3, height, width), [sample]


def segmentation_forward_inputs(height, width):
    return torch.rand(1, 3, height, width)


def build_model(cfg: Config):
    task = task_of(cfg)
    init_default_scope(cfg.default_scope)
    if task == 'detection':
        from mmdet.registry import MODELS
    elif task == 'segmentation':
        from mmseg.registry import MODELS
    else:
        from mmpretrain.registry import MODELS
    model_cfg = cfg.model
    if 'backbone' in model_cfg:
        model_cfg.backbone.pop('init_cfg', None)
        model_cfg.backbone.pop('pretrained', None)
    model_cfg.pop('pretrained', None)
    return MODELS.build(model_cfg).eval(), task


def count(cfg: Config, shape, proposals=1000):
    """Returns dict(task, shape, params, flops, backbone_params,
    backbone_flops) with params in units and flops in MACs."""
    if proposals and cfg.model.get('test_cfg', {}).get('rpn'):
        rpn = cfg.model.test_cfg.rpn
        rpn.nms_pre = max(rpn.get('nms_pre', proposals), proposals)
        rpn.max_per_img = proposals
        rpn.nms = dict(type='nms', iou_threshold=1.0)
    model, task = build_model(cfg)
    height, width = shape
    with torch.no_grad():
        if task == 'detection':
            inputs, samples = detection_forward_inputs(model, height, width)
            whole = get_model_complexity_info(
                _Bound(model, samples), inputs=(inputs, ),
                show_table=False, show_arch=False)
        else:
            inputs = torch.rand(1, 3, height, width)
            whole = get_model_complexity_info(
                _Bound(model, None), inputs=(inputs, ), show_table=False,
                show_arch=False)
        backbone = get_model_complexity_info(
            model.backbone, inputs=(inputs, ), show_table=False,
            show_arch=False)
    return dict(
        task=task,
        shape=(height, width),
        params=sum(p.numel() for p in model.parameters()),
        flops=whole['flops'],
        backbone_params=sum(p.numel() for p in model.backbone.parameters()),
        backbone_flops=backbone['flops'])


class _Bound(torch.nn.Module):
    """Calls the model's tensor-mode forward (what mmdet/mmseg/mmpretrain
    FLOPs tools count) with fixed data samples."""

    def __init__(self, model, data_samples):
        super().__init__()
        self.model = model
        self.data_samples = data_samples

    def forward(self, inputs):
        return self.model(inputs, self.data_samples, mode='tensor')


def main(argv=None):
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    task = task_of(cfg)
    shape = DEFAULT_SHAPES[task] if args.shape is None else (
        args.shape * 2 if len(args.shape) == 1 else args.shape)
    result = count(cfg, tuple(shape), args.proposals)
    height, width = result['shape']
    print(f'config:   {args.config} ({task})')
    print(f'input:    1x3x{height}x{width}')
    print(f'params:   {result["params"] / 1e6:.2f} M '
          f'(backbone {result["backbone_params"] / 1e6:.2f} M)')
    print(f'FLOPs:    {result["flops"] / 1e9:.2f} G '
          f'(backbone {result["backbone_flops"] / 1e9:.2f} G)')
    if task == 'detection' and cfg.model.get('test_cfg', {}).get('rpn'):
        print(f'counted with {args.proposals} RPN proposals per image')


if __name__ == '__main__':
    main()
