"""The model zoo's detectors beyond Mask R-CNN (RTMDet, RTMDet-Ins,
RetinaNet, Faster R-CNN, Cascade Mask R-CNN): each config is mmdet's own
with FasterNet in place of its backbone, and nothing else changed but what
its header says; its model has the metafile's size, trains (gradients reach
the backbone) and predicts. Each distinct model is built once."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from mmfasternet.engine.tasks import read_config
from mmfasternet.model_zoo import find_model
from tests.helpers import REPO_ROOT

RTMDET_TINY = 'mmdet::rtmdet/rtmdet_tiny_8xb32-300e_coco.py'
RTMDET_S = 'mmdet::rtmdet/rtmdet_s_8xb32-300e_coco.py'
# config -> the mmdet config it replaces the backbone of
MMDET_CONFIGS = {
    'rtmdet_fasternet_t0_coco.py': RTMDET_TINY,
    'rtmdet_fasternet_t1_coco.py': RTMDET_TINY,
    'rtmdet_fasternet_t2_coco.py': RTMDET_S,
    'rtmdet_fasternet_s_coco.py': RTMDET_S,
    'rtmdet-ins_fasternet_t0_coco.py':
    'mmdet::rtmdet/rtmdet-ins_tiny_8xb32-300e_coco.py',
    'rtmdet-ins_fasternet_s_coco.py':
    'mmdet::rtmdet/rtmdet-ins_s_8xb32-300e_coco.py',
    'retinanet_fasternet_t0_coco.py':
    'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py',
    'retinanet_fasternet_s_coco.py':
    'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py',
    'fasterrcnn_fasternet_s_coco.py':
    'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py',
    'cascade-maskrcnn_fasternet_s_coco.py':
    'mmdet::cascade_rcnn/cascade-mask-rcnn_r50_fpn_1x_coco.py',
    'cascade-maskrcnn_fasternet_s_ms-3x_coco.py':
    'mmdet::cascade_rcnn/cascade-mask-rcnn_r50_fpn_ms-3x_coco.py',
}
CONFIGS = sorted(MMDET_CONFIGS)
# REFERENCE.md, "Architecture": stem width E and ImageNet drop path rate.
WIDTH = dict(t0=40, t1=64, t2=96, s=128)
IMAGENET_DROP_PATH = dict(t0=0.0, t1=0.02, t2=0.05, s=0.1)
RELEASE = 'https://github.com/JierunChen/FasterNet/releases/download/v1.0/'
IMAGENET_RGB = dict(mean=[123.675, 116.28, 103.53],
                    std=[58.395, 57.12, 57.375], bgr_to_rgb=True)


def load(config):
    return Config.fromfile(osp.join(REPO_ROOT, 'configs', config))


def without_scope(node):
    """A config dict without the ``_scope_`` keys mmengine adds to what a
    config inherits from ``mmdet::``."""
    if isinstance(node, dict):
        return {key: without_scope(value) for key, value in node.items()
                if key != '_scope_'}
    if isinstance(node, (list, tuple)):
        return type(node)(without_scope(value) for value in node)
    return node


def is_rtmdet(config):
    return config.startswith('rtmdet')


@pytest.mark.parametrize('config', CONFIGS)
def test_config_is_mmdets_with_fasternet(config):
    """Against mmdet's config loaded from ``mmdet::``: the backbone, the
    neck's in_channels and what the header names differ; the heads, the
    schedule, the hooks (EMA and the pipeline switch of RTMDet) and the
    pipelines are mmdet's."""
    ours = without_scope(load(config).to_dict())
    theirs = read_config(MMDET_CONFIGS[config]).to_dict()
    assert ours.pop('custom_imports') == dict(
        imports=['mmfasternet'], allow_failed_imports=False)

    backbone = ours['model'].pop('backbone')
    del theirs['model']['backbone']
    arch = backbone['arch']
    weights = find_model(f'configs/fasternet_{arch}_imagenet.py').weights
    assert weights.startswith(RELEASE)
    if is_rtmdet(config):
        # strides 8-32 for CSPNeXt-PAFPN; the backbone's own BN settings
        out_indices = (1, 2, 3)
        assert backbone == dict(
            type='FasterNet', arch=arch, out_indices=out_indices,
            drop_path_rate=IMAGENET_DROP_PATH[arch],
            init_cfg=dict(type='Pretrained', checkpoint=weights))
    else:
        # FasterNet's Mask R-CNN recipe: its backbone and optimizer;
        # RetinaNet's FPN reads strides 8-32 only (mmdet: start_level=1 of
        # four maps; here three maps from level 0, no unread output norm)
        out_indices = (0, 1, 2, 3)
        if config.startswith('retinanet'):
            out_indices = (1, 2, 3)
            assert ours['model']['neck'].pop('start_level') == 0
            assert theirs['model']['neck'].pop('start_level') == 1
        recipe = load(f'maskrcnn_fasternet_{arch}_coco.py')
        recipe.model.backbone.out_indices = out_indices
        assert backbone == recipe.model.backbone.to_dict()
        assert backbone['frozen_stages'] == -1
        assert backbone['norm_eval'] is False
        assert backbone['drop_path_rate'] == dict(t0=0.0, s=0.15)[arch]
        assert ours['optim_wrapper'].pop('optimizer') == \
            recipe.optim_wrapper.optimizer.to_dict() == dict(
                type='AdamW', lr=2e-4, betas=(0.9, 0.999),
                weight_decay=1e-4)
        del theirs['optim_wrapper']['optimizer']

    widths = [WIDTH[arch] * 2**i for i in out_indices]
    assert ours['model']['neck'].pop('in_channels') == widths
    del theirs['model']['neck']['in_channels']

    if is_rtmdet(config):
        preprocessor = ours['model']['data_preprocessor']
        assert {key: preprocessor.pop(key) for key in IMAGENET_RGB} == \
            IMAGENET_RGB
        for key in IMAGENET_RGB:
            del theirs['model']['data_preprocessor'][key]
        # RTMDet's lr is for batch 256 (8 x 32); mmdet's config says 16
        assert ours.pop('auto_scale_lr') == dict(enable=False,
                                                 base_batch_size=256)
        assert theirs.pop('auto_scale_lr')['base_batch_size'] == 16
        assert ours['train_dataloader']['batch_size'] * 8 == 256
        assert [hook['type'] for hook in ours['custom_hooks']] == [
            'EMAHook', 'PipelineSwitchHook']
    else:
        # mmdet's ResNet configs already feed RGB with ImageNet statistics
        assert IMAGENET_RGB.items() <= \
            ours['model']['data_preprocessor'].items()
    assert ours == theirs


