"""``--resume`` continues from the checkpoint ``last_checkpoint`` names
when it loads, else from the furthest complete one, and the resumed run
repeats the uninterrupted run's losses iteration for iteration.
Checkpoints load with torch's weights-only unpickler without importing
anything.

Real runs of tools/train.py on the demo configs (tiny data: Mask R-CNN,
Semantic FPN and the classifier), with faults injected by
tests/helpers/fault_hooks.py; crashes while a checkpoint is written and
two-process runs are in test_crash_safety.py."""
import json
import os
import os.path as osp
import signal
import subprocess
import sys
import textwrap

import pytest
import torch

from mmfasternet.engine.resume import find_resumable_checkpoint
from tests.helpers import make_demo_data, run_tool
from tests.helpers.training_runs import train, write_cls_config

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TESTS = osp.dirname(osp.abspath(__file__))
DEMO = osp.join(REPO, 'configs', 'demo',
                'maskrcnn_fasternet_t0_shapes_demo.py')


@pytest.fixture(scope='module')
def coco_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('data') / 'coco'
    return make_demo_data('coco', root, train=8, val=2, size=64)


def write_config(tmp_path, coco_root, custom_hooks='[]', name='tiny.py'):
    """The demo config on 8 tiny images, 2 epochs of 4 iterations, a
    checkpoint every epoch keeping one (as the demo), seeded, no worker
    processes; the demo's log window of 10 iterations is kept, so logged
    losses also depend on the log history restored on resume."""
    path = tmp_path / name
    path.write_text(textwrap.dedent(f"""
        _base_ = {DEMO!r}
        custom_imports = dict(
            imports=['mmfasternet', 'tests.helpers.fault_hooks'],
            allow_failed_imports=False)
        data_root = '{coco_root}/'
        pipeline = [
            dict(type='LoadImageFromFile'),
            dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
            dict(type='Resize', scale=(64, 64), keep_ratio=True),
            dict(type='RandomFlip', prob=0.5),
            dict(type='PackDetInputs'),
        ]
        train_dataloader = dict(
            batch_size=2, num_workers=0, persistent_workers=False,
            dataset=dict(data_root=data_root, pipeline=pipeline))
        val_dataloader = dict(num_workers=0, persistent_workers=False,
                              dataset=dict(data_root=data_root))
        test_dataloader = val_dataloader
        val_evaluator = dict(
            ann_file=data_root + 'annotations/instances_val2017.json')
        test_evaluator = val_evaluator
        train_cfg = dict(max_epochs=2, val_begin=100)
        # fewer RoIs: the mask head dominates the time of a step
        model = dict(train_cfg=dict(rpn_proposal=dict(max_per_img=32),
                                    rcnn=dict(sampler=dict(num=8))))
        default_hooks = dict(logger=dict(interval=1),
                             checkpoint=dict(interval=1, max_keep_ckpts=1))
        randomness = dict(seed=0, deterministic=True)
        custom_hooks = {custom_hooks}
        """))
    return path


def logged_losses(work_dir):
    """{iteration: (loss, lr)} from every run in ``work_dir``."""
    losses = {}
    for run in sorted(os.listdir(work_dir)):
        scalars = osp.join(work_dir, run, 'vis_data', 'scalars.json')
        if osp.isfile(scalars):
            for line in open(scalars):
                row = json.loads(line)
                if 'loss' in row:
                    losses[row['iter']] = (row['loss'], row['lr'])
    return losses


@pytest.fixture(scope='module')
def uninterrupted(tmp_path_factory, coco_root):
    tmp_path = tmp_path_factory.mktemp('uninterrupted')
    work_dir = tmp_path / 'work'
    train(write_config(tmp_path, coco_root), work_dir)
    return work_dir


def test_resumed_run_repeats_the_uninterrupted_losses(
        tmp_path, coco_root, uninterrupted):
    work_dir = tmp_path / 'work'
    killed = train(
        write_config(tmp_path, coco_root,
                     "[dict(type='KillAtIterHook', iteration=6)]",
                     name='killed.py'), work_dir, expect_ok=False)
    assert killed.returncode == -signal.SIGKILL
    log = train(write_config(tmp_path, coco_root), work_dir,
                '--resume').stdout
    assert 'Random generator states restored' in log
    expected = logged_losses(uninterrupted)
    resumed = logged_losses(work_dir)
    assert sorted(expected) == list(range(1, 9))
    # Iterations 5-6 ran twice (before the kill and after the resume): the
    # later run's values are the ones kept.
    for iteration in range(5, 9):
        assert resumed[iteration] == expected[iteration], iteration


