"""Segmentation: every shipped UperNet / Semantic FPN config builds and runs
a forward in loss and predict mode on tiny inputs."""
import glob
import os.path as osp
import pickle

import pytest
import torch
from mmengine.config import Config

from conftest import segmentation_scores

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
SEG_CONFIGS = sorted(
    glob.glob(osp.join(REPO, 'configs', 'upernet_fasternet_*.py')) +
    glob.glob(osp.join(REPO, 'configs', 'fpn_fasternet_*.py')))
EMBED_DIMS = dict(t0=40, t1=64, t2=96, s=128, m=144, l=192)


def test_every_variant_is_shipped():
    names = {osp.basename(c) for c in SEG_CONFIGS}
    for arch in EMBED_DIMS:
        assert f'upernet_fasternet_{arch}_ade20k.py' in names
        assert f'fpn_fasternet_{arch}_ade20k.py' in names


@pytest.mark.parametrize('config', SEG_CONFIGS, ids=osp.basename)
def test_segmentation_config_builds_and_runs(config):
    from mmengine.model import revert_sync_batchnorm
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS
    from mmseg.structures import SegDataSample
    from mmengine.structures import PixelData

    cfg = Config.fromfile(config)
    assert cfg.model.backbone.type == 'FasterNet'
    assert cfg.model.get('pretrained') is None
    arch = cfg.model.backbone.arch
    channels = [EMBED_DIMS[arch] * 2**i for i in range(4)]
    if 'upernet' in config:
        assert cfg.model.decode_head.in_channels == channels
        assert cfg.model.auxiliary_head.in_channels == channels[2]
        assert cfg.train_cfg.max_iters == 160000
    else:
        assert cfg.model.neck.in_channels == channels
        assert cfg.train_cfg.max_iters == 40000
    assert cfg.model.backbone.init_cfg.checkpoint.startswith(
        f'checkpoints/fasternet_{arch}-epoch.')

    cfg.model.backbone.init_cfg = None
    init_default_scope('mmseg')
    model = revert_sync_batchnorm(MODELS.build(cfg.model))
    model.init_weights()
    size = (64, 64)
    samples = []
    for _ in range(2):
        sample = SegDataSample()
        sample.set_metainfo(dict(img_shape=size, ori_shape=size,
                                 pad_shape=size))
        sample.gt_sem_seg = PixelData(
            data=torch.randint(0, 150, (1, *size)))
        samples.append(sample)
    inputs = torch.rand(2, 3, *size)
    model.train()
    losses = model(inputs, samples, mode='loss')
    total, _ = model.parse_losses(losses)
    assert torch.isfinite(total)
    total.backward()
    assert model.backbone.patch_embed.proj.weight.grad is not None
    model.eval()
    with torch.no_grad():
        results = model(inputs, samples, mode='predict')
    assert results[0].pred_sem_seg.data.shape[-2:] == size
    assert results[0].seg_logits.data.shape[0] == 150


def test_generated_data_follows_ade20k(tmp_path, repo_root):
    import subprocess
    import sys

    import numpy as np
    from PIL import Image
    root = tmp_path / 'ADEChallengeData2016'
    subprocess.run([sys.executable, osp.join(repo_root, 'tools',
                                             'make_demo_data.py'), 'ade20k',
                    str(root), '--train', '3', '--val', '2', '--size', '48',
                    '64'], check=True, capture_output=True)
    images = sorted((root / 'images' / 'training').glob('*.jpg'))
    labels = sorted((root / 'annotations' / 'training').glob('*.png'))
    assert [p.stem for p in images] == [p.stem for p in labels]
    assert len(list((root / 'images' / 'validation').glob('*.jpg'))) == 2
    label = np.array(Image.open(labels[0]))
    assert label.shape == (48, 64) and label.dtype == np.uint8
    # 0 = unlabelled (outlines), 1 = background, 2..4 = shapes
    assert set(np.unique(label)) <= {0, 1, 2, 3, 4}
    assert 0 in label and 1 in label


def test_train_then_test_with_eval_miou(tmp_path, repo_root):
    import re
    import subprocess
    import sys

    root = tmp_path / 'ADEChallengeData2016'
    subprocess.run([sys.executable, osp.join(repo_root, 'tools',
                                             'make_demo_data.py'), 'ade20k',
                    str(root), '--train', '8', '--val', '4', '--size', '64',
                    '64'], check=True, capture_output=True)
    config = osp.join(repo_root, 'configs', 'demo',
                      'fpn_fasternet_t0_shapes_demo.py')
    options = [
        f'{loader}.dataset.data_root={root}'
        for loader in ('train_dataloader', 'val_dataloader',
                       'test_dataloader')
    ] + [
        f'{loader}.{key}' for loader in ('train_dataloader', 'val_dataloader',
                                         'test_dataloader')
        for key in ('num_workers=0', 'persistent_workers=False')
    ] + [
        'train_dataloader.batch_size=4', 'train_cfg.max_iters=4',
        'train_cfg.val_interval=4', 'default_hooks.checkpoint.interval=4',
        'default_hooks.logger.interval=1', 'randomness.seed=0'
    ]

    def run(*args):
        result = subprocess.run([sys.executable, *args], cwd=repo_root,
                                capture_output=True, text=True, timeout=600)
        return result

    work = tmp_path / 'work'
    result = run(osp.join(repo_root, 'tools', 'train.py'), config,
                 '--work-dir', str(work), '--cfg-options', *options)
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'Iter(train) [4/4]' in result.stdout + result.stderr
    checkpoint = work / 'iter_4.pth'
    assert checkpoint.is_file()

    result = run(osp.join(repo_root, 'tools', 'test.py'), config,
                 str(checkpoint), '--work-dir', str(tmp_path / 'test'),
                 '--eval', 'mIoU', 'mDice', 'mFscore', '--out',
                 str(tmp_path / 'preds.pkl'), '--cfg-options', *options)
    assert result.returncode == 0, result.stderr[-3000:]
    line = [r for r in result.stdout.splitlines() if r.startswith('metrics')]
    metrics = dict(re.findall(r'(\S+)=([\d.]+)', line[-1]))
    assert {'aAcc', 'mIoU', 'mDice', 'mFscore'} <= set(metrics)
    # The reported scores are those of the predictions, recomputed here.
    with open(tmp_path / 'preds.pkl', 'rb') as f:
        predictions = pickle.load(f)
    assert len(predictions) == 4
    expected = segmentation_scores(predictions, num_classes=4)
    for name in ('aAcc', 'mIoU', 'mAcc'):
        assert float(metrics[name]) == pytest.approx(expected[name],
                                                     abs=0.006)

    # mmseg's multi-scale + flip test-time augmentation from its ADE20K base
    result = run(osp.join(repo_root, 'tools', 'test.py'), config,
                 str(checkpoint), '--work-dir', str(tmp_path / 'tta'),
                 '--tta', '--eval', 'mIoU', '--cfg-options', *options)
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'SegTTAModel' in (tmp_path / 'tta').joinpath(
        next(p.name for p in (tmp_path / 'tta').iterdir() if p.is_dir()),
        'vis_data', 'config.py').read_text()
    assert any(r.startswith('metrics: ') and 'mIoU=' in r
               for r in result.stdout.splitlines())

    result = run(osp.join(repo_root, 'tools', 'test.py'), config,
                 str(checkpoint), '--eval', 'bbox')
    assert result.returncode == 2
    assert 'choose from mIoU, mDice, mFscore' in result.stderr
