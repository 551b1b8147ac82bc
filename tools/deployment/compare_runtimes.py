"""Evaluate a checkpoint's deploy form with its backbone in several
runtimes, on the same test data in one run, against eager PyTorch (fp32).

    python tools/deployment/compare_runtimes.py CONFIG CKPT \\
        --runtimes openvino openvino-bf16 onnxruntime-int8 openvino-int8 \\
        --max-drop 1.0 [--calib-images 300]

Each runtime is one pass of tools/test.py's test loop (``--deploy
--backbone-runtime NAME``), after one pass in eager PyTorch. For each, the
config's main metrics (top-1, mIoU, bbox / segm mAP), their difference to
eager fp32 in points, and the speed ratio of the test loop (eager seconds /
runtime seconds, without the runtime's set-up on the first batch) are
printed.

The INT8 runtimes share one INT8 model, calibrated on ``--calib-images``
images of the config's training set (through its test pipeline) and kept
next to the checkpoint (``CKPT.int8/``); a model calibrated with the same
settings is reused. An INT8 runtime whose metrics drop by more than
``--max-drop`` points is marked refused in that cache, and
``tools/test.py --deploy --backbone-runtime NAME`` then refuses to use it;
within the drop, it is marked accepted. The exit status is 1 when an INT8
runtime was refused.
"""
import argparse
import copy
import itertools
import sys
import time

from mmengine.logging import print_log
from mmengine.runner import Runner

from mmfasternet.datasets import prepare_datasets
from mmfasternet.deploy.calibration import (
    DEFAULT_CALIB_IMAGES,
    calibration_batches,
    calibration_dataset,
    find_int8_record,
    int8_settings,
    record_paths,
    save_int8_record,
)
from mmfasternet.deploy.quantize import quantize_module
from mmfasternet.deploy.runtime import (
    BACKBONE_RUNTIMES,
    RUNTIME_PRECISION,
    check_backbone_runtime,
)
from mmfasternet.engine.hooks import DeployHook
from mmfasternet.engine.tasks import (
    add_runner_arguments,
    check_checkpoint_file,
    install_test_hooks,
    load_config,
)

# The metrics compared by default, per task.
MAIN_METRICS = dict(
    classification=('accuracy/top1', ),
    segmentation=('mIoU', ),
    detection=('coco/bbox_mAP', 'coco/segm_mAP'))


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--runtimes', nargs='+', required=True,
        choices=[r for r in BACKBONE_RUNTIMES if r not in ('auto', 'eager')],
        help='backbone runtimes to evaluate beside eager PyTorch')
    parser.add_argument(
        '--max-drop', type=float, default=1.0,
        help='largest accepted drop of each main metric, in points (mAP '
        'and accuracy in %%), of an INT8 runtime against eager fp32 '
        '(default 1.0)')
    parser.add_argument(
        '--calib-images', type=int, default=DEFAULT_CALIB_IMAGES,
        metavar='N', help='training images to calibrate the INT8 model on '
        f'(default {DEFAULT_CALIB_IMAGES})')
    parser.add_argument(
        '--metrics', nargs='+', metavar='KEY',
        help='metrics to compare (default: accuracy/top1, mIoU, or '
        'coco/bbox_mAP and coco/segm_mAP, those the evaluator gives)')
    parser.add_argument('--work-dir', help='where the logs are written')
    add_runner_arguments(parser, 'test_dataloader.batch_size=4')
    return parser


def in_points(task: str, value: float) -> float:
    """A metric in points: mmdet's COCO metrics are fractions."""
    return 100 * value if task == 'detection' else value


def timed_test(runner: Runner, hook: DeployHook, runtime: str,
               int8_model=None):
    """Run the test loop with the backbone in ``runtime``; returns the
    metrics, the loop's seconds without the runtime's set-up, and the
    runtime's report."""
    hook.backbone_runtime = runtime
    hook.int8_model = int8_model
    start = time.perf_counter()
    metrics = runner.test()
    seconds = time.perf_counter() - start - hook.report.get('prepare_s', 0.)
    return metrics, seconds, dict(hook.report)