def test_checkpoints_load_weights_only_without_any_import(
        uninterrupted, coco_root):
    """torch >= 2.6 loads with weights_only=True by default: a checkpoint
    of tools/train.py loads in a fresh interpreter that has imported
    neither mmengine nor mmfasternet, and DetInferencer(model=None,
    weights=CKPT) builds the model from the config it holds."""
    checkpoint = uninterrupted / 'epoch_2.pth'
    image = sorted((coco_root / 'val2017').glob('*.jpg'))[0]
    code = textwrap.dedent(f"""
        import sys
        import torch
        checkpoint = torch.load({str(checkpoint)!r}, weights_only=True)
        assert 'mmengine' not in sys.modules
        assert 'mmfasternet' not in sys.modules
        from mmdet.apis import DetInferencer
        inferencer = DetInferencer(model=None, weights={str(checkpoint)!r},
                                   device='cpu', show_progress=False)
        result = inferencer({str(image)!r})
        print('detections', len(result['predictions'][0]['labels']))
        """)
    result = subprocess.run([sys.executable, '-c', code], cwd=TESTS,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'detections ' in result.stdout


def _save(path, iteration, optimizer=True):
    checkpoint = dict(meta=dict(epoch=iteration // 4, iter=iteration),
                      state_dict=dict(w=torch.zeros(2)))
    if optimizer:
        checkpoint['optimizer'] = dict(state={})
    torch.save(checkpoint, path)


def test_resume_takes_the_furthest_checkpoint_that_loads(tmp_path):
    _save(tmp_path / 'epoch_1.pth', 4)
    _save(tmp_path / 'epoch_2.pth', 8)
    data = (tmp_path / 'epoch_2.pth').read_bytes()
    (tmp_path / 'epoch_3.pth').write_bytes(data[:len(data) // 2])
    _save(tmp_path / 'best_coco_bbox_mAP_epoch_3.pth', 12, optimizer=False)
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'epoch_3.pth'))
    path, note = find_resumable_checkpoint(str(tmp_path))
    assert path == str(tmp_path / 'epoch_2.pth')
    assert 'epoch 2, iteration 8), the furthest complete checkpoint (the ' \
        'one last_checkpoint names does not load)' in note
    assert 'epoch_3.pth (unreadable' in note
    assert 'best_coco_bbox_mAP_epoch_3.pth (no optimizer state)' in note
    assert 'epoch_1.pth' not in note


def test_resume_with_nothing_to_resume(tmp_path):
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'gone.pth'))
    path, note = find_resumable_checkpoint(str(tmp_path))
    assert path is None
    assert 'gone.pth (named by last_checkpoint, missing)' in note
    assert 'starts from the beginning' in note


def test_demos_are_seeded(repo_root):
    from mmengine.config import Config
    for name in ('maskrcnn_fasternet_t0_shapes_demo.py',
                 'fpn_fasternet_t0_shapes_demo.py',
                 'fasternet_t0_shapes_demo.py'):
        cfg = Config.fromfile(osp.join(repo_root, 'configs', 'demo', name))
        assert cfg.randomness.seed == 0, name


SEG_DEMO = osp.join(REPO, 'configs', 'demo', 'fpn_fasternet_t0_shapes_demo.py')


def write_seg_config(tmp_path, ade_root, custom_hooks='[]', name='seg.py'):
    """The segmentation demo (an IterBasedTrainLoop) for 6 iterations on
    64x64 crops, a checkpoint every 3."""
    path = tmp_path / name
    path.write_text(textwrap.dedent(f"""
        _base_ = {SEG_DEMO!r}
        custom_imports = dict(
            imports=['mmfasternet', 'tests.helpers.fault_hooks'],
            allow_failed_imports=False)
        data_root = '{ade_root}'
        crop_size = (64, 64)
        model = dict(data_preprocessor=dict(size=crop_size))
        pipeline = [
            dict(type='LoadImageFromFile'),
            dict(type='LoadAnnotations', reduce_zero_label=True),
            dict(type='RandomResize', scale=(128, 64),
                 ratio_range=(0.75, 1.5), keep_ratio=True),
            dict(type='RandomCrop', crop_size=crop_size),
            dict(type='RandomFlip', prob=0.5),
            dict(type='PackSegInputs'),
        ]
        train_dataloader = dict(
            batch_size=2, num_workers=0, persistent_workers=False,
            dataset=dict(data_root=data_root, pipeline=pipeline))
        val_dataloader = dict(num_workers=0, persistent_workers=False,
                              dataset=dict(data_root=data_root))
        test_dataloader = val_dataloader
        train_cfg = dict(max_iters=6, val_interval=1000)
        default_hooks = dict(logger=dict(interval=1),
                             checkpoint=dict(interval=3, max_keep_ckpts=1))
        randomness = dict(seed=0, deterministic=True)
        custom_hooks = {custom_hooks}
        """))
    return path


