"""Check the datasets of a config before training on them.

    python tools/misc/check_dataset.py configs/maskrcnn_fasternet_s_coco.py
    python tools/misc/check_dataset.py CONFIG --split train --nproc 8

Reads every sample of the train/val/test sets once through the config's
loading steps, as training reads it, and lists missing, empty, truncated or
undecodable files, image sizes that differ from the annotations (after the
EXIF orientation the loader applies), label maps of another size than their
image or with values that are no class, class names the annotations lack
or order differently, heads whose num_classes differs and labels out of
range. Exits with 1 when it finds a problem.
"""
import argparse
import sys

from mmengine.config import DictAction

from mmfasternet.datasets.check import check_datasets
from mmfasternet.engine.tasks import load_config


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config', help='config file path')
    parser.add_argument('--split', nargs='+', default=['train', 'val', 'test'],
                        choices=['train', 'val', 'test'],
                        help='datasets to check (default: all three)')
    parser.add_argument('--nproc', type=int, default=1,
                        help='processes reading the files')
    parser.add_argument('--limit', type=int, default=10,
                        help='problems printed per kind')
    parser.add_argument('--out', help='write the full report to this .json')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config entries, e.g. '
        'train_dataloader.dataset.data_root=DIR')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    cfg, task = load_config(args.config, cfg_options=args.cfg_options)
    report = check_datasets(cfg, task, args.split, nproc=args.nproc,
                            progress=sys.stdout.isatty())
    print(report.summary(args.limit))
    if args.out:
        report.write(args.out)
        print(f'Full report: {args.out}')
    return 1 if report.problems else 0


if __name__ == '__main__':
    sys.exit(main())
