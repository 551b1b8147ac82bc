"""Detection: every shipped config builds and runs; the real tools train,
test (2.x-style --eval), resume and run distributed on generated COCO data."""
import glob
import json
import os.path as osp
import pickle
import re
import sys
import textwrap

import pytest
import torch
from mmengine.config import Config

from mmfasternet.model_zoo import find_model
from tests.helpers import (
    load_tool,
    make_demo_data,
    parse_metrics,
    run,
    run_tool,
)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
# The ms-3x configs hold the models of the 1x ones (checked below), so only
# the 1x models are built.
MS_3X_CONFIGS = sorted(
    glob.glob(osp.join(REPO, 'configs', 'maskrcnn_fasternet_*_ms-3x_coco.py')))
DET_CONFIGS = sorted(
    set(glob.glob(osp.join(REPO, 'configs', 'maskrcnn_fasternet_*.py'))) -
    set(MS_3X_CONFIGS)) + sorted(
    glob.glob(osp.join(REPO, 'configs', 'demo', 'maskrcnn_*.py')) +
    glob.glob(osp.join(REPO, 'configs', 'examples', 'maskrcnn_*.py')))
TINY_DEMO = [
    # 64x64 images keep each end-to-end step to seconds
    'train_dataloader.batch_size=2', 'val_dataloader.batch_size=2',
    'test_dataloader.batch_size=2', 'train_dataloader.num_workers=0',
    'val_dataloader.num_workers=0', 'test_dataloader.num_workers=0',
    'train_dataloader.persistent_workers=False',
    'val_dataloader.persistent_workers=False',
    'test_dataloader.persistent_workers=False',
    'default_hooks.logger.interval=1',
    # Seeded: an untrained detector's predictions (and whether the metrics
    # have anything to score) must not change from run to run.
    'randomness.seed=0',
]


def tool(name):
    return osp.join(REPO, 'tools', name)


@pytest.fixture(scope='module')
def coco_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('data') / 'demo_coco'
    return make_demo_data('coco', root, train=8, val=4, size=96)


def data_root_options(root):
    root = str(root) + '/'
    return [
        f'train_dataloader.dataset.data_root={root}',
        f'val_dataloader.dataset.data_root={root}',
        f'test_dataloader.dataset.data_root={root}',
        f'val_evaluator.ann_file={root}annotations/instances_val2017.json',
        f'test_evaluator.ann_file={root}annotations/instances_val2017.json',
    ]


def test_generated_data_is_valid_coco(coco_root):
    from pycocotools.coco import COCO
    coco = COCO(str(coco_root / 'annotations' / 'instances_train2017.json'))
    assert len(coco.getImgIds()) == 8
    assert [c['name'] for c in coco.loadCats(coco.getCatIds())] == [
        'circle', 'square', 'triangle'
    ]
    annotation = coco.loadAnns(coco.getAnnIds())[0]
    mask = coco.annToMask(annotation)
    assert mask.sum() == pytest.approx(annotation['area'], rel=0.15)
    assert (coco_root / 'val2017').is_dir()


