"""Segmentation: every shipped UperNet / Semantic FPN config builds and runs
a forward in loss and predict mode on tiny inputs."""
import glob
import json
import os.path as osp
import pickle

import pytest
import torch
from mmengine.config import Config

from mmfasternet.model_zoo import find_model
from tests.helpers import (
    make_demo_data,
    run_benchmark,
    run_tool,
    segmentation_scores,
)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
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
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample

    from mmfasternet.engine.tasks import build_model_from_config

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
    assert cfg.model.backbone.init_cfg.checkpoint == find_model(
        f'configs/fasternet_{arch}_imagenet.py').weights

    model = build_model_from_config(cfg, revert_sync_bn=True)
    # the model zoo's parameter count is this model's
    assert sum(p.numel() for p in model.parameters()) == find_model(
        config).metadata['Parameters']
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


# The original published no segmentation recipe (REFERENCE.md); these are
# the ones the README states. UperNet: mmseg's recipe family for modern
# backbones (Swin's UperNet: AdamW, weight decay 0.01, 1500 linear warm-up
# iterations from 1e-6, poly power 1.0, no decay on norms, 160k iterations,
# batch 16 as 8 x 2), lr 1e-4. Semantic FPN: PoolFormer's (AdamW lr 2e-4,
# weight decay 1e-4, poly power 0.9, 40k iterations, batch 32 as 8 x 4).
SEG_RECIPE = dict(
    upernet=dict(
        optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999),
                       weight_decay=0.01),
        paramwise_cfg=dict(norm_decay_mult=0., bias_decay_mult=0.),
        schedulers=[('LinearLR', 0, 1500), ('PolyLR', 1500, 160000)],
        power=1.0, iters=160000, batch=2, total_batch=16),
    fpn=dict(
        optimizer=dict(type='AdamW', lr=2e-4, weight_decay=1e-4),
        paramwise_cfg=None,
        schedulers=[('PolyLR', 0, 40000)],
        power=0.9, iters=40000, batch=4, total_batch=32),
)
# The original's dense-prediction (COCO) drop path, REFERENCE.md.
DENSE_DROP_PATH = dict(s=0.15, m=0.2, l=0.3)


@pytest.mark.parametrize('config', SEG_CONFIGS, ids=osp.basename)
def test_segmentation_recipe(config):
    method, _, arch = osp.basename(config).split('_')[:3]
    recipe = SEG_RECIPE[method]
    cfg = Config.fromfile(config)
    assert cfg.optim_wrapper.type == 'OptimWrapper'
    assert cfg.optim_wrapper.optimizer == recipe['optimizer']
    assert cfg.optim_wrapper.get('paramwise_cfg') == recipe['paramwise_cfg']
    assert cfg.optim_wrapper.get('clip_grad') is None
    assert [(s.type, s.begin, s.end) for s in cfg.param_scheduler] == (
        recipe['schedulers'])
    assert all(s.by_epoch is False for s in cfg.param_scheduler)
    poly = cfg.param_scheduler[-1]
    assert (poly.power, poly.eta_min) == (recipe['power'], 0)
    if method == 'upernet':
        assert cfg.param_scheduler[0].start_factor == 1e-6
    assert cfg.train_cfg.type == 'IterBasedTrainLoop'
    assert cfg.train_cfg.max_iters == recipe['iters']
    assert cfg.train_dataloader.batch_size == recipe['batch']
    assert cfg.auto_scale_lr.base_batch_size == recipe['total_batch']
    crop = [t for t in cfg.train_dataloader.dataset.pipeline
            if t.type == 'RandomCrop'][0]
    assert crop.crop_size == (512, 512)
    assert cfg.model.backbone.arch == arch
    if arch in DENSE_DROP_PATH:
        assert cfg.model.backbone.drop_path_rate == DENSE_DROP_PATH[arch]


