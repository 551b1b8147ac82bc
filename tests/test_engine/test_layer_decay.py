"""Layer-wise learning-rate decay for FasterNet models, found from every
OpenMMLab scope."""
import pytest
import torch.nn as nn

from mmfasternet import FasterNet

BASE_LR, BASE_WD, DECAY = 1e-3, 0.05, 0.5


class TinyDetector(nn.Module):
    """Stands in for a detector/segmentor/classifier: a backbone plus a
    head, as mmdet/mmseg/mmpretrain models name them."""

    def __init__(self, backbone):
        super().__init__()
        self.backbone = backbone
        self.head = nn.Linear(320, 10)


def build_optimizer(model, decay_type, scope='mmengine'):
    registry = dict(
        mmengine='mmengine.registry', mmdet='mmdet.registry',
        mmseg='mmseg.registry', mmpretrain='mmpretrain.registry')[scope]
    constructors = __import__(
        registry, fromlist=['OPTIM_WRAPPER_CONSTRUCTORS'])
    constructor = constructors.OPTIM_WRAPPER_CONSTRUCTORS.build(
        dict(
            type='FasterNetLayerDecayOptimWrapperConstructor',
            optim_wrapper_cfg=dict(
                type='OptimWrapper',
                optimizer=dict(type='AdamW', lr=BASE_LR,
                               weight_decay=BASE_WD)),
            paramwise_cfg=dict(decay_rate=DECAY, decay_type=decay_type)))
    return constructor(model).optimizer


def lr_and_wd_of(optimizer, param):
    for group in optimizer.param_groups:
        if any(p is param for p in group['params']):
            return group['lr'], group['weight_decay']
    raise AssertionError('parameter in no group')


@pytest.mark.parametrize('scope', ['mmengine', 'mmdet', 'mmseg',
                                   'mmpretrain'])
def test_layer_wise_learning_rates(scope):
    model = TinyDetector(FasterNet(arch='t0'))  # 13 blocks: 15 depths
    optimizer = build_optimizer(model, 'layer_wise', scope)
    backbone = model.backbone

    def scale(depth):
        return BASE_LR * DECAY**(14 - depth)

    expected = {
        model.head.weight: (BASE_LR, BASE_WD),
        model.head.bias: (BASE_LR, 0.),
        backbone.patch_embed.proj.weight: (scale(0), BASE_WD),
        backbone.patch_embed.norm.weight: (scale(0), 0.),
        backbone.stages[0].blocks[0].mlp[0].weight: (scale(1), BASE_WD),
        # merging 1 feeds block 1 (the first of stage 1)
        backbone.stages[1].reduction.weight: (scale(2), BASE_WD),
        backbone.stages[2].blocks[1].mlp[3].weight: (scale(3), BASE_WD),
        backbone.stages[4].blocks[3].spatial_mixing.partial_conv3.weight:
        (scale(1 + 2 + 3 + 1), BASE_WD),
        backbone.stages[6].blocks[1].mlp[1].bias: (scale(13), 0.),
        # output norms follow their stage's last block
        backbone.norm0.weight: (scale(1), 0.),
        backbone.norm6.bias: (scale(13), 0.),
    }
    for param, (lr, wd) in expected.items():
        got_lr, got_wd = lr_and_wd_of(optimizer, param)
        assert got_lr == pytest.approx(lr) and got_wd == wd
    assert sum(len(g['params']) for g in optimizer.param_groups) == len(
        list(model.parameters()))


def test_stage_wise_learning_rates():
    model = TinyDetector(FasterNet(arch='t0'))
    optimizer = build_optimizer(model, 'stage_wise')
    backbone = model.backbone
    for param, depth in (
            (backbone.patch_embed.proj.weight, 0),
            (backbone.stages[0].blocks[0].mlp[0].weight, 1),
            (backbone.stages[3].reduction.weight, 3),
            (backbone.stages[4].blocks[7].mlp[0].weight, 3),
            (backbone.norm6.weight, 4),
            (model.head.weight, 5)):
        lr, _ = lr_and_wd_of(optimizer, param)
        assert lr == pytest.approx(BASE_LR * DECAY**(5 - depth))


def test_frozen_parameters_are_left_out():
    model = TinyDetector(FasterNet(arch='t0', frozen_stages=1))
    optimizer = build_optimizer(model, 'layer_wise')
    in_groups = {id(p) for g in optimizer.param_groups for p in g['params']}
    assert id(model.backbone.patch_embed.proj.weight) not in in_groups
    assert id(model.backbone.stages[2].blocks[0].mlp[0].weight) in in_groups


def test_errors_name_the_fix():
    with pytest.raises(TypeError, match='FasterNet backbone'):
        build_optimizer(TinyDetector(nn.Conv2d(3, 320, 1)), 'layer_wise')
    with pytest.raises(ValueError, match='stage_wise'):
        build_optimizer(TinyDetector(FasterNet(arch='t0')), 'block_wise')


def test_mask_rcnn_config_builds_the_decayed_optimizer():
    from mmengine.optim import build_optim_wrapper

    from tests.helpers import build_from_config
    model = build_from_config('maskrcnn_fasternet_t0_coco.py')
    optim_wrapper = build_optim_wrapper(
        model,
        dict(
            type='OptimWrapper',
            optimizer=dict(type='AdamW', lr=BASE_LR, weight_decay=BASE_WD),
            constructor='FasterNetLayerDecayOptimWrapperConstructor',
            paramwise_cfg=dict(decay_rate=0.9)))
    optimizer = optim_wrapper.optimizer
    neck_lr, _ = lr_and_wd_of(optimizer, model.neck.fpn_convs[0].conv.weight)
    stem_lr, _ = lr_and_wd_of(optimizer,
                              model.backbone.patch_embed.proj.weight)
    assert neck_lr == pytest.approx(BASE_LR)
    assert stem_lr == pytest.approx(BASE_LR * 0.9**14)