@pytest.mark.parametrize('config', DET_CONFIGS, ids=osp.basename)
def test_detection_config_builds_and_runs(config):
    from mmdet.structures import DetDataSample
    from mmdet.structures.mask import BitmapMasks
    from mmengine.structures import InstanceData

    from mmfasternet.engine.tasks import build_model_from_config

    cfg = Config.fromfile(config)
    assert cfg.model.backbone.type == 'FasterNet'
    assert 'mmfasternet' in cfg.custom_imports['imports']
    arch = cfg.model.backbone.arch
    channels = {'t0': 40, 't1': 64, 't2': 96, 's': 128, 'm': 144, 'l': 192}
    assert cfg.model.neck.in_channels == [channels[arch] * 2**i
                                          for i in range(4)]
    model = build_model_from_config(cfg)
    if osp.dirname(config) == osp.join(REPO, 'configs'):
        # a model zoo config: the metafile's parameter count is this model's
        assert sum(p.numel() for p in model.parameters()) == find_model(
            config).metadata['Parameters']
    model.init_weights()

    size = 64
    samples = []
    for _ in range(2):
        sample = DetDataSample()
        sample.set_metainfo(
            dict(img_shape=(size, size), ori_shape=(size, size),
                 pad_shape=(size, size), batch_input_shape=(size, size),
                 scale_factor=(1., 1.)))
        gt = InstanceData()
        gt.bboxes = torch.tensor([[4., 6., 40., 50.]])
        gt.labels = torch.tensor([1])
        mask = torch.zeros(1, size, size, dtype=torch.uint8)
        mask[:, 6:50, 4:40] = 1
        gt.masks = BitmapMasks(mask.numpy(), size, size)
        sample.gt_instances = gt
        samples.append(sample)
    inputs = torch.rand(2, 3, size, size)
    model.train()
    losses = model(inputs, samples, mode='loss')
    total, _ = model.parse_losses(losses)
    assert torch.isfinite(total)
    for key in ('loss_rpn_cls', 'loss_cls', 'loss_bbox', 'loss_mask'):
        assert key in losses
    total.backward()
    assert model.backbone.patch_embed.proj.weight.grad is not None
    # DDP (a multi-process run) stops on a parameter without a gradient
    assert [name for name, p in model.named_parameters()
            if p.requires_grad and p.grad is None] == []
    model.eval()
    with torch.no_grad():
        results = model(inputs, samples, mode='predict')
    assert len(results) == 2
    num_classes = cfg.model.roi_head.bbox_head.num_classes
    assert results[0].pred_instances.masks.shape[0] <= 100
    assert model.roi_head.bbox_head.fc_cls.out_features == num_classes + 1
    assert {'bboxes', 'scores', 'labels', 'masks'} <= set(
        results[0].pred_instances.keys())


# REFERENCE.md, "COCO Mask R-CNN FPN 1x" (S, M, L): lr and drop path. The
# original released no T0-T2 detector; ours take the S recipe (README), with
# no drop path from any source to check.
DET_RECIPE = dict(t0=(2e-4, None), t1=(2e-4, None), t2=(2e-4, None),
                  s=(2e-4, 0.15), m=(1e-4, 0.2), l=(1e-4, 0.3))


def assert_original_coco_recipe(cfg, arch):
    """What 1x and ms-3x share: AdamW, weight decay 1e-4, fp32, no grad
    clip, 500 linear warm-up iterations from 0.001, batch 16 as 8 x 2,
    BN in train mode with nothing frozen."""
    lr, drop_path = DET_RECIPE[arch]
    assert cfg.optim_wrapper.type == 'OptimWrapper'  # fp32, no AMP
    assert cfg.optim_wrapper.optimizer == dict(
        type='AdamW', lr=lr, betas=(0.9, 0.999), weight_decay=1e-4)
    assert cfg.optim_wrapper.get('clip_grad') is None
    assert not cfg.optim_wrapper.get('paramwise_cfg')
    warmup = cfg.param_scheduler[0]
    assert (warmup.type, warmup.start_factor, warmup.by_epoch, warmup.begin,
            warmup.end) == ('LinearLR', 0.001, False, 0, 500)
    assert cfg.train_dataloader.batch_size == 2
    assert cfg.auto_scale_lr.base_batch_size == 16
    backbone = cfg.model.backbone
    assert backbone.arch == arch
    assert (backbone.frozen_stages, backbone.norm_eval) == (-1, False)
    assert backbone.norm_cfg.type == 'BN'
    if drop_path is not None:
        assert backbone.drop_path_rate == drop_path
    assert cfg.model.backbone.init_cfg.checkpoint == find_model(
        f'configs/fasternet_{arch}_imagenet.py').weights


