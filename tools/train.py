"""Train a detector, segmentor or classifier from an mmfasternet config.

    python tools/train.py configs/maskrcnn_fasternet_s_coco.py
    bash tools/dist_train.sh configs/maskrcnn_fasternet_s_coco.py 8

The same script serves mmdet, mmseg and mmpretrain configs (the config's
default_scope says which). Runs from the repo root with or without
``pip install -e .``.
"""
import argparse
import os
import runpy
import sys

# A run that stops on a failed import of the OpenMMLab stack (here, or once
# the config names mmdet, mmseg or mmpretrain) ends with what fixes it.
if __name__ == '__main__':
    sys.excepthook = runpy.run_path(os.path.join(
        os.path.dirname(os.path.abspath(__file__)), 'misc',
        'check_env.py'))['excepthook']

from mmengine.runner import Runner

from mmfasternet.datasets import prepare_datasets
from mmfasternet.engine.distributed import (
    setup_cpu_distributed,
    shutdown_distributed,
)
from mmfasternet.engine.resume import apply_resume
from mmfasternet.engine.tasks import (
    add_runner_arguments,
    check_checkpoint_file,
    check_output_dirs,
    fetch_pretrained_weights,
    follow_accumulated_batches,
    install_training_hooks,
    load_config,
    task_of,
)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='where logs and checkpoints go')
    parser.add_argument(
        '--amp', action='store_true',
        help='automatic mixed precision (AmpOptimWrapper; needs a GPU)')
    parser.add_argument(
        '--auto-scale-lr', action='store_true',
        help='scale the lr by actual / base batch size (auto_scale_lr)')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from this checkpoint, or without a path from the '
        'latest checkpoint in the work dir')
    parser.add_argument(
        '--on-damaged', choices=['skip', 'error'], default='skip',
        help='a damaged or missing training image: skip the sample with a '
        'warning naming the file (default), or stop with an error')
    parser.add_argument(
        '--check-data', action='store_true',
        help='first read every sample of the train and val sets through '
        'the config\'s loading steps (tools/misc/check_dataset.py) and stop '
        'on problems: missing, damaged or undecodable images and label '
        'maps, image sizes other than the annotations\', label maps of '
        'another size or with values that are no class, labels out of '
        'range. It does not look at boxes, masks or what the pipeline does '
        'after loading')
    add_runner_arguments(parser, 'train_cfg.max_epochs=1')
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def build_config(args):
    """The config to train with, and lines to log once the runner exists."""
    cfg, _ = load_config(args.config, args.launcher, args.cfg_options,
                         args.work_dir)
    check_output_dirs(cfg)

    if args.amp:
        optim_wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
        if optim_wrapper == 'AmpOptimWrapper':
            print('AMP is already enabled in the config.')
        else:
            if optim_wrapper != 'OptimWrapper':
                raise ValueError(f'--amp replaces OptimWrapper, but the '
                                 f'config uses {optim_wrapper}.')
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.loss_scale = 'dynamic'

    notes = []
    if args.auto_scale_lr:
        if 'base_batch_size' not in cfg.get('auto_scale_lr', {}):
            raise ValueError('--auto-scale-lr needs auto_scale_lr='
                             'dict(base_batch_size=...) in the config.')
        cfg.auto_scale_lr.enable = True
        notes.append(follow_accumulated_batches(cfg))

    notes.append(apply_resume(cfg, args.resume))
    check_checkpoint_file(cfg.get('load_from'),
                          '--resume' if cfg.get('resume') else 'load_from')
    fetch_pretrained_weights(cfg)
    install_training_hooks(cfg)
    setup_cpu_distributed(cfg, args.launcher)
    return cfg, [note for note in notes if note]


def main(argv=None):
    args = parse_args(argv)
    try:
        cfg, notes = build_config(args)
    except (OSError, ValueError) as error:  # the options, before any work
        raise SystemExit(f'train.py: error: {error}')
    prepare_datasets(cfg, task_of(cfg), ('train', 'val'), args.on_damaged,
                     full_check=args.check_data)
    runner = Runner.from_cfg(cfg)
    for note in notes:
        runner.logger.info(note)
    runner.train()
    shutdown_distributed()


if __name__ == '__main__':
    main()
