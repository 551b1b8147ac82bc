"""The deploy (inference) form equals the training form's eval outputs."""
import copy
import os.path as osp

import pytest
import torch

from mmfasternet import FasterNet
from mmfasternet.deploy import switch_to_deploy
from tests.helpers import (
    REPO_ROOT,
    build_from_config,
    randomize_norm_stats,
    trained_backbone,
)


def assert_equal_outputs(got, expected, tolerance=1e-5):
    """Within ``tolerance`` of each output's scale: fp32 GEMMs and convs sum
    in different orders, so single elements near zero differ by a few ulps
    of the map's magnitude."""
    assert len(got) == len(expected)
    for a, b in zip(got, expected):
        scale = max(1.0, b.abs().max().item())
        assert (a - b).abs().max().item() <= tolerance * scale

@pytest.mark.parametrize('arch', ['t0', 't1', 's'])
@pytest.mark.parametrize('channels_last', [False, True])
def test_backbone_deploy_matches_eval(arch, channels_last):
    model = trained_backbone(arch)
    deployed = switch_to_deploy(copy.deepcopy(model))
    x = torch.randn(2, 3, 96, 128)
    if channels_last:
        x = x.to(memory_format=torch.channels_last)
        model = model.to(memory_format=torch.channels_last)
        deployed = deployed.to(memory_format=torch.channels_last)
    with torch.no_grad():
        expected, got = model(x), deployed(x)
    assert_equal_outputs(got, expected)
    for out in got:
        assert out.is_contiguous(
            memory_format=torch.channels_last) == channels_last


def test_deploy_is_exact_in_float64():
    model = trained_backbone('s', layer_scale_init_value=0.3).double()
    deployed = switch_to_deploy(copy.deepcopy(model))
    x = torch.randn(1, 3, 64, 96, dtype=torch.float64)
    with torch.no_grad():
        for a, b in zip(deployed(x), model(x)):
            torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


def test_deploy_folds_every_bn_and_layer_scale():
    model = trained_backbone('t0', layer_scale_init_value=0.5, out_norm=False)
    deployed = switch_to_deploy(copy.deepcopy(model))
    names = [type(m).__name__ for m in deployed.modules()]
    assert 'BatchNorm2d' not in names
    block = deployed.stages[4].blocks[0]
    assert block.deploy and not hasattr(block, 'mlp')
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert_equal_outputs(deployed(x), model(x))


def test_switch_in_training_mode_folds_the_running_statistics():
    """mmpretrain's convention (mmdeploy switches before eval()): callable
    in training mode, which it leaves as it is; folding uses the running
    statistics, so the deployed backbone computes the eval outputs of the
    trained one even in training mode (no output norm follows the mode
    here). A second call changes nothing."""
    model = trained_backbone('t0', out_norm=False)
    reference = copy.deepcopy(model)
    model.train()
    model.switch_to_deploy()
    assert model.deploy and model.training
    assert not any(isinstance(m, torch.nn.BatchNorm2d)
                   for m in model.modules())
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        expected = reference(x)
        assert_equal_outputs(model(x), expected)
        state = {k: v.clone() for k, v in model.state_dict().items()}
        model.switch_to_deploy()
        assert all(torch.equal(v, state[k])
                   for k, v in model.state_dict().items())
        assert_equal_outputs(model.eval()(x), expected)


def test_switch_to_deploy_copy_leaves_the_model_untouched():
    model = trained_backbone('t0', layer_scale_init_value=0.5).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    deployed = switch_to_deploy(model, copy=True)
    assert deployed is not model and deployed.deploy and not model.deploy
    assert model.training and not deployed.training
    assert model.stages[0].blocks[0].mlp is not None
    after = model.state_dict()
    assert after.keys() == before.keys()
    assert all(torch.equal(after[k], v) for k, v in before.items())
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert_equal_outputs(deployed(x), model.eval()(x))
    # the default converts the model itself
    assert switch_to_deploy(model) is model and model.deploy


def test_deploy_leaves_input_untouched():
    deployed = switch_to_deploy(trained_backbone('t0'))
    x = torch.randn(1, 3, 64, 64)
    before = x.clone()
    with torch.no_grad():
        deployed(x)
    assert torch.equal(x, before)