def int8_model_for(runner: Runner, cfg, checkpoint: str, settings: dict):
    """The INT8 model's record for ``settings``: the cached one, else one
    calibrated now on the training set and written to the cache."""
    record = find_int8_record(checkpoint, settings)
    onnx_file = record_paths(checkpoint, settings)[0]
    if record is not None:
        print_log(f'INT8 model reused: {onnx_file} (calibrated with the same '
                  f'settings on {len(record["calibration"]["files"])} '
                  f'training images)', logger='current')
        return record
    evaluated = [runner.test_dataloader.dataset.get_data_info(i)['img_path']
                 for i in range(len(runner.test_dataloader.dataset))]
    dataset, indices, files = calibration_dataset(
        cfg, settings['calib_images'], evaluated)
    model = getattr(runner.model, 'module', runner.model)
    batches = calibration_batches(dataset, indices, model.data_preprocessor)
    first = next(batches)
    shapes = set()

    def counted(batches):
        for batch in batches:
            shapes.add(tuple(batch.shape))
            yield batch

    start = time.perf_counter()
    quantize_module(model.backbone.module, onnx_file, first,
                    counted(itertools.chain([first], batches)))
    record = dict(settings, calibration=dict(
        files=files, input_shapes=sorted(shapes),
        seconds=round(time.perf_counter() - start, 1)), evaluations={})
    save_int8_record(checkpoint, record)
    print_log(f'INT8 model calibrated on {len(files)} training images in '
              f'{record["calibration"]["seconds"]} s: {onnx_file}',
              logger='current')
    return record


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    int8 = [r for r in args.runtimes if RUNTIME_PRECISION[r] == 'int8']
    try:
        cfg, task = load_config(args.config, args.launcher,
                                args.cfg_options, args.work_dir)
        settings = (int8_settings(copy.deepcopy(cfg), args.checkpoint,
                                  args.calib_images) if int8 else None)
        cfg.load_from = args.checkpoint
        install_test_hooks(cfg)
        for runtime in args.runtimes:
            check_backbone_runtime(runtime)
        check_checkpoint_file(args.checkpoint, 'the checkpoint to test')
    except (ValueError, OSError, ImportError, RuntimeError) as error:
        parser.error(str(error))
    prepare_datasets(cfg, task, ('test', 'train') if int8 else ('test', ))
    runner = Runner.from_cfg(cfg)
    hook = DeployHook('eager')
    runner.register_hook(hook)

    fp32, fp32_seconds, _ = timed_test(runner, hook, 'eager')
    keys = args.metrics or [k for k in MAIN_METRICS[task] if k in fp32]
    missing = [k for k in keys if k not in fp32]
    if missing or not keys:
        parser.error(f'the evaluator gave no {missing or MAIN_METRICS[task]}'
                     f'; it gave {sorted(fp32)} (choose with --metrics).')
    record = int8_model_for(runner, cfg, args.checkpoint,
                            settings) if int8 else None
    rows = [dict(runtime='eager', precision='fp32', metrics=fp32,
                 seconds=fp32_seconds, parity_error=None)]
    for runtime in args.runtimes:
        int8_model = (record_paths(args.checkpoint, settings)[0]
                      if runtime in int8 else None)
        metrics, seconds, report = timed_test(runner, hook, runtime,
                                              int8_model)
        rows.append(dict(runtime=runtime, precision=RUNTIME_PRECISION[runtime],
                         metrics=metrics, seconds=seconds,
                         parity_error=report['parity_error']))

    refused = []
    print(f'\n{"runtime":18} {"precision":9} ' + ' '.join(
        f'{key:>22}' for key in keys) +
          f' {"test loop s":>11} {"speed":>6} {"first-batch error":>17}')
    for row in rows:
        drops = {key: in_points(task, fp32[key]) -
                 in_points(task, row['metrics'][key]) for key in keys}
        cells = ' '.join(
            f'{in_points(task, row["metrics"][key]):>12.2f} '
            f'({-drops[key]:+6.2f})' for key in keys)
        error = ('' if row['parity_error'] is None else
                 f'{row["parity_error"]:.2g}')
        verdict = ''
        if row['precision'] == 'int8':
            accepted = all(drop <= args.max_drop for drop in drops.values())
            verdict = 'accepted' if accepted else (
                f'REFUSED: drop above --max-drop {args.max_drop}')
            record['evaluations'][row['runtime']] = dict(
                accepted=accepted, max_drop=args.max_drop, drops=drops,
                metrics={key: row['metrics'][key] for key in keys},
                fp32_metrics={key: fp32[key] for key in keys})
            if not accepted:
                refused.append(row['runtime'])
        print(f'{row["runtime"]:18} {row["precision"]:9} {cells} '
              f'{row["seconds"]:>11.1f} {fp32_seconds / row["seconds"]:>5.2f}x'
              f' {error:>17} {verdict}')
    print('\nmetrics in points (difference to eager fp32); speed: eager '
          'fp32 test-loop seconds / the runtime\'s, without its set-up')
    if record is not None:
        path = save_int8_record(args.checkpoint, record)
        print(f'INT8 model {record_paths(args.checkpoint, settings)[0]}; '
              f'accepted / refused runtimes recorded in {path}')
    return 1 if refused else 0


if __name__ == '__main__':
    sys.exit(main())