@pytest.mark.parametrize('arch', sorted(DET_RECIPE))
def test_1x_recipe_follows_the_original(arch):
    cfg = Config.fromfile(
        osp.join(REPO, 'configs', f'maskrcnn_fasternet_{arch}_coco.py'))
    assert_original_coco_recipe(cfg, arch)
    assert cfg.train_cfg.max_epochs == 12
    steps = cfg.param_scheduler[1]
    assert (steps.type, steps.by_epoch, steps.end, steps.milestones,
            steps.gamma) == ('MultiStepLR', True, 12, [8, 11], 0.1)
    assert len(cfg.param_scheduler) == 2
    dataset = cfg.train_dataloader.dataset
    assert dataset.type == 'CocoDataset'
    steps = {t.type: t for t in dataset.pipeline}
    assert (steps['Resize'].scale, steps['Resize'].keep_ratio) == (
        (1333, 800), True)
    assert steps['RandomFlip'].prob == 0.5


@pytest.mark.parametrize('config', MS_3X_CONFIGS, ids=osp.basename)
def test_ms_3x_configs_hold_the_1x_model(config):
    one_x = config.replace('_ms-3x', '')
    assert Config.fromfile(config).model == Config.fromfile(one_x).model
    assert find_model(config).metadata['Parameters'] == find_model(
        one_x).metadata['Parameters']


@pytest.mark.parametrize('arch', ['s', 'm', 'l'])
def test_ms_3x_recipe_is_mmdets_with_the_original_optimizer(arch):
    """mmdet's ms-poly-3x (configs/common/ms-poly_3x_coco-instance.py):
    shorter side 640-800, polygon masks, the train set 3x over 12 epochs
    with steps at 9 and 11; the optimizer of the original 1x."""
    cfg = Config.fromfile(
        osp.join(REPO, 'configs', f'maskrcnn_fasternet_{arch}_ms-3x_coco.py'))
    assert_original_coco_recipe(cfg, arch)
    assert cfg.train_cfg.max_epochs == 12
    steps = cfg.param_scheduler[1]
    assert (steps.type, steps.by_epoch, steps.end, steps.milestones,
            steps.gamma) == ('MultiStepLR', True, 12, [9, 11], 0.1)
    assert len(cfg.param_scheduler) == 2
    repeat = cfg.train_dataloader.dataset
    assert (repeat.type, repeat.times) == ('RepeatDataset', 3)
    assert repeat.dataset.type == 'CocoDataset'
    steps = {t.type: t for t in repeat.dataset.pipeline}
    assert steps['LoadAnnotations'].poly2mask is False
    assert (steps['RandomResize'].scale, steps['RandomResize'].keep_ratio) == (
        [(1333, 640), (1333, 800)], True)
    assert steps['RandomFlip'].prob == 0.5
    test_resize = cfg.test_dataloader.dataset.pipeline[1]
    assert (test_resize.type, test_resize.scale) == ('Resize', (1333, 800))


