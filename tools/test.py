"""Test (evaluate) a checkpoint with an mmfasternet config.

    python tools/test.py configs/maskrcnn_fasternet_s_coco.py CKPT --eval bbox segm
    python tools/test.py configs/upernet_fasternet_s_ade20k.py CKPT --eval mIoU
    bash tools/dist_test.sh CONFIG CKPT 8 --eval bbox

Serves mmdet, mmseg and mmpretrain configs alike. Besides the 3.x options it
accepts the 2.x-style ``--eval METRIC ...`` and ``--format-only``. Options
are checked against the config's test evaluator, visualization hook and
model; one that cannot work is an argparse error before anything is built.
``--show-dir DIR`` draws every test image into ``<work_dir>/DIR`` (an
absolute DIR as given), ``--format-only`` writes into
``<work_dir>/format_only/``.
"""
import argparse
import copy
import os

from mmengine.runner import Runner

from mmfasternet.datasets import prepare_datasets
from mmfasternet.deploy.calibration import (
    DEFAULT_CALIB_IMAGES,
    accepted_int8_model,
)
from mmfasternet.deploy.runtime import (
    BACKBONE_RUNTIMES,
    check_backbone_runtime,
)
from mmfasternet.engine.distributed import (
    setup_cpu_distributed,
    shutdown_distributed,
)
from mmfasternet.engine.hooks import DeployHook
from mmfasternet.engine.tasks import (
    add_runner_arguments,
    check_checkpoint_file,
    check_output_dirs,
    install_test_hooks,
    load_config,
)
from mmfasternet.engine.test_options import (
    apply_test_options,
    eval_metrics_help,
    result_dump_metric,
)


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='where the metrics are written')
    parser.add_argument(
        '--eval', nargs='+', metavar='METRIC',
        help='metrics to compute (2.x names), checked against the type of '
        'the config\'s test_evaluator and set on it: ' + eval_metrics_help() +
        ' (segm only for models with a mask head)')
    parser.add_argument(
        '--format-only', action='store_true',
        help='write results in the benchmark format into '
        '<work_dir>/format_only/ instead of scoring them (COCO json '
        'results.*.json, png label maps), for evaluators that have a '
        'format-only mode')
    parser.add_argument(
        '--out', metavar='FILE.pkl',
        help='pickle the raw predictions into this file')
    parser.add_argument(
        '--show', action='store_true',
        help='show each prediction in a window (needs a display)')
    parser.add_argument(
        '--show-dir', metavar='DIR',
        help='draw the prediction of every test image into DIR; a relative '
        'DIR is taken under the work dir (<work_dir>/DIR, whatever the '
        'current directory), an absolute one as given')
    parser.add_argument('--wait-time', type=float, default=2,
                        help='seconds each shown image stays')
    parser.add_argument(
        '--tta', action='store_true',
        help='test-time augmentation: the config\'s tta_model/tta_pipeline, '
        'else a horizontal flip (box-only detectors)')
    parser.add_argument(
        '--deploy', action='store_true',
        help='test the inference form (BN folded, PConv without copies), '
        'its backbone run in --backbone-runtime')
    parser.add_argument(
        '--backbone-runtime', choices=BACKBONE_RUNTIMES, default=None,
        help='with --deploy, where the backbone runs (the heads stay in '
        'PyTorch): auto (default) takes onnxruntime where it is at least 5%% '
        'faster than eager PyTorch on the first batch, after checking that '
        'they agree; onnxruntime exports it to ONNX (CPU); compile uses '
        'torch.compile; openvino and openvino-bf16 run the ONNX export in '
        'OpenVINO in fp32 / bf16; onnxruntime-int8 and openvino-int8 run '
        'the INT8 model that tools/deployment/compare_runtimes.py '
        'calibrated and accepted for this checkpoint and config. The choice '
        'and its set-up time are logged')
    parser.add_argument(
        '--calib-images', type=int, default=DEFAULT_CALIB_IMAGES,
        metavar='N',
        help='with an int8 --backbone-runtime, the INT8 model calibrated on '
        'N training images (as given to compare_runtimes.py)')
    add_runner_arguments(parser, 'test_dataloader.batch_size=4')
    return parser


def build_config(parser, args):
    """The config with the command line applied; an option the config
    cannot serve is an argparse error, raised before anything is built."""
    try:
        cfg, task = load_config(args.config, args.launcher,
                                args.cfg_options, args.work_dir)
        # the INT8 model's settings are those of the config as loaded
        settings_cfg = copy.deepcopy(cfg)
        cfg.load_from = args.checkpoint
        install_test_hooks(cfg)
        outputs = apply_test_options(
            cfg, task, eval_metrics=args.eval, format_only=args.format_only,
            show=args.show, show_dir=args.show_dir,
            wait_time=args.wait_time, tta=args.tta, out=args.out)
        if args.backbone_runtime and not args.deploy:
            raise ValueError('--backbone-runtime is an option of --deploy; '
                             'add --deploy.')
        check_backbone_runtime(args.backbone_runtime or 'auto')
        check_checkpoint_file(args.checkpoint, 'the checkpoint to test')
        check_output_dirs(cfg)
        int8_model = None
        if (args.backbone_runtime or '').endswith('-int8'):
            int8_model = accepted_int8_model(
                settings_cfg, args.checkpoint, args.calib_images,
                args.backbone_runtime, compare_command(args))
    except (ValueError, OSError, ImportError, RuntimeError) as error:
        parser.error(str(error))
    setup_cpu_distributed(cfg, args.launcher)
    return cfg, task, outputs, int8_model


def compare_command(args) -> str:
    """The compare_runtimes.py command that calibrates and checks the INT8
    model this test needs."""
    command = (f'python tools/deployment/compare_runtimes.py {args.config} '
               f'{args.checkpoint} --runtimes {args.backbone_runtime} '
               f'--calib-images {args.calib_images}')
    if args.cfg_options:
        command += ' --cfg-options ' + ' '.join(
            f'{key}={value}' for key, value in args.cfg_options.items())
    return command


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    cfg, task, outputs, int8_model = build_config(parser, args)
    prepare_datasets(cfg, task, ('test', ))
    runner = Runner.from_cfg(cfg)
    if args.deploy:
        runner.register_hook(
            DeployHook(backbone_runtime=args.backbone_runtime or 'auto',
                       int8_model=int8_model))
    if args.out is not None:
        runner.test_evaluator.metrics.append(
            result_dump_metric(task, args.out))
    metrics = runner.test()
    shutdown_distributed()
    if outputs['show_dir']:
        print(f'\ndrawn predictions: {outputs["show_dir"]}')
    if outputs['format_only']:
        print(f'\nresults in the benchmark format: {outputs["format_only"]}')
    if metrics:
        print('\nmetrics: ' + '  '.join(
            f'{name}={value:.4f}' if isinstance(value, float) else
            f'{name}={value}' for name, value in metrics.items()))
    return metrics


if __name__ == '__main__':
    main()
