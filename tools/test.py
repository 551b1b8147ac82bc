"""Test (evaluate) a checkpoint with an mmfasternet config.

    python tools/test.py configs/maskrcnn_fasternet_s_coco.py CKPT --eval bbox segm
    python tools/test.py configs/upernet_fasternet_s_ade20k.py CKPT --eval mIoU
    bash tools/dist_test.sh CONFIG CKPT 8 --eval bbox

Serves mmdet, mmseg and mmpretrain configs alike. Besides the 3.x options it
accepts the 2.x-style ``--eval METRIC ...`` and ``--format-only``.
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmengine.runner import Runner  # noqa: E402

from mmfasternet.datasets import prepare_datasets  # noqa: E402
from mmfasternet.engine import (EVAL_METRICS, DeployHook,  # noqa: E402
                                add_runner_arguments, apply_eval_metrics,
                                apply_format_only, apply_tta,
                                apply_visualization, load_config,
                                result_dump_metric, setup_cpu_distributed,
                                shutdown_distributed)


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='where the metrics are written')
    parser.add_argument(
        '--eval', nargs='+', metavar='METRIC',
        help='metrics to compute (2.x style): detection ' +
        ' '.join(EVAL_METRICS['detection']) + '; segmentation ' +
        ' '.join(EVAL_METRICS['segmentation']) + '; classification ' +
        ' '.join(EVAL_METRICS['classification']))
    parser.add_argument(
        '--format-only', action='store_true',
        help='write results in the benchmark format (COCO json, png label '
        'maps) under the work dir instead of scoring them')
    parser.add_argument('--out', help='pickle the raw predictions here')
    parser.add_argument(
        '--show', action='store_true', help='show predictions in a window')
    parser.add_argument(
        '--show-dir', help='save drawn predictions in this directory')
    parser.add_argument('--wait-time', type=float, default=2,
                        help='seconds each shown image stays')
    parser.add_argument(
        '--tta', action='store_true', help='test-time augmentation')
    parser.add_argument(
        '--deploy', action='store_true',
        help='test the inference form (BN folded, PConv without copies)')
    add_runner_arguments(parser, 'test_dataloader.batch_size=4')
    return parser


def build_config(parser, args):
    cfg, task = load_config(args.config, args.launcher, args.cfg_options,
                            args.work_dir)
    cfg.load_from = args.checkpoint

    if args.eval:
        valid = EVAL_METRICS[task]
        unknown = [m for m in args.eval if m not in valid]
        if unknown:
            parser.error(f'--eval {" ".join(unknown)}: not a {task} metric; '
                         f'choose from {", ".join(valid)}')
        apply_eval_metrics(cfg, task, args.eval)
    if args.format_only:
        if task == 'classification':
            parser.error('--format-only is for detection and segmentation '
                         'configs; use --out to save classification results')
        apply_format_only(cfg, task, osp.join(cfg.work_dir, 'format_only'))
    if args.show or args.show_dir:
        if args.tta and task == 'classification':
            parser.error('--tta with --show/--show-dir: mmpretrain\'s '
                         'VisualizationHook draws single-view batches only; '
                         'run the two separately')
        apply_visualization(cfg, task, args.show_dir, args.show,
                            args.wait_time)
    if args.tta:
        apply_tta(cfg, task)
    setup_cpu_distributed(cfg, args.launcher)
    return cfg, task


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    if args.out is not None and not args.out.endswith(('.pkl', '.pickle')):
        parser.error('--out must name a .pkl file')
    cfg, task = build_config(parser, args)
    prepare_datasets(cfg, task, ('test', ))
    runner = Runner.from_cfg(cfg)
    if args.deploy:
        runner.register_hook(DeployHook())
    if args.out is not None:
        runner.test_evaluator.metrics.append(
            result_dump_metric(task, args.out))
    metrics = runner.test()
    shutdown_distributed()
    if metrics:
        print('\nmetrics: ' + '  '.join(
            f'{name}={value:.4f}' if isinstance(value, float) else
            f'{name}={value}' for name, value in metrics.items()))
    return metrics


if __name__ == '__main__':
    main()