def test_train_test_resume_end_to_end(coco_root, tmp_path):
    """tools/train.py as a user starts it (a fresh interpreter); the
    tests of its checkpoint and the resumed training run the tools'
    ``main`` in this process."""
    config = osp.join(REPO, 'configs', 'demo',
                      'maskrcnn_fasternet_t0_shapes_demo.py')
    work_dir = tmp_path / 'work'
    options = TINY_DEMO + data_root_options(coco_root) + [
        # the demo's Resize steps (its image_scale was read with the file)
        'train_dataloader.dataset.pipeline.2.scale=(96,96)',
        'test_dataloader.dataset.pipeline.1.scale=(96,96)',
        'train_cfg.max_epochs=2',
        'train_cfg.val_interval=100', 'default_hooks.checkpoint.interval=1',
        'default_hooks.checkpoint.max_keep_ckpts=3'
    ]
    log = run([sys.executable, tool('train.py'), config, '--work-dir',
               str(work_dir), '--auto-scale-lr', '--cfg-options'] + options,
              cwd=REPO)
    assert 'Epoch(train) [2][4/4]' in log
    # batch 2 on one process against the recipe's 16
    assert 'Scaling the original LR by 0.125' in log
    checkpoint = work_dir / 'epoch_2.pth'
    assert checkpoint.is_file()

    def tool_log(name, *argv):
        return run_tool(name, [config, *argv, '--cfg-options', *options])[1]

    log = tool_log('test', checkpoint, '--work-dir', tmp_path / 'test',
                   '--eval', 'bbox', 'segm', '--show-dir', 'vis', '--out',
                   tmp_path / 'preds.pkl')
    for metric in ('coco/bbox_mAP', 'coco/bbox_mAP_50', 'coco/segm_mAP',
                   'coco/segm_mAP_50'):
        assert re.search(rf'{metric}: [\d.]+', log), metric
    metrics = parse_metrics(log)
    drawn = glob.glob(str(tmp_path / 'test' / 'vis' / '*.jpg'))
    assert len(drawn) == 4
    assert (tmp_path / 'preds.pkl').stat().st_size > 0

    # --eval bbox alone changes the evaluator: no segm metrics.
    log = tool_log('test', checkpoint, '--work-dir', tmp_path / 'test_bbox',
                   '--eval', 'bbox')
    assert 'coco/bbox_mAP' in log and 'coco/segm_mAP' not in log

    # 2.x-style --format-only writes COCO json instead of scoring.
    tool_log('test', checkpoint, '--work-dir', tmp_path / 'format',
             '--format-only')
    for kind in ('bbox', 'segm'):
        results = tmp_path / 'format' / 'format_only' / f'results.{kind}.json'
        assert isinstance(json.loads(results.read_text()), list)

    # mmdet's TTA refuses mask heads: one clear (argparse) error, before
    # any work.
    with pytest.raises(SystemExit) as error:
        tool_log('test', checkpoint, '--tta')
    assert error.value.code == 2
    assert 'does not support instance segmentation' in error.value.output

    # The deploy form, its backbone in onnxruntime, predicts the same,
    # image by image.
    log = tool_log('test', checkpoint, '--work-dir',
                   tmp_path / 'test_deploy', '--eval', 'bbox', 'segm',
                   '--deploy', '--backbone-runtime', 'onnxruntime', '--out',
                   tmp_path / 'deployed.pkl')
    assert 'FasterNet switched to its deploy form' in log
    assert 'backbone runtime: onnxruntime (requested; set-up' in log
    deployed = parse_metrics(log)
    for name in ('coco/bbox_mAP', 'coco/segm_mAP', 'coco/bbox_mAP_50'):
        assert deployed[name] == pytest.approx(metrics[name], abs=1e-4)
    with open(tmp_path / 'preds.pkl', 'rb') as f:
        trained_form = pickle.load(f)
    with open(tmp_path / 'deployed.pkl', 'rb') as f:
        deploy_form = pickle.load(f)
    assert [p['img_id'] for p in trained_form] == [
        p['img_id'] for p in deploy_form]
    for a, b in zip(trained_form, deploy_form):
        a, b = a['pred_instances'], b['pred_instances']
        assert len(a['scores']) > 0
        torch.testing.assert_close(b['bboxes'], a['bboxes'], rtol=0,
                                   atol=1e-2)
        torch.testing.assert_close(b['scores'], a['scores'], rtol=0,
                                   atol=1e-4)
        assert torch.equal(b['labels'], a['labels'])

    # --resume CKPT continues from that checkpoint (in another work dir).
    options = [o.replace('max_epochs=2', 'max_epochs=3') for o in options]
    work_dir = tmp_path / 'resumed'
    log = tool_log('train', '--work-dir', work_dir, '--resume', checkpoint)
    assert 'resumed epoch: 2, iter: 8' in log
    assert 'Epoch(train) [3][4/4]' in log
    assert 'Epoch(train) [1]' not in log
    assert (work_dir / 'epoch_3.pth').is_file()


