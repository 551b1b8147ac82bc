"""Every checkpoint layout a user holds loads into the backbone and gives
identical outputs; wrong files raise one clear error."""
import os.path as osp
import subprocess
import sys
from collections import OrderedDict

import pytest
import torch

from mmfasternet import FasterNet
from mmfasternet.models.utils import CheckpointMismatchError
from mmfasternet.models.utils.checkpoint_diagnosis import infer_arch
from tests.helpers import load_tool, randomize_norm_stats

timm = pytest.importorskip('timm')


def original_release_state_dict(model, seed=1):
    """What the original ImageNet release holds for ``model``'s arch: the
    backbone keys plus the classification head, flat, no wrapper."""
    generator = torch.Generator().manual_seed(seed)
    state = OrderedDict((k, v.clone()) for k, v in model.state_dict().items()
                        if not k.startswith('norm'))
    last = model.channels[-1]
    state['avgpool_pre_head.1.weight'] = torch.randn(
        1280, last, 1, 1, generator=generator)
    state['head.weight'] = torch.randn(1000, 1280, generator=generator)
    state['head.bias'] = torch.randn(1000, generator=generator)
    return state


def trained_backbone(arch='t0', seed=0, **kwargs):
    torch.manual_seed(seed)
    model = FasterNet(arch=arch, **kwargs)
    model.init_weights()
    return randomize_norm_stats(model, seed).eval()


def fresh_loaded(path, arch='t0', **kwargs):
    model = FasterNet(
        arch=arch, init_cfg=dict(type='Pretrained', checkpoint=str(path)),
        **kwargs)
    model.init_weights()
    return model.eval()