def test_generated_data_follows_ade20k(tmp_path, repo_root):

    import numpy as np
    from PIL import Image
    root = tmp_path / 'ADEChallengeData2016'
    make_demo_data('ade20k', root, train=3, val=2, size=(48, 64))
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
    """tools/train.py, tools/test.py and the test-loop benchmark, each
    as its ``main`` in this process (the detection test starts
    tools/train.py in a fresh interpreter)."""
    import re

    root = tmp_path / 'ADEChallengeData2016'
    make_demo_data('ade20k', root, train=8, val=4, size=64)
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

    def test_tool(*argv):
        return run_tool('test', [config, checkpoint, *argv])[1]

    work = tmp_path / 'work'
    _, log = run_tool('train', [config, '--work-dir', work, '--cfg-options',
                                *options])
    assert 'Iter(train) [4/4]' in log
    checkpoint = work / 'iter_4.pth'
    assert checkpoint.is_file()

    out = test_tool('--work-dir', str(tmp_path / 'test'), '--eval', 'mIoU',
                    'mDice', 'mFscore', '--out', str(tmp_path / 'preds.pkl'),
                    '--cfg-options', *options)
    line = [r for r in out.splitlines() if r.startswith('metrics')]
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
    out = test_tool('--work-dir', str(tmp_path / 'tta'), '--tta', '--eval',
                    'mIoU', '--cfg-options', *options)
    assert 'SegTTAModel' in (tmp_path / 'tta').joinpath(
        next(p.name for p in (tmp_path / 'tta').iterdir() if p.is_dir()),
        'vis_data', 'config.py').read_text()
    assert any(r.startswith('metrics: ') and 'mIoU=' in r
               for r in out.splitlines())

    with pytest.raises(SystemExit) as error:
        test_tool('--eval', 'bbox')
    assert error.value.code == 2
    assert 'choose from mIoU, mDice, mFscore' in error.value.output

    # The test loop with and without --deploy, each backbone runtime: same
    # metrics, and the img/s and ratios printed are those of the rows.
    out = tmp_path / 'loop.json'
    printed = run_benchmark('test-loop', config, checkpoint, '--runtimes',
                            'auto', 'onnxruntime', '--repeats', '1',
                            '--work-dir', tmp_path / 'loop', '--json', out,
                            '--cfg-options', *options)
    record = json.loads(out.read_text())
    rows = {row['form']: row for row in record['rows']}
    assert list(rows) == ['eval', 'auto', 'onnxruntime']
    for form, row in rows.items():
        assert row['images'] == 4
        assert row['images_per_s'] == pytest.approx(4 / row['loop_s'])
        assert set(row['metrics']) == set(rows['eval']['metrics'])
        for name, value in rows['eval']['metrics'].items():
            assert row['metrics'][name] == pytest.approx(value, abs=0.01)
        if form != 'eval':
            assert row['backbone_runtime']['requested'] == form
    assert rows['onnxruntime']['backbone_runtime']['runtime'] == (
        'onnxruntime')
    assert rows['auto']['backbone_runtime']['runtime'] in ('eager',
                                                           'onnxruntime')
    summary = {form['form']: form for form in record['summary']}
    for form, row in rows.items():
        speedup = row['images_per_s'] / rows['eval']['images_per_s']
        assert summary[form]['speedup'] == pytest.approx(speedup)
        after_setup = row['images_per_s']
        if form != 'eval':
            after_setup = 4 / (row['loop_s'] -
                               row['backbone_runtime']['prepare_s'])
            assert row['images_per_s_after_setup'] == pytest.approx(
                after_setup)
        after_setup /= rows['eval']['images_per_s']
        assert summary[form]['speedup_after_setup'] == pytest.approx(
            after_setup)
        assert f'{form:<12} {row["images_per_s"]:>8.2f} img/s  ' \
            f'x{speedup:.2f} vs eval (without the set-up: ' \
            f'x{after_setup:.2f})' in printed
