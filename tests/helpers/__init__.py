"""Helpers of mmfasternet's test suite (``tests.helpers``, not installed
with the package): seeded models, the repository's tools run as a user
runs them, and independent recomputations of reported metrics. Test
configs import :mod:`.fault_hooks` through ``custom_imports``, with the
repository root on ``PYTHONPATH``."""
import contextlib
import io
import itertools
import os
import os.path as osp
import re
import subprocess
import sys

import torch

__all__ = [
    'REPO_ROOT', 'build_from_config', 'load_tool', 'make_demo_data',
    'parse_metrics', 'randomize_norm_stats', 'run', 'run_benchmark',
    'run_tool', 'segmentation_scores', 'trained_backbone'
]

# The checkout this package is imported from.
REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def randomize_norm_stats(model, seed=0):
    """Give every BatchNorm non-trivial affine and running statistics, so
    that loading and eval-mode comparisons test them too."""
    generator = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            shape = module.running_mean.shape
            module.running_mean.copy_(torch.randn(shape, generator=generator))
            module.running_var.copy_(
                torch.rand(shape, generator=generator) + 0.5)
            module.weight.data.copy_(
                torch.rand(shape, generator=generator) + 0.5)
            module.bias.data.copy_(torch.randn(shape, generator=generator))
    return model


def trained_backbone(arch='t0', **kwargs):
    """A FasterNet in eval mode with the original's conv init and
    non-trivial BN statistics, built without mmengine's init logging."""
    from mmfasternet import FasterNet
    torch.manual_seed(0)
    model = FasterNet(arch=arch, **kwargs)
    for module in model.modules():
        if isinstance(module, torch.nn.Conv2d):
            torch.nn.init.trunc_normal_(module.weight, std=0.02)
    return randomize_norm_stats(model).eval()


def build_from_config(config_name, seed=0):
    """The model of ``configs/<config_name>`` (no pretrained weights, SyncBN
    as BN so it runs in one process), built in its library's scope."""
    from mmfasternet.engine.tasks import build_model_from_config
    return build_model_from_config(
        osp.join(REPO_ROOT, 'configs', config_name), revert_sync_bn=True,
        seed=seed)


def run(args, cwd, env=None, timeout=600):
    """Run a command (a tool of the repo, as a user would); its output, or
    an assertion error with the end of it."""
    result = subprocess.run(
        args, cwd=cwd, capture_output=True, text=True, timeout=timeout,
        env=dict(os.environ, **(env or {})))
    assert result.returncode == 0, (
        f'{args} failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}')
    return result.stdout + result.stderr


def make_demo_data(kind, root, train, val, size):
    """Run ``tools/misc/make_demo_data.py KIND ROOT`` as a user does:
    ``train`` and ``val`` images of ``size`` (an int for square images, or
    (H, W)) in the layout of ``kind`` (``'coco'``, ``'ade20k'`` or
    ``'imagenet'``). Returns ``root``."""
    height, width = (size, size) if isinstance(size, int) else size
    run([sys.executable,
         osp.join(REPO_ROOT, 'tools', 'misc', 'make_demo_data.py'), kind,
         str(root), '--train', str(train), '--val', str(val), '--size',
         str(height), str(width)], cwd=REPO_ROOT)
    return root


def parse_metrics(log):
    """The ``metrics: name=value ...`` line tools/test.py prints last."""
    line = [row for row in log.splitlines() if row.startswith('metrics: ')]
    assert line, 'tools/test.py printed no metrics line'
    return {
        name: float(value)
        for name, value in re.findall(r'(\S+)=(-?[\d.]+)', line[-1])
    }


def load_tool(name):
    """``tools/<name>.py`` (``name`` may name a sub-folder, e.g.
    ``'misc/make_demo_data'``) as a module, to call its ``main(argv)`` in
    this process (loaded by path: ``tools/test.py`` is not importable as
    ``test``)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        'mmfasternet_tool_' + name.replace('/', '_'),
        osp.join(REPO_ROOT, 'tools', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_tool_runs = itertools.count()


def run_tool(name, argv, cwd=REPO_ROOT):
    """``tools/<name>.py`` ``main(argv)`` in this process, from ``cwd``: the
    tool's whole code path without the seconds a fresh interpreter spends
    importing torch and the OpenMMLab libraries. Returns what ``main``
    returned and what the tool printed and logged (stdout and stderr).

    Each run gets its own experiment and visualizer names (added to
    ``--cfg-options``): mmengine keeps one logger, visualizer and scope
    instance per name for the whole process, and a second run of the same
    config in the same second would reuse the first one's. An exception
    of the tool (``SystemExit`` for an argparse error) propagates with the
    output so far as its ``output`` attribute."""
    argv = [str(arg) for arg in argv]
    run = next(_tool_runs)
    names = [f'experiment_name=tool_run_{run}',
             f'visualizer.name=tool_run_{run}']
    if '--cfg-options' in argv:
        argv[argv.index('--cfg-options') + 1:0] = names
    else:
        argv += ['--cfg-options', *names]
    # a buffer that stays open: the run's logger keeps writing to it
    output = io.StringIO()
    try:
        with contextlib.chdir(cwd), contextlib.redirect_stdout(output), \
                contextlib.redirect_stderr(output):
            returned = load_tool(name).main(argv)
    except BaseException as error:
        error.output = output.getvalue()
        raise
    return returned, output.getvalue()


def run_benchmark(*argv):
    """``python -m benchmarks.benchmark ARGV`` run from the repository root,
    as its ``main(argv)`` in this process: what it printed. The thread
    count it sets (``--threads``) is restored afterwards."""
    from benchmarks.benchmark import main
    threads = torch.get_num_threads()
    output = io.StringIO()
    try:
        with contextlib.chdir(REPO_ROOT), contextlib.redirect_stdout(output), \
                contextlib.redirect_stderr(output):
            main([str(arg) for arg in argv])
    except BaseException as error:
        error.output = output.getvalue()
        raise
    finally:
        torch.set_num_threads(threads)
    return output.getvalue()


def segmentation_scores(predictions, num_classes, reduce_zero_label=True):
    """aAcc, mIoU and mAcc (percentages) recomputed with numpy from the
    predictions tools/test.py --out pickles (their ``pred_sem_seg`` against
    the label files at ``seg_map_path``), as an independent check of what
    mmseg's IoUMetric reports."""
    import numpy as np
    from PIL import Image
    intersect = np.zeros(num_classes)
    predicted = np.zeros(num_classes)
    labelled = np.zeros(num_classes)
    for prediction in predictions:
        label = np.array(Image.open(prediction['seg_map_path'])).astype(int)
        pred = prediction['pred_sem_seg']['data'][0].numpy()
        assert pred.shape == label.shape
        if reduce_zero_label:  # 0 is "unlabelled", 1..N are the classes
            valid = label > 0
            label = label - 1
        else:
            valid = label < 255
        label, pred = label[valid], pred[valid]
        intersect += np.bincount(label[label == pred], minlength=num_classes)
        predicted += np.bincount(pred, minlength=num_classes)
        labelled += np.bincount(label, minlength=num_classes)
    with np.errstate(invalid='ignore', divide='ignore'):
        iou = intersect / (predicted + labelled - intersect)
        accuracy = intersect / labelled
    return dict(aAcc=100 * intersect.sum() / labelled.sum(),
                mIoU=100 * np.nanmean(iou), mAcc=100 * np.nanmean(accuracy))