def test_eval_rejects_unknown_metric():
    config = osp.join(REPO, 'configs', 'maskrcnn_fasternet_t0_coco.py')
    with pytest.raises(SystemExit) as error:
        run_tool('test', [config, 'none.pth', '--eval', 'mAP'])
    assert error.value.code == 2
    assert 'choose from bbox, segm, proposal' in error.value.output


def test_backbone_runtime_needs_deploy_and_a_known_name(capsys):
    config = osp.join(REPO, 'configs', 'maskrcnn_fasternet_t0_coco.py')
    for options, message in (
            (['--backbone-runtime', 'onnxruntime'],
             '--backbone-runtime is an option of --deploy; add --deploy'),
            (['--deploy', '--backbone-runtime', 'tensorrt'],
             "invalid choice: 'tensorrt'")):
        with pytest.raises(SystemExit) as error:
            load_tool('test').main([config, 'none.pth', *options])
        assert error.value.code == 2
        assert message in capsys.readouterr().err


def test_user_config_outside_the_repo(coco_root, tmp_path):
    """A config of the user's own, elsewhere, that only names mmfasternet in
    custom_imports and the backbone by type."""
    config = tmp_path / 'my_maskrcnn.py'
    root = f'{coco_root}/'
    config.write_text(
        textwrap.dedent(f"""
        _base_ = [
            'mmdet::_base_/models/mask-rcnn_r50_fpn.py',
            'mmdet::_base_/datasets/coco_instance.py',
            'mmdet::_base_/schedules/schedule_1x.py',
            'mmdet::_base_/default_runtime.py',
        ]
        custom_imports = dict(imports=['mmfasternet'],
                              allow_failed_imports=False)
        model = dict(
            backbone=dict(_delete_=True, type='FasterNet', arch='t0'),
            neck=dict(in_channels=[40, 80, 160, 320]),
            roi_head=dict(bbox_head=dict(num_classes=3),
                          mask_head=dict(num_classes=3)))
        metainfo = dict(classes=('circle', 'square', 'triangle'))
        pipeline = [
            dict(type='LoadImageFromFile'),
            dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
            dict(type='Resize', scale=(64, 64), keep_ratio=True),
            dict(type='PackDetInputs'),
        ]
        train_dataloader = dict(
            batch_size=4, num_workers=0, persistent_workers=False,
            dataset=dict(data_root='{root}', metainfo=metainfo,
                         pipeline=pipeline,
                         ann_file='annotations/instances_train2017.json',
                         data_prefix=dict(img='train2017/')))
        train_cfg = dict(max_epochs=1)
        val_cfg = val_dataloader = val_evaluator = None
        test_cfg = test_dataloader = test_evaluator = None
        default_hooks = dict(logger=dict(interval=1))
        """))
    env = dict(PYTHONPATH=REPO)  # as after `pip install -e .`
    log = run([sys.executable, tool('train.py'), str(config), '--work-dir',
               str(tmp_path / 'work')], cwd=tmp_path, env=env)
    assert 'Epoch(train) [1][2/2]' in log
    assert 'FasterNet' in (tmp_path / 'work' / 'my_maskrcnn.py').read_text()


def test_get_flops_tool_on_a_detector():
    config = osp.join(REPO, 'configs', 'maskrcnn_fasternet_t0_coco.py')
    _, out = run_tool('analysis_tools/get_flops',
                      [config, '--shape', '320', '256'])
    assert 'input:    1x3x320x256' in out
    params = float(re.search(r'params:\s+([\d.]+) M', out).group(1))
    backbone = float(re.search(r'\(backbone ([\d.]+) M\)', out).group(1))
    assert backbone == pytest.approx(2.22, abs=0.01)  # + output norms
    assert params > backbone
    assert re.search(r'FLOPs:\s+[\d.]+ G \(backbone [\d.]+ G\)', out)