def with_few_proposals(model_cfg, proposals=100, samples=64):
    """A two-stage model config whose RPN keeps ``proposals`` boxes and
    whose RoI heads sample ``samples`` RoIs per image, in training and
    test (the layers, and so the parameters, are the config's): 64x64
    images need no more, and 1000 proposals through Cascade's three stages
    would be most of this file's time."""
    train_cfg, test_cfg = model_cfg.get('train_cfg'), model_cfg.get(
        'test_cfg')
    if not train_cfg or 'rpn_proposal' not in train_cfg:
        return model_cfg
    for rpn in (train_cfg.rpn_proposal, test_cfg.rpn):
        rpn.nms_pre = rpn.max_per_img = proposals
    stages = train_cfg.rcnn if isinstance(train_cfg.rcnn, list) else [
        train_cfg.rcnn]
    for stage in stages:
        stage.sampler.num = samples
    return model_cfg


_BUILT = {}


def built(config):
    """The model of a config (with few proposals), built once per distinct
    model config: the Cascade 1x and ms-3x configs share one."""
    from mmfasternet.engine.tasks import build_model_from_config
    cfg = load(config)
    with_few_proposals(cfg.model)
    key = repr(cfg.model.to_dict())
    if key not in _BUILT:
        _BUILT[key] = build_model_from_config(cfg, seed=0)
    return _BUILT[key]


