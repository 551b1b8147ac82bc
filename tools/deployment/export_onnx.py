"""Export a FasterNet backbone or ImageNet classifier to ONNX.

The backbone is exported in its deploy form by default (BN folded, PConv and
the MLP as convs on channel slices, no concatenation), with dynamic batch,
height and width. ``--what classifier`` exports mmpretrain's ImageClassifier
with FasterNet's head (global pool, 1x1 conv to 1280 + activation, linear)
to logits, weights from an original, timm or mmfasternet/mmpretrain
classifier checkpoint. ``--check`` compares onnxruntime with
PyTorch at the export shape and at a second shape.

    python tools/deployment/export_onnx.py --arch s --checkpoint fasternet_s.pth \
        --what classifier --check fasternet_s.onnx
    python tools/deployment/export_onnx.py --arch t0 --shape 800 1216 --check t0.onnx

Unlike the original's in-place "slicing" PConv (T0: 1488 nodes, 13
ScatterND), the deploy graph of T0 has 320 nodes, 177 without constants.
(Random weights add Identity nodes: the exporter shares the equal tensors of
fresh BNs.)
"""
import argparse
import os
import runpy
import sys

# A run that stops on a failed import of the OpenMMLab stack or onnx ends
# with what fixes it.
if __name__ == '__main__':
    sys.excepthook = runpy.run_path(os.path.join(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'misc',
        'check_env.py'))['excepthook']

from mmfasternet.deploy.models import build_model
from mmfasternet.deploy.onnx import (
    PARITY_TOLERANCE,
    check_parity,
    export,
    graph_summary,
)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('out', help='ONNX file to write')
    parser.add_argument(
        '--arch', help='t0 t1 t2 s m l (default: inferred from --checkpoint)')
    parser.add_argument('--checkpoint', help='weights (default: random)')
    parser.add_argument(
        '--what', choices=('backbone', 'classifier'), default='backbone')
    parser.add_argument(
        '--out-indices', type=int, nargs='+', default=[0, 1, 2, 3],
        help='backbone stages to output (backbone only)')
    parser.add_argument(
        '--no-out-norm', action='store_true',
        help='no output norms (backbone only)')
    parser.add_argument(
        '--shape', type=int, nargs='+', default=[224, 224],
        help='example input H W (one number: square)')
    parser.add_argument('--batch', type=int, default=1)
    parser.add_argument('--opset', type=int, default=17)
    parser.add_argument(
        '--no-deploy', action='store_true',
        help='export the training form (in eval mode)')
    parser.add_argument(
        '--channels-last', action='store_true',
        help='trace with a channels_last example (the deploy form exports '
        'the same conv graph; the ONNX input stays NCHW)')
    parser.add_argument(
        '--check', action='store_true',
        help='compare onnxruntime with PyTorch at two shapes; exit 1 if '
        'they differ')
    args = parser.parse_args(argv)
    if len(args.shape) not in (1, 2):
        parser.error('--shape takes H W or one number')
    args.shape = tuple(args.shape * 2 if len(args.shape) == 1 else args.shape)
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    model = build_model(
        args.arch, args.what, args.checkpoint, tuple(args.out_indices),
        not args.no_out_norm, deploy=not args.no_deploy)
    export(model, args.out, args.shape, args.batch, args.opset,
           args.channels_last)
    summary = graph_summary(args.out)
    top = ', '.join(f'{op} {count}'
                    for op, count in summary['ops'].most_common(8))
    print(f'wrote {args.out}: opset {summary["opset"]}, '
          f'{summary["nodes"]} nodes ({summary["compute_nodes"]} without '
          f'Constant), {summary["size"] / 2**20:.1f} MiB')
    print(f'op types: {top}')
    if not args.check:
        return 0
    height, width = args.shape
    shapes = [(args.batch, height, width),
              (args.batch + 1, height + 32, max(32, width - 32))]
    results = check_parity(args.out, model, shapes, args.channels_last)
    for result in results:
        errors = ' '.join(f'{e:.2e}' for e in result['errors'])
        print(f'check {tuple(result["shape"])}: max |onnx - torch| / '
              f'max |torch| = {errors} '
              f'({"ok" if result["ok"] else "FAILED"}, tolerance '
              f'{PARITY_TOLERANCE:g})')
    return 0 if all(result['ok'] for result in results) else 1


if __name__ == '__main__':
    sys.exit(main())