def assert_same_outputs(model_a, model_b, size=(64, 64)):
    x = torch.rand(1, 3, *size, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        for a, b in zip(model_a(x), model_b(x)):
            torch.testing.assert_close(a, b, rtol=0, atol=0)


@pytest.mark.parametrize('arch', ['t0', 't1', 't2', 's', 'm', 'l'])
def test_original_release_key_counts(arch):
    model = FasterNet(arch=arch, out_norm=False)
    state = original_release_state_dict(model)
    expected = dict(t0=131, t1=131, t2=131, s=171, m=251, l=251)[arch]
    assert len(state) == expected
    assert infer_arch(state)['name'] == arch


def test_original_imagenet_layout(tmp_path):
    source = trained_backbone(out_norm=False)
    path = tmp_path / 'fasternet_t0-epoch.281-val_acc1.71.9180.pth'
    torch.save(original_release_state_dict(source), path)
    loaded = fresh_loaded(path, out_norm=False)
    assert_same_outputs(source, loaded)


@pytest.fixture
def loader_log():
    """The messages logged through mmengine's current MMLogger, where the
    loader's ``print_log(..., logger='current')`` goes (MMLogger does not
    propagate to the root logger, so caplog never sees them)."""
    import logging

    from mmengine.logging import MMLogger
    messages = []

    class Collect(logging.Handler):

        def emit(self, record):
            messages.append(record.getMessage())

    logger = MMLogger.get_current_instance()
    handler = Collect(level=logging.INFO)
    logger.addHandler(handler)
    yield messages
    logger.removeHandler(handler)


def test_original_layout_with_output_norms_fresh(tmp_path, loader_log):
    source = trained_backbone(out_norm=False)
    path = tmp_path / 'original.pth'
    torch.save(original_release_state_dict(source), path)
    loaded = fresh_loaded(path)  # dense mode: norm0..6 are new
    assert torch.all(loaded.norm0.weight == 1)
    assert torch.all(loaded.norm6.running_var == 1)
    torch.testing.assert_close(loaded.stages[6].blocks[1].mlp[3].weight,
                               source.stages[6].blocks[1].mlp[3].weight)
    # One summary line: 131 tensors in the file, 3 of them the head; the
    # 4 output norms' 4 tensors each kept fresh (torch fills in the step
    # counters of BN layers).
    (summary, ) = [m for m in loader_log if m.startswith('FasterNet-')]
    assert summary == (
        f'FasterNet-t0: loaded 128 tensors from {path} (original layout); '
        'kept fresh (not in the checkpoint): norm0.weight, norm0.bias, '
        'norm0.running_mean, norm0.running_var, norm2.weight, norm2.bias, '
        '... (16 in all); ignored (not in the backbone): '
        'avgpool_pre_head.1.weight, head.weight, head.bias')


def test_summary_names_missing_and_ignored(tmp_path):
    from mmfasternet.models.utils import load_pretrained_backbone
    source = trained_backbone(out_norm=False)
    path = tmp_path / 'original.pth'
    torch.save(original_release_state_dict(source), path)
    report = load_pretrained_backbone(FasterNet(arch='t0'), str(path))
    assert len(report['loaded']) == 128
    assert sorted(report['ignored']) == [
        'avgpool_pre_head.1.weight', 'head.bias', 'head.weight'
    ]
    assert {k.split('.')[0] for k in report['missing']} == {
        'norm0', 'norm2', 'norm4', 'norm6'
    }


@pytest.mark.parametrize('arch', ['t0', 's'])
def test_timm_layout_matches_timm_features(tmp_path, arch):
    torch.manual_seed(0)
    reference = timm.create_model(f'fasternet_{arch}', pretrained=False)
    randomize_norm_stats(reference).eval()
    path = tmp_path / f'timm_fasternet_{arch}.pth'
    torch.save(reference.state_dict(), path)
    ours = fresh_loaded(path, arch=arch, out_norm=False)
    x = torch.randn(2, 3, 96, 128, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = reference.forward_intermediates(x, intermediates_only=True)
        got = ours(x)
    assert len(expected) == len(got) == 4
    for a, b in zip(got, expected):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_timm_features_only_layout_matches(tmp_path):
    """timm's ``features_only`` model names stages ``stages_{i}`` and keeps
    no BN step counters; its state dict loads too."""
    torch.manual_seed(0)
    features = timm.create_model(
        'fasternet_t1', pretrained=False, features_only=True)
    randomize_norm_stats(features).eval()
    state = features.state_dict()
    assert any(k.startswith('stages_1.downsample.') for k in state)
    path = tmp_path / 'timm_fasternet_t1_features.pth'
    torch.save(state, path)
    ours = fresh_loaded(path, arch='t1', out_norm=False)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        got, expected = ours(x), features(x)
    assert len(got) == len(expected) == 4
    for a, b in zip(got, expected):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_mmdet2_coco_layout(tmp_path):
    """The original mmdet 2.x Mask R-CNN release: meta + state_dict with
    ``backbone.`` (including the output norms), ``neck.``, heads."""
    source = trained_backbone(arch='s')
    state = OrderedDict(('backbone.' + k, v)
                        for k, v in source.state_dict().items())
    state['neck.lateral_convs.0.conv.weight'] = torch.rand(256, 128, 1, 1)
    state['rpn_head.rpn_conv.weight'] = torch.rand(256, 256, 3, 3)
    state['roi_head.bbox_head.fc_cls.weight'] = torch.rand(81, 1024)
    checkpoint = dict(
        meta=dict(mmdet_version='2.25.0', epoch=12, iter=87960,
                  CLASSES=('person', 'bicycle')),
        state_dict=state)
    path = tmp_path / 'mask_rcnn_fasternet_s_fpn_1x_coco.pth'
    torch.save(checkpoint, path)
    loaded = fresh_loaded(path, arch='s')
    assert_same_outputs(source, loaded, size=(64, 64))
    torch.testing.assert_close(loaded.norm4.running_mean,
                               source.norm4.running_mean)


def test_explicit_prefix_and_ddp_wrapper(tmp_path):
    source = trained_backbone()
    state = OrderedDict(('module.model.encoder.' + k, v)
                        for k, v in source.state_dict().items())
    path = tmp_path / 'wrapped.pth'
    torch.save(dict(model=state), path)
    model = FasterNet(
        arch='t0',
        init_cfg=dict(
            type='Pretrained', checkpoint=str(path),
            prefix='model.encoder'))
    model.init_weights()
    assert_same_outputs(source, model.eval())


def test_mmfasternet_layout_via_convert_tool(tmp_path, repo_root):
    torch.manual_seed(0)
    reference = timm.create_model('fasternet_t0', pretrained=False)
    randomize_norm_stats(reference).eval()
    timm_path = tmp_path / 'timm.pth'
    torch.save(reference.state_dict(), timm_path)
    out_path = tmp_path / 'converted' / 'fasternet_t0_mmfasternet.pth'
    result = subprocess.run(
        [sys.executable, osp.join(repo_root, 'tools', 'model_converters',
                                  'convert_checkpoint.py'),
         str(timm_path), str(out_path)],
        capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert 'FasterNet-T0 from the timm layout' in result.stdout
    converted = torch.load(out_path, map_location='cpu')
    assert converted['meta']['arch'] == 't0'
    assert converted['meta']['source_layout'] == 'timm'
    state = converted['state_dict']
    assert 'stages.1.reduction.weight' in state
    assert 'avgpool_pre_head.1.weight' in state and 'head.bias' in state
    assert len(state) == 131
    from_timm = fresh_loaded(timm_path, out_norm=False)
    from_converted = fresh_loaded(out_path, out_norm=False)
    assert_same_outputs(from_timm, from_converted)
    # A second run refuses to overwrite what the user has.
    again = subprocess.run(
        [sys.executable, osp.join(repo_root, 'tools', 'model_converters',
                                  'convert_checkpoint.py'),
         str(timm_path), str(out_path)],
        capture_output=True, text=True)
    assert again.returncode != 0 and '--overwrite' in again.stderr


def test_convert_tool_keeps_coco_output_norms(tmp_path):
    convert = load_tool('model_converters/convert_checkpoint').convert
    source = trained_backbone(arch='t0')
    state = OrderedDict(('backbone.' + k, v)
                        for k, v in source.state_dict().items())
    state['neck.fpn_convs.0.conv.weight'] = torch.rand(8, 8, 3, 3)
    src = tmp_path / 'coco.pth'
    torch.save(dict(state_dict=state, meta=dict()), src)
    meta, count = convert(str(src), str(tmp_path / 'out.pth'))
    assert meta['source_layout'] == 'original' and count == 128 + 4 * 5
    assert_same_outputs(source, fresh_loaded(tmp_path / 'out.pth'))


def test_convert_tool_no_head(tmp_path):
    """--no-head writes the backbone alone; without it the ImageNet head
    of the original release is kept, tensor for tensor."""
    source = trained_backbone(out_norm=False)
    state = original_release_state_dict(source)
    src = tmp_path / 'fasternet_t0.pth'
    torch.save(state, src)
    main = load_tool('model_converters/convert_checkpoint').main
    main([str(src), str(tmp_path / 'with_head.pth')])
    main([str(src), str(tmp_path / 'no_head.pth'), '--no-head'])
    with_head = torch.load(tmp_path / 'with_head.pth')['state_dict']
    no_head = torch.load(tmp_path / 'no_head.pth')['state_dict']
    head_keys = {'avgpool_pre_head.1.weight', 'head.weight', 'head.bias'}
    assert set(with_head) == set(state)
    assert set(no_head) == set(state) - head_keys
    for key, value in state.items():
        assert torch.equal(with_head[key], value), key
        if key not in head_keys:
            assert torch.equal(no_head[key], value), key


def test_convert_tool_overwrites_only_when_asked(tmp_path):
    source = trained_backbone(out_norm=False)
    src = tmp_path / 'fasternet_t0.pth'
    torch.save(original_release_state_dict(source), src)
    dst = tmp_path / 'out.pth'
    dst.write_bytes(b'the user\'s file')
    main = load_tool('model_converters/convert_checkpoint').main
    with pytest.raises(FileExistsError, match='--overwrite'):
        main([str(src), str(dst)])
    assert dst.read_bytes() == b'the user\'s file'
    main([str(src), str(dst), '--overwrite'])
    assert_same_outputs(source, fresh_loaded(dst, out_norm=False))


def test_other_variant_raises_naming_both(tmp_path):
    source = trained_backbone(arch='t1', out_norm=False)
    path = tmp_path / 't1.pth'
    torch.save(original_release_state_dict(source), path)
    with pytest.raises(CheckpointMismatchError) as error:
        fresh_loaded(path, arch='t0')
    message = str(error.value)
    assert "arch 't0'" in message and 'FasterNet-T1' in message
    assert 'shape' in message


def test_same_width_other_depth_raises(tmp_path):
    source = trained_backbone(arch='m', out_norm=False)
    path = tmp_path / 'm.pth'
    state = original_release_state_dict(source)
    # Same widths, one block fewer in stage 4: a partial backbone is refused.
    for key in list(state):
        if key.startswith('stages.4.blocks.17.'):
            del state[key]
    torch.save(state, path)
    with pytest.raises(CheckpointMismatchError, match='absent'):
        fresh_loaded(path, arch='m')


def test_missing_file_raises(tmp_path):
    with pytest.raises(FileNotFoundError, match='init_cfg=None'):
        fresh_loaded(tmp_path / 'nowhere.pth')


def test_non_checkpoint_file_raises(tmp_path):
    path = tmp_path / 'notes.pth'
    path.write_text('these are not weights\n')
    with pytest.raises(CheckpointMismatchError, match='PyTorch checkpoint'):
        fresh_loaded(path)


def test_foreign_model_checkpoint_raises(tmp_path):
    import torchvision
    path = tmp_path / 'resnet18.pth'
    torch.save(torchvision.models.resnet18().state_dict(), path)
    with pytest.raises(CheckpointMismatchError, match='none of its'):
        fresh_loaded(path)


def test_failed_load_leaves_weights_untouched(tmp_path):
    source = trained_backbone(arch='t1', out_norm=False)
    path = tmp_path / 't1.pth'
    torch.save(original_release_state_dict(source), path)
    model = FasterNet(
        arch='t0', init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(CheckpointMismatchError):
        model.init_weights()
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key


@pytest.mark.parametrize('option,expected', [
    (dict(in_channels=4), "in_channels=4, but the checkpoint's stem takes 3 "
                          'input channels: build with in_channels=3'),
    (dict(n_div=2), "n_div=2, but the checkpoint's PConv convolves 1/4 of "
                    'the channels: build with n_div=4'),
    (dict(mlp_ratio=3.), "mlp_ratio=3, but the checkpoint's MLP ratio is 2"),
    (dict(layer_scale_init_value=1e-6),
     'layer_scale_init_value=1e-06, but the checkpoint has no layer scales: '
     'build with layer_scale_init_value=0'),
    (dict(norm_cfg=dict(type='GN', num_groups=4)),
     "norm_cfg type 'GN', but the checkpoint's norms are BatchNorm layers"),
], ids=['in_channels', 'n_div', 'mlp_ratio', 'layer_scale', 'norm_cfg'])
def test_mismatch_from_an_option_names_the_option(tmp_path, option, expected):
    """A checkpoint of the same variant that does not fit because of an
    option the user set: the error names the option, not another arch."""
    path = tmp_path / 't0.pth'
    torch.save(original_release_state_dict(
        trained_backbone(arch='t0', out_norm=False)), path)
    with pytest.raises(CheckpointMismatchError) as error:
        fresh_loaded(path, arch='t0', **option)
    message = str(error.value)
    assert expected in message
    assert 'change the options above rather than the arch' in message


def test_options_of_the_checkpoint_are_read_back(tmp_path):
    from mmfasternet.models.utils.checkpoint_diagnosis import (
        checkpoint_settings,
    )
    model = FasterNet(arch='t1', in_channels=1, n_div=2, mlp_ratio=3.,
                      layer_scale_init_value=0.1, out_norm=False)
    assert checkpoint_settings(model.state_dict()) == dict(
        embed_dims=64, depths=(1, 2, 8, 2), in_channels=1, n_div=2,
        mlp_ratio=3., layer_scale=True, norm_has_running_stats=True)


def test_deeper_checkpoint_is_not_silently_cut(tmp_path):
    """Blocks the model does not have were dropped without a word: a
    custom arch with one block fewer than the checkpoint is refused."""
    path = tmp_path / 't0.pth'
    torch.save(trained_backbone(arch='t0', out_norm=False).state_dict(), path)
    with pytest.raises(CheckpointMismatchError,
                       match=r'8 backbone tensors have no place in the '
                             r'model: stages\.4\.blocks\.7\.'):
        fresh_loaded(path, arch=dict(embed_dims=40, depths=(1, 2, 7, 2),
                                     act_cfg=dict(type='GELU')))


def test_whole_model_state_dicts_are_checked_by_the_backbone(tmp_path):
    """nn.Module.load_state_dict and mmengine's load_checkpoint reach the
    backbone's own check: nothing for it, or another variant, is refused
    before anything is loaded; timm names are renamed on the way."""
    parent = torch.nn.Module()
    parent.backbone = FasterNet(arch='t0', out_norm=False)
    before = {k: v.clone() for k, v in parent.state_dict().items()}
    with pytest.raises(CheckpointMismatchError,
                       match=r"no tensor for its FasterNet backbone \(none "
                             r"under 'backbone.'\)"):
        parent.load_state_dict(
            original_release_state_dict(trained_backbone('t0')),
            strict=False)
    t1 = {f'backbone.{k}': v for k, v in FasterNet(
        arch='t1', out_norm=False).state_dict().items()}
    with pytest.raises(CheckpointMismatchError, match='FasterNet-T1'):
        parent.load_state_dict(t1)
    assert all(torch.equal(v, before[k])
               for k, v in parent.state_dict().items())
    timm_model = timm.create_model('fasternet_t0', pretrained=False)
    parent.load_state_dict({f'backbone.{k}': v for k, v in
                            timm_model.state_dict().items()
                            if not k.startswith(('conv_head', 'classifier'))})
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        ours = parent.backbone.eval()(x)[-1]
        theirs = timm_model.eval().forward_features(x)
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-5)


def test_inspect_checkpoint_names_layout_variant_and_kind(tmp_path):
    from mmfasternet.models.utils import inspect_checkpoint
    model = trained_backbone(arch='t1', out_norm=False)
    original = original_release_state_dict(model)
    info = inspect_checkpoint(original)
    assert (info.layout, info.arch['name']) == ('original', 't1')
    assert info.description == 'a FasterNet-T1 backbone (original layout)'
    assert set(info.state_dict) == set(original)

    timm_model = timm.create_model('fasternet_t2', pretrained=False)
    info = inspect_checkpoint(dict(state_dict=timm_model.state_dict()))
    assert (info.layout, info.arch['name']) == ('timm', 't2')
    assert 'head.weight' in info.state_dict  # timm's classifier, renamed

    whole = {f'backbone.{k}': v for k, v in model.state_dict().items()}
    whole.update({'neck.conv.weight': torch.zeros(1),
                  'roi_head.fc.weight': torch.zeros(1)})
    info = inspect_checkpoint(
        dict(state_dict=whole, meta=dict(dataset_meta=dict(
            classes=('a', 'b')))))
    assert info.arch['name'] == 't1' and info.layout == 'original'
    assert info.description == ('a detector (backbone, neck, roi_head) with '
                                'a FasterNet-T1 backbone, trained on 2 '
                                'classes')
    classifier = dict(whole)
    classifier.update({'head.fc.weight': original['head.weight'],
                       'head.fc.bias': original['head.bias'],
                       'head.avgpool_pre_head.1.weight':
                       original['avgpool_pre_head.1.weight']})
    info = inspect_checkpoint(dict(state_dict=classifier))
    assert info.layout == 'classifier'
    assert torch.equal(info.state_dict['head.weight'], original['head.weight'])
