"""The deploy (inference) form equals the training form's eval outputs."""
import copy

import pytest
import torch

from mmfasternet import FasterNet
from mmfasternet.deploy import switch_to_deploy

from conftest import build_from_config, randomize_norm_stats, trained_backbone


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


def test_deploy_needs_eval_mode_and_is_idempotent():
    model = FasterNet(arch='t0')
    with pytest.raises(RuntimeError, match='eval'):
        model.switch_to_deploy()
    model.eval().switch_to_deploy()
    model.switch_to_deploy()  # a second call changes nothing
    assert model.deploy


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
    for out, ref in zip(outs, expected):
        assert out.dtype == torch.bfloat16
        scale = ref.abs().max().item()
        assert (out.float() - ref).abs().max().item() <= 0.1 * scale


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
