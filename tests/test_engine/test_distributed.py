"""Two CPU processes over gloo (tools/dist_train.sh, as documented) train
a detector and a segmentor with the backbone options users set: fewer
out_indices, frozen_stages, with_cp, norm_eval, drop path, and the SyncBN
of the shipped segmentation configs (run as BatchNorm on the CPU, said in
one log line). The classifier's two-process run, with the split_mlp PConv
form, is test_crash_safety.py's resumed one."""
import os
import os.path as osp
import re
import subprocess
import sys
import textwrap

import pytest
import torch

from tests.helpers import make_demo_data

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


DETECTION = """
_base_ = '{repo}/configs/demo/maskrcnn_fasternet_t0_shapes_demo.py'
data_root = '{root}/'
model = dict(
    # stage 3 is not returned, so never run: DDP must not wait for it
    backbone=dict(out_indices=(0, 1, 2), frozen_stages=1, with_cp=True,
                  norm_eval=True),
    neck=dict(in_channels=[40, 80, 160]))
pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=(64, 64), keep_ratio=True),
    dict(type='PackDetInputs'),
]
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
                        dataset=dict(data_root=data_root, pipeline=pipeline))
val_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
                      dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val2017.json',
                     metric='bbox')
test_evaluator = val_evaluator
train_cfg = dict(max_epochs=1, val_interval=1)
default_hooks = dict(logger=dict(interval=1))
"""

# The shipped config as it is (SyncBN in the backbone and the head), on tiny
# crops of generated ADE20K-format data.
SEGMENTATION = """
_base_ = '{repo}/configs/fpn_fasternet_t0_ade20k.py'
data_root = '{root}'
crop_size = (64, 64)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(init_cfg=None, frozen_stages=2, drop_path_rate=0.1))
pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
                        dataset=dict(data_root=data_root, pipeline=pipeline))
val_dataloader = dict(num_workers=0, persistent_workers=False,
                      dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
train_cfg = dict(max_iters=2, val_interval=1000)
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=2))
"""

TASKS = dict(
    detection=(DETECTION, 'coco', dict(train=8, val=4, size=64),
               'Epoch(train) [1][2/2]', 'epoch_1.pth'),
    segmentation=(SEGMENTATION, 'ade20k', dict(train=8, val=2, size=96),
                  'Iter(train) [2/2]', 'iter_2.pth'),
)


@pytest.mark.parametrize('task', sorted(TASKS))
def test_two_cpu_processes_train_with_backbone_options(tmp_path, task):
    template, kind, data, last_iteration, checkpoint = TASKS[task]
    root = tmp_path / 'data'
    make_demo_data(kind, root, **data)
    config = tmp_path / f'{task}.py'
    config.write_text(textwrap.dedent(template.format(repo=REPO, root=root)))
    work_dir = tmp_path / 'work'
    port = 29520 + sorted(TASKS).index(task)
    result = subprocess.run(
        ['bash', osp.join(REPO, 'tools', 'dist_train.sh'), str(config), '2',
         '--work-dir', str(work_dir)],
        capture_output=True, text=True, cwd=REPO, timeout=600,
        env=dict(os.environ, PYTHON=sys.executable, PORT=str(port),
                 OMP_NUM_THREADS='1'))
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-5000:]
    assert 'Distributed launcher: pytorch' in log and 'GPU number: 2' in log
    assert last_iteration in log
    if task == 'segmentation':
        assert 'SyncBN layers run as BatchNorm' in log
    state = torch.load(work_dir / checkpoint, weights_only=True)['state_dict']
    assert all(torch.isfinite(value).all() for value in state.values()
               if value.is_floating_point())
    if task == 'detection':
        assert 'coco/bbox_mAP' in log  # the distributed validation ran too
        # dist_test.sh: the 2-process evaluation gives the metrics the
        # training's validation gave for the same weights
        result = subprocess.run(
            ['bash', osp.join(REPO, 'tools', 'dist_test.sh'), str(config),
             str(work_dir / checkpoint), '2', '--work-dir',
             str(tmp_path / 'test'), '--eval', 'bbox'],
            capture_output=True, text=True, cwd=REPO, timeout=600,
            env=dict(os.environ, PYTHON=sys.executable, PORT=str(port + 10),
                     OMP_NUM_THREADS='1'))
        tested = result.stdout + result.stderr
        assert result.returncode == 0, tested[-5000:]
        assert 'GPU number: 2' in tested
        validated = re.search(r'coco/bbox_mAP: ([\d.]+)', log).group(1)
        assert f'coco/bbox_mAP={float(validated):.4f}' in tested


def test_a_map_the_neck_never_reads_stops_before_distributed_training(
        tmp_path):
    """The detector above with its FPN reading from the second map on
    (``start_level=1``, as mmdet's RetinaNet): the first map's output norm
    would get no gradient and stop DDP at the second iteration with
    torch's "Expected to have finished reduction" error; the check says
    what to change before the first."""
    root = tmp_path / 'data'
    make_demo_data('coco', root, train=4, val=2, size=64)
    config = tmp_path / 'unread.py'
    config.write_text(textwrap.dedent(DETECTION.format(repo=REPO, root=root))
                      + textwrap.dedent("""
        model.update(
            backbone=dict(out_indices=(0, 1, 2, 3)),
            neck=dict(in_channels=[40, 80, 160, 320], start_level=1))
        """))
    result = subprocess.run(
        ['bash', osp.join(REPO, 'tools', 'dist_train.sh'), str(config), '2',
         '--work-dir', str(tmp_path / 'work')],
        capture_output=True, text=True, cwd=REPO, timeout=600,
        env=dict(os.environ, PYTHON=sys.executable, PORT='29535',
                 OMP_NUM_THREADS='1'))
    log = result.stdout + result.stderr
    assert result.returncode != 0
    assert 'ChannelMismatchError' in log, log[-3000:]
    assert ('returns map(s) [0] that model.neck never reads: set '
            'model.backbone.out_indices') in log
    assert 'stops distributed training' in log
    assert 'Epoch(train)' not in log and 'finished reduction' not in log