def test_switch_to_deploy_rejects_models_without_backbone():
    with pytest.raises(ValueError, match='nothing to convert'):
        switch_to_deploy(torch.nn.Conv2d(3, 3, 1))


def test_mask_rcnn_deploy_matches_eval():
    from mmdet.structures import DetDataSample

    model = build_from_config('maskrcnn_fasternet_t0_coco.py')
    randomize_norm_stats(model.backbone)
    model.eval()
    deployed = switch_to_deploy(copy.deepcopy(model))
    size = (96, 128)
    sample = DetDataSample()
    sample.set_metainfo(
        dict(img_shape=size, ori_shape=size, pad_shape=size,
             batch_input_shape=size, scale_factor=(1., 1.)))
    x = torch.randn(1, 3, *size)
    with torch.no_grad():
        assert_equal_outputs(deployed.extract_feat(x), model.extract_feat(x))
        got = deployed.predict(x, [sample])[0].pred_instances
        expected = model.predict(x, [copy.deepcopy(sample)])[0].pred_instances
    assert len(got) == len(expected) > 0
    torch.testing.assert_close(got.bboxes, expected.bboxes, rtol=1e-4,
                               atol=1e-3)
    torch.testing.assert_close(got.scores, expected.scores, rtol=1e-4,
                               atol=1e-5)


def test_deploy_compiles_without_graph_breaks():
    deployed = switch_to_deploy(trained_backbone('t0'))
    x = torch.randn(1, 3, 64, 64)
    compiled = torch.compile(deployed, fullgraph=True, backend='aot_eager')
    with torch.no_grad():
        assert_equal_outputs(compiled(x), deployed(x))


@pytest.mark.parametrize('channels_last', [False, True])
def test_deploy_runs_under_autocast(channels_last):
    model = trained_backbone('t0')
    deployed = switch_to_deploy(copy.deepcopy(model))
    x = torch.randn(1, 3, 64, 64)
    if channels_last:
        x = x.to(memory_format=torch.channels_last)
        deployed = deployed.to(memory_format=torch.channels_last)
    with torch.no_grad(), torch.autocast('cpu', dtype=torch.bfloat16):
        outs = deployed(x)
    with torch.no_grad():
        expected = model(x)
    # bf16 keeps 8 significant bits: measured 0.0055, 0.0061, 0.014 and
    # 0.0075 of each map's scale (both memory formats). 0.03 leaves twice
    # that; folded biases off by 10% already give 0.07-0.10.
    for out, ref in zip(outs, expected):
        assert out.dtype == torch.bfloat16
        scale = ref.abs().max().item()
        assert (out.float() - ref).abs().max().item() <= 0.03 * scale


def test_upernet_deploy_matches_eval():
    model = build_from_config('upernet_fasternet_t0_ade20k.py')
    randomize_norm_stats(model.backbone)
    model.eval()
    deployed = switch_to_deploy(copy.deepcopy(model))
    x = torch.randn(1, 3, 96, 128)
    with torch.no_grad():
        assert_equal_outputs(deployed.extract_feat(x), model.extract_feat(x))
        assert_equal_outputs([deployed(x, mode='tensor')],
                             [model(x, mode='tensor')])


