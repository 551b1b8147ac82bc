"""The training-cost benchmark: the ratio arithmetic on known rows, the
models it builds (gradient checkpointing really set, ground truth the
losses take) and the ``train`` subcommand run as a user runs it with tiny
inputs, whose printed and written ratios must be those of its own rows.
No assertion depends on how fast anything ran."""
import json
import math
import re
import subprocess
import sys

import pytest
import torch

from benchmarks.training import (
    _prepare,
    build_for_training,
    training_inputs,
    training_ratios,
    training_step,
    uses_with_cp,
)
from tests.helpers import REPO_ROOT

BENCHMARK = ('-m', 'benchmarks.benchmark')
DEMO_DET = 'configs/demo/maskrcnn_fasternet_t0_shapes_demo.py'
DEMO_SEG = 'configs/demo/upernet_fasternet_t0_shapes_demo.py'


def test_ratios_from_known_rows():
    rows = [dict(config='a.py', s_per_iter=3.0, peak_memory_mb=600.),
            dict(config='b.py', s_per_iter=1.5, peak_memory_mb=900.),
            dict(config='base.py', s_per_iter=2.0, peak_memory_mb=1200.)]
    assert training_ratios(rows) == [
        dict(config='a.py', baseline='base.py', time_ratio=1.5,
             memory_ratio=0.5),
        dict(config='b.py', baseline='base.py', time_ratio=0.75,
             memory_ratio=0.75)]
    assert training_ratios(rows[:1]) == []


@pytest.mark.parametrize('config,block', [
    (DEMO_DET, 'FasterNetBlock'),
    ('mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py', 'Bottleneck')])
@pytest.mark.parametrize('with_cp', [False, True])
def test_with_cp_is_set_on_the_built_backbone(config, block, with_cp):
    model, _, task, _ = build_for_training(config, with_cp=with_cp)
    assert task == 'detection' and model.training
    blocks = [m for m in model.backbone.modules()
              if type(m).__name__ == block]
    assert blocks and all(m.with_cp is with_cp for m in blocks)
    assert uses_with_cp(model) is with_cp


@pytest.mark.parametrize('config,batch', [(DEMO_DET, 1), (DEMO_SEG, 2)])
def test_one_iteration_trains(config, batch):
    torch.set_num_threads(1)
    model, optim_wrapper, task, num_classes = build_for_training(config)
    inputs, samples = training_inputs(task, batch, (64, 48), num_classes)
    assert inputs.shape == (batch, 3, 64, 48)
    if task == 'detection':
        for sample in samples:
            gt = sample.gt_instances
            assert len(gt) == 3 and gt.masks.masks.shape == (3, 64, 48)
            assert (gt.bboxes[:, 2:] <= torch.tensor([48., 64.])).all()
            assert (gt.labels < num_classes).all()
    else:
        assert all(s.gt_sem_seg.data.max() < num_classes for s in samples)
    weight = model.backbone.patch_embed.proj.weight
    before = weight.detach().clone()
    loss = training_step(model, optim_wrapper, inputs, samples)
    assert math.isfinite(loss)
    assert not torch.equal(before, weight.detach())  # the optimizer stepped


def test_batch_of_one_is_refused_for_pyramid_pooling():
    with pytest.raises(ValueError, match='batch of 2 or more'):
        _prepare(DEMO_SEG, 1, (64, 64), False, 'cpu')


def test_train_subcommand_ratios_are_those_of_its_rows(tmp_path):
    out = tmp_path / 'train.json'
    result = subprocess.run(
        [sys.executable, *BENCHMARK, 'train', DEMO_DET, DEMO_DET, '--shape',
         '64', '64', '--batch', '1', '--warmup', '1', '--repeats', '1',
         '--memory-steps', '1', '--with-cp', '--threads', '1', '--json',
         str(out)], capture_output=True, text=True, cwd=REPO_ROOT,
        timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[
        -3000:]
    data = json.loads(out.read_text())
    rows, ratios = data['rows'], data['ratios']
    assert len(rows) == 2
    for row in rows:
        assert row['config'] == DEMO_DET and row['with_cp'] is True
        assert row['batch'] == 1 and row['shape'] == [64, 64]
        assert row['s_per_iter'] > 0
        assert row['peak_memory_mb'] >= row['memory_before_steps_mb'] > 0
    time_ratio = rows[0]['s_per_iter'] / rows[1]['s_per_iter']
    memory_ratio = rows[0]['peak_memory_mb'] / rows[1]['peak_memory_mb']
    assert ratios == [dict(config=DEMO_DET, baseline=DEMO_DET,
                           time_ratio=pytest.approx(time_ratio, rel=1e-9),
                           memory_ratio=pytest.approx(memory_ratio,
                                                      rel=1e-9))]
    printed = re.findall(r'time x([\d.]+), memory x([\d.]+)',
                         result.stdout.split('\nratios:\n', 1)[1])
    assert printed == [(f'{time_ratio:.2f}', f'{memory_ratio:.2f}')]
    for row in rows:
        assert f'{row["s_per_iter"]:.3f} s/iter' in result.stdout