@pytest.mark.parametrize('config', CONFIGS)
def test_model_has_the_metafile_size(config):
    model = built(config)
    assert type(model.backbone).__name__ == 'FasterNet'
    assert sum(p.numel() for p in model.parameters()) == find_model(
        f'configs/{config}').metadata['Parameters']


def test_cascade_schedules_share_one_model():
    assert load('cascade-maskrcnn_fasternet_s_coco.py').model == load(
        'cascade-maskrcnn_fasternet_s_ms-3x_coco.py').model


def tiny_batch(with_masks, size=64):
    """Two random 64x64 images with one box (and mask) each."""
    from mmdet.structures import DetDataSample
    from mmdet.structures.mask import BitmapMasks
    from mmengine.structures import InstanceData
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
        if with_masks:
            mask = torch.zeros(1, size, size, dtype=torch.uint8)
            mask[:, 6:50, 4:40] = 1
            gt.masks = BitmapMasks(mask.numpy(), size, size)
        sample.gt_instances = gt
        samples.append(sample)
    torch.manual_seed(0)
    return torch.rand(2, 3, size, size), samples


# One config per family (the variants of a family differ in widths only,
# which the size test checks): the losses the family reports.
LOSSES = {
    'rtmdet_fasternet_t0_coco.py': ('loss_cls', 'loss_bbox'),
    'rtmdet-ins_fasternet_t0_coco.py': ('loss_cls', 'loss_bbox', 'loss_mask'),
    'retinanet_fasternet_t0_coco.py': ('loss_cls', 'loss_bbox'),
    'fasterrcnn_fasternet_s_coco.py': ('loss_rpn_cls', 'loss_rpn_bbox',
                                       'loss_cls', 'loss_bbox'),
    'cascade-maskrcnn_fasternet_s_coco.py': (
        'loss_rpn_cls', 'loss_rpn_bbox', *(f's{stage}.{loss}'
                                           for stage in range(3)
                                           for loss in ('loss_cls',
                                                        'loss_bbox',
                                                        'loss_mask'))),
}


@pytest.mark.parametrize('config', sorted(LOSSES))
def test_model_trains_one_step_and_predicts(config):
    """A training step on two 64x64 images: finite losses of the family's
    kinds, gradients down to the backbone's first layer; then predictions
    in the family's format."""
    cfg = load(config)
    with_masks = 'ins' in config or 'mask' in config
    model = built(config)
    inputs, samples = tiny_batch(with_masks)
    model.train()
    model.zero_grad()
    losses = model(inputs, samples, mode='loss')
    assert set(LOSSES[config]) <= set(losses)
    total, _ = model.parse_losses(losses)
    assert torch.isfinite(total)
    total.backward()
    stem = model.backbone.patch_embed.proj.weight.grad
    assert stem is not None and torch.isfinite(stem).all()
    assert stem.abs().sum() > 0
    # DDP (a multi-process run) stops on a parameter without a gradient
    assert [name for name, p in model.named_parameters()
            if p.requires_grad and p.grad is None] == []

    model.eval()
    with torch.no_grad():
        results = model(inputs, samples, mode='predict')
    assert len(results) == 2
    predicted = results[0].pred_instances
    expected = {'bboxes', 'scores', 'labels'} | ({'masks'}
                                                 if with_masks else set())
    assert expected <= set(predicted.keys())
    assert predicted.bboxes.shape[1] == 4
    if len(predicted):
        heads = cfg.model.get('bbox_head') or cfg.model.roi_head.bbox_head
        num_classes = (heads[-1] if isinstance(heads, list) else
                       heads).num_classes
        assert 0 <= int(predicted.labels.min()) <= int(
            predicted.labels.max()) < num_classes
        if with_masks:
            assert predicted.masks.shape[-2:] == (64, 64)
