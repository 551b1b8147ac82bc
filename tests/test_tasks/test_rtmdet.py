"""RTMDet demo end to end: what its recipe adds to the Mask R-CNN runs of
test_detection.py. The cached mosaic and mixup transforms, the pipeline
switch (PipelineSwitchHook) and the weights' moving average (EMAHook)
through tools/train.py, tools/test.py (--show-dir, --deploy) and a
2-process run resumed from a checkpoint, on generated COCO data."""
import glob
import os.path as osp
import pickle
import re

import pytest
import torch

from tests.helpers import make_demo_data, parse_metrics, run_tool
from tests.helpers.training_runs import dist_train
from tests.test_tasks.test_detection import TINY_DEMO, data_root_options

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs', 'demo',
                  'rtmdet_fasternet_t0_shapes_demo.py')
SWITCHED = 'Switch pipeline now!'  # mmdet's PipelineSwitchHook


@pytest.fixture(scope='module')
def coco_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('data') / 'demo_coco'
    return make_demo_data('coco', root, train=8, val=4, size=96)


def image_size_options(size):
    """Every size of the demo's pipelines (256 there) set to ``size``: the
    mosaic stage, the plain stage PipelineSwitchHook switches to, and the
    test pipeline."""
    scale, double = f'({size},{size})', f'({2 * size},{2 * size})'
    train = 'train_dataloader.dataset.pipeline'
    stage2 = 'custom_hooks.1.switch_pipeline'
    options = [
        f'{train}.2.img_scale={scale}', f'{train}.3.scale={double}',
        f'{train}.4.crop_size={scale}', f'{train}.7.size={scale}',
        f'{train}.8.img_scale={scale}', f'{stage2}.2.scale={scale}',
        f'{stage2}.3.crop_size={scale}', f'{stage2}.6.size={scale}'
    ]
    for split in ('val', 'test'):
        options += [f'{split}_dataloader.dataset.pipeline.1.scale={scale}',
                    f'{split}_dataloader.dataset.pipeline.2.size={scale}']
    return options


def ema_steps(checkpoint):
    """How many updates the moving average of ``checkpoint`` has seen."""
    state = torch.load(checkpoint, map_location='cpu', weights_only=False)
    return int(state['ema_state_dict']['steps'])


def load_predictions(path):
    """The ``pred_instances`` of each image ``tools/test.py --out`` wrote,
    by image id."""
    with open(path, 'rb') as f:
        predictions = pickle.load(f)
    return [p['pred_instances'] for p in sorted(
        predictions, key=lambda p: p['img_id'])]


def switched_before(log, epoch):
    """Whether the pipeline was switched in ``log`` before the first
    iteration of ``epoch`` (and after the last one of the epoch before)."""
    switch = log.index(SWITCHED)
    first = log.index(f'Epoch(train) [{epoch}][1/')
    earlier = [m.start() for m in re.finditer(
        rf'Epoch\(train\) \[{epoch - 1}\]', log)]
    return switch < first and all(index < switch for index in earlier)


def test_rtmdet_train_test_deploy_resume(coco_root, tmp_path):
    # 8 images in batches of 2: 4 iterations an epoch; the plain pipeline
    # from the second epoch on.
    options = TINY_DEMO + data_root_options(coco_root) + image_size_options(
        64) + [
            'train_cfg.max_epochs=2', 'custom_hooks.1.switch_epoch=1',
            'default_hooks.checkpoint.interval=1',
            'default_hooks.checkpoint.max_keep_ckpts=3'
        ]
    work_dir = tmp_path / 'work'
    _, log = run_tool('train', [CONFIG, '--work-dir', work_dir,
                                '--cfg-options', *options])
    assert 'Epoch(train) [2][4/4]' in log
    assert log.count(SWITCHED) == 1 and switched_before(log, 2)
    checkpoint = work_dir / 'epoch_2.pth'
    assert [ema_steps(work_dir / f'epoch_{n}.pth') for n in (1, 2)] == [4, 8]

    # The test tools on the averaged weights the checkpoint holds: the
    # drawings, and the deploy form (BN folded, in the model and in the
    # moving average's copy) predicting the same.
    _, log = run_tool('test', [
        CONFIG, checkpoint, '--work-dir', tmp_path / 'test', '--eval', 'bbox',
        '--show-dir', 'vis', '--out', tmp_path / 'preds.pkl', '--cfg-options',
        *options])
    metrics = parse_metrics(log)
    assert len(glob.glob(str(tmp_path / 'test' / 'vis' / '*.jpg'))) == 4
    _, log = run_tool('test', [
        CONFIG, checkpoint, '--work-dir', tmp_path / 'test_deploy', '--eval',
        'bbox', '--deploy', '--backbone-runtime', 'eager', '--out',
        tmp_path / 'deployed.pkl', '--cfg-options', *options])
    assert 'FasterNet switched to its deploy form' in log
    deployed = parse_metrics(log)
    assert deployed.keys() == metrics.keys()
    for name, value in metrics.items():
        assert deployed[name] == pytest.approx(value, abs=1e-3), name
    for trained, folded in zip(load_predictions(tmp_path / 'preds.pkl'),
                               load_predictions(tmp_path / 'deployed.pkl')):
        assert len(trained['scores']) > 0
        # the best detections, in order (the untrained model's lower
        # scores are too close to order alike)
        torch.testing.assert_close(folded['scores'][:5],
                                   trained['scores'][:5], rtol=0, atol=1e-4)
        torch.testing.assert_close(folded['bboxes'][:5],
                                   trained['bboxes'][:5], rtol=0, atol=1e-2)

    # Resumed by two processes (batches of 2 each: 2 iterations an epoch)
    # after the switch: the plain pipeline again from the first resumed
    # epoch, and the average continued (8 + 2 updates, not 2).
    resumed = [o.replace('max_epochs=2', 'max_epochs=3') for o in options]
    result = dist_train(CONFIG, tmp_path / 'dist', 29560, '--resume',
                        str(checkpoint), '--cfg-options', *resumed)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-5000:]
    assert 'Distributed launcher: pytorch' in log and 'GPU number: 2' in log
    assert 'resumed epoch: 2, iter: 8' in log
    assert 'Epoch(train) [2]' not in log and 'Epoch(train) [3][2/2]' in log
    assert log.count(SWITCHED) == 1 and switched_before(log, 3)  # rank 0's
    assert ema_steps(tmp_path / 'dist' / 'epoch_3.pth') == 10