def test_iteration_based_resume_repeats_the_losses(tmp_path):
    """IterBasedTrainLoop re-reads the batches it already trained on when
    it resumes; the random states are restored after that re-reading."""
    ade_root = tmp_path / 'ade'
    make_demo_data('ade20k', ade_root, train=8, val=2, size=96)
    train(write_seg_config(tmp_path, ade_root), tmp_path / 'uninterrupted')
    work_dir = tmp_path / 'work'
    killed = train(
        write_seg_config(tmp_path, ade_root,
                         "[dict(type='KillAtIterHook', iteration=5)]",
                         name='killed.py'), work_dir, expect_ok=False)
    assert killed.returncode == -signal.SIGKILL
    log = train(write_seg_config(tmp_path, ade_root), work_dir,
                '--resume').stdout
    assert 'Resuming from' in log and 'iter_3.pth' in log
    expected = logged_losses(tmp_path / 'uninterrupted')
    resumed = logged_losses(work_dir)
    assert sorted(expected) == list(range(1, 7))
    for iteration in range(4, 7):
        assert resumed[iteration] == expected[iteration], iteration


def test_resume_takes_what_last_checkpoint_names(tmp_path):
    """The three candidates a rule could take are three different files:
    the one ``last_checkpoint`` names (epoch_2, the last checkpoint of the
    last run), the furthest into training (epoch_3) and the newest on disk
    (epoch_1)."""
    for epoch, age in ((1, 0), (2, 100), (3, 200)):
        path = tmp_path / f'epoch_{epoch}.pth'
        _save(path, 4 * epoch)
        stamp = 1_700_000_000 - age
        os.utime(path, (stamp, stamp))
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'epoch_2.pth'))
    path, note = find_resumable_checkpoint(str(tmp_path))
    assert path == str(tmp_path / 'epoch_2.pth')
    assert 'epoch 2, iteration 8), the checkpoint last_checkpoint names' \
        in note


def test_a_last_checkpoint_cut_by_a_crash_is_not_trusted(tmp_path):
    """A crash while ``last_checkpoint`` was written leaves a prefix of the
    path in it: resuming falls back to the checkpoints that load."""
    _save(tmp_path / 'epoch_1.pth', 4)
    _save(tmp_path / 'epoch_12.pth', 48)
    cut = str(tmp_path / 'epoch_12.pth')[:-5]  # '.../epoch_1'
    (tmp_path / 'last_checkpoint').write_text(cut)
    path, note = find_resumable_checkpoint(str(tmp_path))
    assert path == str(tmp_path / 'epoch_12.pth')
    assert f'{cut} (named by last_checkpoint, missing)' in note




@pytest.fixture(scope='module')
def imagenet_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('data') / 'imagenet'
    return make_demo_data('imagenet', root, train=16, val=4, size=40)


def test_resume_continues_the_last_run_of_a_work_dir(tmp_path, imagenet_root):
    """Run A trains 4 epochs into a work dir; run B, with another lr, trains
    there too and dies in its third epoch. --resume continues B from its
    epoch_2.pth (what last_checkpoint names), not A's epoch_4.pth, which is
    further, and says that epoch_4.pth belongs to another run. Run A and
    the resumed run B are tools/train.py's ``main`` in this process; the
    killed run is a process of its own."""
    work_dir = tmp_path / 'work'
    # batches of 8: 2 iterations an epoch, no validation
    short = ("train_dataloader['batch_size'] = 8\n"
             'train_cfg = dict(max_epochs={}, val_interval=100)\n')
    run_tool('train', [write_cls_config(tmp_path, imagenet_root, name='a.py',
                                        extra=short.format(4)),
                       '--work-dir', work_dir])
    assert (work_dir / 'epoch_4.pth').is_file()
    run_b = short.format(3) + \
        'optim_wrapper = dict(optimizer=dict(lr=1e-4))\n'
    killed = train(
        write_cls_config(tmp_path, imagenet_root,
                         "[dict(type='KillAtIterHook', iteration=5)]",
                         name='b_killed.py', extra=run_b), work_dir,
        expect_ok=False)
    assert killed.returncode == -signal.SIGKILL
    _, log = run_tool('train', [write_cls_config(tmp_path, imagenet_root,
                                                 name='b.py', extra=run_b),
                                '--work-dir', work_dir, '--resume'])
    assert (f'Resuming from {work_dir / "epoch_2.pth"} (epoch 2, iteration '
            '4), the checkpoint last_checkpoint names') in log
    assert 'epoch_4.pth belong to another run in the same work dir' in log
    assert 'Epoch(train) [3][2/2]' in log
    resumed = torch.load(work_dir / 'epoch_3.pth', weights_only=True)
    assert resumed['meta']['epoch'] == 3
    assert resumed['optimizer']['param_groups'][0]['initial_lr'] == 1e-4
