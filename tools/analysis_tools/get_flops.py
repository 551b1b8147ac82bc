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

from mmengine.config import DictAction

from mmfasternet.analysis import count_flops, read_config


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