def calls_in(function, *args):
    """Names of the torch functions ``function(*args)`` calls."""
    names = []

    class Record(torch.overrides.TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            names.append(getattr(func, '__name__', str(func)))
            return func(*args, **(kwargs or {}))

    with torch.no_grad(), Record():
        function(*args)
    return names


@pytest.mark.parametrize('channels_last', [False, True])
def test_deploy_forms_agree_and_the_config_chooses(channels_last):
    """'gemm' computes the 1x1 convs as matrix products over channel views,
    'conv' as convs over PConv's concatenated output; 'auto' takes 'gemm'
    in eager mode (and
    'conv' under ONNX export and torch.compile, tested there). The option
    comes from the config."""
    from mmengine.registry import MODELS
    model = trained_backbone('t0')
    x = torch.randn(2, 3, 64, 80)
    if channels_last:
        x = x.to(memory_format=torch.channels_last)
    outputs, calls = {}, {}
    for form in ('auto', 'gemm', 'conv'):
        deployed = MODELS.build(dict(type='FasterNet', arch='t0',
                                     deploy=True, deploy_fw_type=form))
        deployed.load_state_dict(
            switch_to_deploy(model, copy=True).state_dict())
        deployed.eval()
        if channels_last:
            deployed = deployed.to(memory_format=torch.channels_last)
        with torch.no_grad():
            outputs[form] = deployed(x)
        calls[form] = calls_in(deployed, x)
    gemm = 'addmm' if channels_last else 'baddbmm'
    assert gemm in calls['gemm'] and gemm in calls['auto']
    assert gemm not in calls['conv']
    # 1x1 convs: two per block in the 'conv' form, none in 'gemm'; one
    # concatenation per block in 'conv' only
    blocks = 13
    assert calls['conv'].count('conv2d') == calls['gemm'].count(
        'conv2d') + 2 * blocks
    assert calls['conv'].count('cat') == blocks
    assert 'cat' not in calls['gemm']
    assert_equal_outputs(outputs['conv'], outputs['gemm'])
    for a, b in zip(outputs['auto'], outputs['gemm']):
        assert torch.equal(a, b)
    with pytest.raises(ValueError, match='deploy_fw_type'):
        FasterNet(arch='t0', deploy_fw_type='gemv')


def test_deployed_checkpoint_rebuilds_from_a_config(tmp_path):
    """A state dict saved after switch_to_deploy loads into the backbone
    built with deploy=True from a config, through init_cfg and through a
    whole detector's load_checkpoint, and gives identical outputs."""
    from mmdet.registry import MODELS
    from mmengine.config import Config
    from mmengine.model import revert_sync_batchnorm
    from mmengine.registry import init_default_scope
    from mmengine.runner import load_checkpoint

    config = 'maskrcnn_fasternet_t0_coco.py'
    detector = build_from_config(config)
    randomize_norm_stats(detector.backbone)
    deployed = switch_to_deploy(detector, copy=True)
    torch.save(dict(state_dict=deployed.state_dict()),
               tmp_path / 'deployed.pth')
    torch.save(deployed.backbone.state_dict(), tmp_path / 'backbone.pth')

    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', config))
    cfg.model.backbone.deploy = True
    init_default_scope('mmdet')
    backbone_cfg = cfg.model.backbone.copy()
    backbone_cfg.init_cfg.checkpoint = str(tmp_path / 'backbone.pth')
    backbone = MODELS.build(backbone_cfg)
    assert backbone.deploy and not hasattr(backbone.stages[0].blocks[0],
                                           'mlp')
    backbone.init_weights()
    cfg.model.backbone.init_cfg = None
    rebuilt = revert_sync_batchnorm(MODELS.build(cfg.model))
    load_checkpoint(rebuilt, str(tmp_path / 'deployed.pth'), strict=True,
                    logger='silent')
    rebuilt.eval(), backbone.eval()
    x = torch.randn(1, 3, 96, 128)
    with torch.no_grad():
        expected = deployed.extract_feat(x)
        for got in (rebuilt.extract_feat(x),
                    rebuilt.neck(backbone(x))):
            for a, b in zip(got, expected):
                torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_deploy_option_and_checkpoint_form_must_match(tmp_path):
    from mmfasternet.models.utils import CheckpointMismatchError
    model = trained_backbone('t0')
    torch.save(model.state_dict(), tmp_path / 'train_form.pth')
    torch.save(switch_to_deploy(model, copy=True).state_dict(),
               tmp_path / 'deploy_form.pth')
    for deploy, name, expected in (
            (True, 'train_form.pth', 'deploy=True, but the checkpoint holds '
             'the training form: build with deploy=False and call '
             'switch_to_deploy()'),
            (False, 'deploy_form.pth', 'deploy=False, but the checkpoint '
             'holds the inference form (saved after switch_to_deploy()): '
             'build with deploy=True')):
        backbone = FasterNet(arch='t0', deploy=deploy, init_cfg=dict(
            type='Pretrained', checkpoint=str(tmp_path / name)))
        with pytest.raises(CheckpointMismatchError) as error:
            backbone.init_weights()
        assert expected in str(error.value)
    with pytest.raises(ValueError, match='needs BatchNorm'):
        FasterNet(arch='t0', deploy=True,
                  norm_cfg=dict(type='GN', num_groups=4))
