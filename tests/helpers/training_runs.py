"""Runs of tools/train.py as the tests start them: in a subprocess, one or
two processes, on the demo configs made tiny."""
import json
import os
import os.path as osp
import subprocess
import sys
import textwrap

from . import REPO_ROOT

CLS_DEMO = osp.join(REPO_ROOT, 'configs', 'demo',
                    'fasternet_t0_shapes_demo.py')


def train(config, work_dir, *options, expect_ok=True):
    result = subprocess.run(
        [sys.executable, osp.join(REPO_ROOT, 'tools', 'train.py'),
         str(config), '--work-dir', str(work_dir), *options],
        capture_output=True, text=True, cwd=REPO_ROOT, timeout=600,
        env=dict(os.environ, OMP_NUM_THREADS='1'))
    if expect_ok:
        assert result.returncode == 0, result.stdout[-3000:] + \
            result.stderr[-3000:]
    return result


def write_cls_config(tmp_path, root, custom_hooks='[]', name='cls.py',
                     checkpoint='', evaluator='', losses='run', extra=''):
    """The classification demo on 16 images of 40x40, 2 epochs of batches
    of 2 per process (4 iterations an epoch in a 2-process run), drop path
    (random in every iteration), validation (with a worker process, whose
    start draws from torch's generator) and a checkpoint after every
    epoch, seeded (with a different seed per process); every process
    records its losses into ``<tmp_path>/losses_<losses>.rank{N}``."""
    path = tmp_path / name
    record = str(tmp_path / f'losses_{losses}')
    path.write_text(textwrap.dedent(f"""
        _base_ = {CLS_DEMO!r}
        custom_imports = dict(
            imports=['mmfasternet', 'mmfasternet.models.heads.fasternet_head',
                     'tests.helpers.fault_hooks'],
            allow_failed_imports=False)
        data_root = '{root}'
        batch_size = 2
        model = dict(backbone=dict(drop_path_rate=0.1))
        train_dataloader = dict(batch_size=batch_size, num_workers=0,
                                dataset=dict(data_root=data_root))
        val_dataloader = dict(batch_size=2, num_workers=1,
                              dataset=dict(data_root=data_root))
        test_dataloader = val_dataloader
        train_cfg = dict(max_epochs=2, val_interval=1)
        default_hooks = dict(logger=dict(interval=1),
                             checkpoint=dict(interval=1, max_keep_ckpts=1,
                                             {checkpoint}))
        randomness = dict(seed=0, diff_rank_seed=True)
        custom_hooks = [dict(type='RecordLossesHook', path={record!r})
                        ] + {custom_hooks}
        """) + (f'val_evaluator = {evaluator}\n' if evaluator else '')
        + textwrap.dedent(extra))
    return path


def dist_train(config, work_dir, port, *options):
    return subprocess.run(
        ['bash', osp.join(REPO_ROOT, 'tools', 'dist_train.sh'), str(config),
         '2', '--work-dir', str(work_dir), *options],
        capture_output=True, text=True, cwd=REPO_ROOT, timeout=600,
        env=dict(os.environ, PYTHON=sys.executable, PORT=str(port),
                 OMP_NUM_THREADS='1'))


def recorded_losses(tmp_path, losses, rank=0):
    """{iteration: loss} that RecordLossesHook wrote for ``rank``; for an
    iteration run twice (before a kill and after the resume) the later."""
    path = tmp_path / f'losses_{losses}.rank{rank}'
    return {row['iter']: row['loss']
            for row in map(json.loads, path.read_text().splitlines())}


