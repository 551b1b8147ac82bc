import pytest
import torch
from mmengine.analysis import get_model_complexity_info
from torch.nn.modules.batchnorm import _BatchNorm

from mmfasternet import FasterNet
from mmfasternet.model_zoo import load_model_zoo
from mmfasternet.models.backbones.fasternet import FasterNetBlock
from tests.helpers import randomize_norm_stats

ARCHS = ('t0', 't1', 't2', 's', 'm', 'l')
EMBED_DIMS = dict(t0=40, t1=64, t2=96, s=128, m=144, l=192)
# The ImageNet classifiers of the model zoo (exact parameters, FLOPs).
CLASSIFIERS = {
    record.arch: record.metadata
    for record in load_model_zoo()
    if 'Image Classification' in (record.results or {})
}


def backbone_params(arch):
    """The classifier's parameters minus its head's: the 1x1 conv
    8E -> 1280 without bias and the linear 1280 -> 1000."""
    head = 8 * EMBED_DIMS[arch] * 1280 + 1280 * 1000 + 1000
    return CLASSIFIERS[arch]['Parameters'] - head


def count_params(module):
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize('arch', ARCHS)
def test_backbone_parameter_count_is_exact(arch):
    model = FasterNet(arch=arch, out_norm=False)
    assert count_params(model) == backbone_params(arch)
    # The output norms add 2 parameters per channel of each returned stage.
    with_norms = FasterNet(arch=arch)
    extra = sum(2 * EMBED_DIMS[arch] * 2**i for i in range(4))
    assert count_params(with_norms) == backbone_params(arch) + extra


@pytest.mark.parametrize('arch', ARCHS)
def test_backbone_flops_match_published(arch):
    model = FasterNet(arch=arch, out_indices=(3, ), out_norm=False).eval()
    info = get_model_complexity_info(
        model, input_shape=(3, 224, 224), show_table=False, show_arch=False)
    gflops = info['flops'] / 1e9
    # The classifier's figures include the small head (<0.003 G); the
    # metafile's are checked against the paper's in test_model_zoo.py.
    assert gflops == pytest.approx(CLASSIFIERS[arch]['FLOPs'] / 1e9,
                                   rel=0.02)


@pytest.mark.parametrize('arch', ARCHS)
def test_output_shapes_every_variant(arch):
    model = FasterNet(arch=arch).eval()
    with torch.no_grad():
        outs = model(torch.rand(1, 3, 64, 96))
    assert isinstance(outs, tuple)
    assert [tuple(o.shape) for o in outs] == [
        (1, EMBED_DIMS[arch] * 2**i, 16 // 2**i, 24 // 2**i)
        for i in range(4)
    ]


@pytest.mark.parametrize('size,expected', [
    ((511, 511), [(127, 127), (63, 63), (31, 31), (15, 15)]),
    ((112, 137), [(28, 34), (14, 17), (7, 8), (3, 4)]),
    ((224, 224), [(56, 56), (28, 28), (14, 14), (7, 7)]),
])
def test_output_shapes_odd_sizes(size, expected):
    model = FasterNet(arch='t0').eval()
    with torch.no_grad():
        outs = model(torch.rand(2, 3, *size))
    assert [tuple(o.shape[2:]) for o in outs] == expected
    assert [o.shape[1] for o in outs] == [40, 80, 160, 320]


@pytest.mark.parametrize('out_indices,expected', [
    ((0, 1, 2, 3), (0, 1, 2, 3)),
    ((3, ), (3, )),
    (3, (3, )),
    ((1, 2), (1, 2)),
    ((-1, ), (3, )),
    ((-4, -2), (0, 2)),
    ((2, 0), (0, 2)),
])
def test_out_indices(out_indices, expected):
    model = FasterNet(arch='t0', out_indices=out_indices).eval()
    assert model.out_indices == expected
    with torch.no_grad():
        outs = model(torch.rand(1, 3, 64, 64))
    assert [o.shape[1] for o in outs] == [40 * 2**i for i in expected]
    norm_names = {n for n, _ in model.named_children() if n.startswith('norm')}
    assert norm_names == {f'norm{2 * i}' for i in expected}


def test_out_norm_is_applied_only_when_enabled():
    torch.manual_seed(0)
    with_norm = randomize_norm_stats(FasterNet(arch='t0')).eval()
    without = FasterNet(arch='t0', out_norm=False).eval()
    without.load_state_dict(with_norm.state_dict(), strict=False)
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        normed, raw = with_norm(x), without(x)
        for i in range(4):
            expected = getattr(with_norm, f'norm{2 * i}')(raw[i])
            torch.testing.assert_close(normed[i], expected)
    assert not torch.allclose(normed[0], raw[0])


# Each message names what the user passed (the bad key, value or arch), not
# only the words of its template.
@pytest.mark.parametrize('kwargs,error,fragments', [
    (dict(arch='xl'), ValueError, ["unknown arch 'xl'",
                                   "['l', 'm', 's', 't0', 't1', 't2']"]),
    (dict(arch='T9'), ValueError, ["unknown arch 'T9'"]),
    (dict(arch=dict(embed_dims=32)), ValueError,
     ["missing ['depths'], unknown []"]),
    (dict(arch=dict(depths=(1, 1, 1, 1))), ValueError,
     ["missing ['embed_dims'], unknown []"]),
    (dict(arch=dict(embed_dims=32, depths=(1, 1, 1))), ValueError,
     ['must have 4 entries, got [1, 1, 1]']),
    (dict(arch=dict(embed_dims=32, depths=(2, 2, 6, 2, 2))), ValueError,
     ['must have 4 entries, got [2, 2, 6, 2, 2]']),
    (dict(arch=dict(embed_dims=32, depths=(1, 1, 1, 1), widths=3)),
     ValueError, ["missing [], unknown ['widths']"]),
    (dict(arch=dict(embed_dim=32, depths=(1, 1, 1, 1))), ValueError,
     ["missing ['embed_dims'], unknown ['embed_dim']"]),
    (dict(arch=3), TypeError, ['str or a dict, got int']),
    (dict(arch=['t0']), TypeError, ['str or a dict, got list']),
    (dict(out_indices=(4, )), ValueError,
     ['out_indices must be in [-4, 3], got 4']),
    (dict(out_indices=(-5, )), ValueError,
     ['out_indices must be in [-4, 3], got -5']),
    (dict(out_indices=(1, -3)), ValueError,
     ['out_indices (1, -3) name a stage twice']),
    (dict(frozen_stages=5), ValueError,
     ['frozen_stages must be in [-1, 4], got 5']),
    (dict(frozen_stages=-2), ValueError, ['got -2']),
    (dict(pconv_fw_type='slicing'), ValueError,
     ["got 'slicing'", 'residual']),
    (dict(pconv_fw_type='concat'), ValueError,
     ["('split_cat', 'split_mlp'), got 'concat'"]),
    (dict(pretrained='a.pth', init_cfg=dict(type='Pretrained',
                                            checkpoint='a.pth')),
     ValueError, ['not both']),
    (dict(out_indice=(0, )), TypeError, ["'out_indice'"]),
])
def test_bad_arguments_raise(kwargs, error, fragments):
    with pytest.raises(error) as raised:
        FasterNet(**kwargs)
    for fragment in fragments:
        assert fragment in str(raised.value)


def test_custom_arch_dict():
    model = FasterNet(
        arch=dict(embed_dims=16, depths=(1, 1, 2, 1),
                  act_cfg=dict(type='GELU'))).eval()
    assert model.channels == (16, 32, 64, 128)
    assert isinstance(model.stages[0].blocks[0].mlp[2], torch.nn.GELU)
    outs = model(torch.rand(1, 3, 32, 32))
    assert [o.shape[1] for o in outs] == [16, 32, 64, 128]


@pytest.mark.parametrize('arch,act', [('t0', torch.nn.GELU),
                                      ('t1', torch.nn.GELU),
                                      ('t2', torch.nn.ReLU),
                                      ('s', torch.nn.ReLU)])
def test_arch_activation(arch, act):
    model = FasterNet(arch=arch)
    assert isinstance(model.stages[0].blocks[0].mlp[2], act)


def test_module_names_follow_the_original():
    keys = set(FasterNet(arch='t0').state_dict())
    for key in ('patch_embed.proj.weight', 'patch_embed.norm.running_var',
                'stages.0.blocks.0.spatial_mixing.partial_conv3.weight',
                'stages.0.blocks.0.mlp.0.weight',
                'stages.0.blocks.0.mlp.1.num_batches_tracked',
                'stages.0.blocks.0.mlp.3.weight', 'stages.1.reduction.weight',
                'stages.5.norm.bias', 'stages.6.blocks.1.mlp.3.weight',
                'norm0.weight', 'norm6.running_mean'):
        assert key in keys, key
    no_norms = FasterNet(arch='t0', out_norm=False).state_dict()
    assert len(no_norms) == 131 - 3  # the original minus its 3 head tensors


def test_drop_path_rates_rise_linearly_over_all_blocks():
    model = FasterNet(arch='t0', drop_path_rate=0.13)
    blocks = [b for i in (0, 2, 4, 6) for b in model.stages[i].blocks]
    rates = [getattr(b.drop_path, 'drop_prob', 0.0) for b in blocks]
    expected = torch.linspace(0, 0.13, 13).tolist()
    assert rates == pytest.approx(expected)


@pytest.mark.parametrize('layer_scale', [0.0, 0.5])
@pytest.mark.parametrize('channels_last', [False, True])
def test_pconv_forms_agree(layer_scale, channels_last):
    torch.manual_seed(0)
    reference = FasterNet(
        arch='t0', layer_scale_init_value=layer_scale)
    reference.init_weights()
    randomize_norm_stats(reference)
    split_mlp = FasterNet(
        arch='t0', layer_scale_init_value=layer_scale,
        pconv_fw_type='split_mlp')
    split_mlp.load_state_dict(reference.state_dict())
    x = torch.randn(2, 3, 64, 80)
    if channels_last:
        x = x.to(memory_format=torch.channels_last)
        reference = reference.to(memory_format=torch.channels_last)
        split_mlp = split_mlp.to(memory_format=torch.channels_last)
    reference.eval(), split_mlp.eval()
    with torch.no_grad():
        for a, b in zip(reference(x), split_mlp(x)):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)

    # Trainable too: the gradients agree.
    reference.train(), split_mlp.train()
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    sum(o.square().mean() for o in reference(xa)).backward()
    sum(o.square().mean() for o in split_mlp(xb)).backward()
    torch.testing.assert_close(xa.grad, xb.grad, rtol=1e-4, atol=1e-6)
    for (name, pa), pb in zip(reference.named_parameters(),
                              split_mlp.parameters()):
        torch.testing.assert_close(pa.grad, pb.grad, rtol=1e-4, atol=1e-6,
                                   msg=name)


@pytest.mark.parametrize('form', ['split_cat', 'split_mlp'])
def test_block_leaves_its_input_untouched(form):
    block = FasterNetBlock(
        channels=32, n_div=4, mlp_ratio=2., drop_path_rate=0.,
        layer_scale_init_value=0., norm_cfg=dict(type='BN'),
        act_cfg=dict(type='ReLU', inplace=True), pconv_fw_type=form).eval()
    x = torch.randn(2, 32, 9, 11)
    before = x.clone()
    with torch.no_grad():
        out = block(x)
    torch.testing.assert_close(x, before, rtol=0, atol=0)
    with torch.no_grad():
        mixed = torch.cat((block.spatial_mixing.partial_conv3(before[:, :8]),
                           before[:, 8:]), 1)
        expected = before + block.mlp(mixed)
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)


# T0 (E=40, depths 1, 2, 8, 2; REFERENCE.md), frozen_stages=k: the module
# name prefixes frozen and their parameter count. Stem: conv 3->40 4x4 (1920)
# + BN (80). Block of width C: PConv (C/4)^2*9, 1x1 convs 2*2C^2, BN 4C:
# 7460 / 29520 / 117440 / 468480 for C = 40 / 80 / 160 / 320. Merging C->2C:
# conv 8C^2 + BN 4C: 12960 / 51520 / 205440. Output norm: 2C.
FROZEN_T0 = {
    -1: ((), 0),
    0: (('patch_embed.', ), 2000),
    1: (('patch_embed.', 'stages.0.', 'norm0.'), 2000 + 7460 + 80),
    2: (('patch_embed.', 'stages.0.', 'norm0.', 'stages.1.', 'stages.2.',
         'norm2.'), 9540 + 12960 + 2 * 29520 + 160),
    3: (('patch_embed.', 'stages.0.', 'norm0.', 'stages.1.', 'stages.2.',
         'norm2.', 'stages.3.', 'stages.4.', 'norm4.'),
        81700 + 51520 + 8 * 117440 + 320),
    4: (('patch_embed.', 'stages.0.', 'norm0.', 'stages.1.', 'stages.2.',
         'norm2.', 'stages.3.', 'stages.4.', 'norm4.', 'stages.5.',
         'stages.6.', 'norm6.'), 1073060 + 205440 + 2 * 468480 + 640),
}


@pytest.mark.parametrize('frozen_stages', sorted(FROZEN_T0))
def test_frozen_stages(frozen_stages):
    prefixes, count = FROZEN_T0[frozen_stages]
    model = FasterNet(arch='t0', frozen_stages=frozen_stages)
    model.train()

    def is_frozen(name):
        return (name + '.').startswith(prefixes) if prefixes else False

    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    assert frozen == {n for n, _ in model.named_parameters() if is_frozen(n)}
    assert sum(p.numel() for p in model.parameters()
               if not p.requires_grad) == count
    for name, module in model.named_modules():
        assert module.training != is_frozen(name), name
    # Training leaves the frozen running statistics alone and updates the
    # others.
    stats = {n: b.clone() for n, b in model.named_buffers()
             if n.endswith('running_mean')}
    model(torch.rand(2, 3, 64, 64))
    for name, before in stats.items():
        after = dict(model.named_buffers())[name]
        assert torch.equal(after, before) == is_frozen(name), name
    if frozen_stages == 4:
        assert count == 2214900 + 1200  # every backbone parameter
        assert not any(p.requires_grad for p in model.parameters())


def test_no_frozen_stages_by_default():
    model = FasterNet(arch='t0').train()
    assert all(p.requires_grad for p in model.parameters())
    assert all(m.training for m in model.modules())


def test_norm_eval():
    model = FasterNet(arch='t0', norm_eval=True)
    model.train()
    bns = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    assert bns and all(not bn.training for bn in bns)
    assert all(p.requires_grad for p in model.parameters())
    stats = [bn.running_var.clone() for bn in bns]
    model(torch.rand(2, 3, 64, 64))
    for bn, before in zip(bns, stats):
        torch.testing.assert_close(bn.running_var, before)
    model.train(False)
    assert not any(m.training for m in model.modules())


def counting_checkpoint(monkeypatch):
    """Count the calls of ``torch.utils.checkpoint.checkpoint`` (which the
    backbone reaches as ``cp.checkpoint``), still running the real one."""
    import torch.utils.checkpoint as cp
    calls = []
    real = cp.checkpoint

    def counted(*args, **kwargs):
        calls.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(cp, 'checkpoint', counted)
    return calls


def test_with_cp_gives_same_outputs_and_gradients(monkeypatch):
    torch.manual_seed(0)
    plain = FasterNet(arch='t0')
    plain.init_weights()
    checkpointed = FasterNet(arch='t0', with_cp=True)
    checkpointed.load_state_dict(plain.state_dict())
    calls = counting_checkpoint(monkeypatch)
    x = torch.randn(2, 3, 64, 64)
    outs_a = plain(x)
    assert calls == []  # with_cp=False: no block checkpointed
    outs_b = checkpointed(x)
    # T0 has 1 + 2 + 8 + 2 = 13 blocks: each one is checkpointed once, the
    # stem and the mergings are not.
    assert len(calls) == 13
    for a, b in zip(outs_a, outs_b):
        torch.testing.assert_close(a, b)
    sum(o.sum() for o in outs_a).backward()
    sum(o.sum() for o in outs_b).backward()
    # non-reentrant checkpointing recomputes inside autograd, not through
    # another checkpoint() call
    assert len(calls) == 13
    for (name, pa), pb in zip(plain.named_parameters(),
                              checkpointed.parameters()):
        torch.testing.assert_close(pa.grad, pb.grad, msg=name)


def test_with_cp_only_where_a_gradient_flows(monkeypatch):
    """Checkpointing only saves memory when autograd keeps activations:
    none under no_grad (training or eval mode); with a gradient, every
    block whose input needs one, so frozen stages in front are run
    plainly."""
    calls = counting_checkpoint(monkeypatch)
    model = FasterNet(arch='t0', with_cp=True)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        model.train()(x)
        model.eval()(x)
    assert calls == []
    model.train()(x)
    assert len(calls) == 13
    calls.clear()
    # frozen_stages=1: the stem and stage 0's single block get no gradient,
    # the other 2 + 8 + 2 blocks do
    FasterNet(arch='t0', with_cp=True, frozen_stages=1).train()(x)
    assert len(calls) == 12


def test_default_init_is_truncated_normal():
    """The original's init (REFERENCE.md; its ``cls_init_weights``): timm's
    ``trunc_normal_(w, std=.02)`` on every conv and linear weight, with
    timm's default bounds a=-2, b=2 (absolute, i.e. 100 sigma: in
    distribution a plain normal). So the values themselves are checked:
    from the same generator state, timm's function drawn over the convs in
    module order gives exactly the backbone's weights (a plain
    ``normal_``, or bounds at 2 sigma, would give other numbers)."""
    timm_layers = pytest.importorskip('timm.layers')
    model = FasterNet(arch='t0')
    torch.manual_seed(0)
    model.init_weights()
    convs = [(name, m) for name, m in model.named_modules()
             if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 1 + 3 * 13 + 3  # stem, 3 per block, 3 mergings
    torch.manual_seed(0)
    for name, conv in convs:
        expected = timm_layers.trunc_normal_(
            torch.empty_like(conv.weight), std=.02, a=-2., b=2.)
        torch.testing.assert_close(conv.weight, expected, rtol=0, atol=0,
                                   msg=name)
        assert conv.bias is None
    weights = torch.cat([conv.weight.flatten() for _, conv in convs])
    # T0's 2,214,900 backbone parameters minus 9,680 BN weights and biases
    # (2E in the stem, 4C per block, 4C per merging) and the output norms
    assert weights.numel() == 2214900 - 9680
    assert weights.std().item() == pytest.approx(0.02, rel=0.02)
    # 100-sigma bounds: the tails of a normal, 4.55% beyond 2 sigma
    beyond = (weights.abs() > 0.04).float().mean().item()
    assert beyond == pytest.approx(0.0455, abs=0.003)
    assert torch.all(model.patch_embed.norm.weight == 1)
    assert torch.all(model.stages[0].blocks[0].mlp[1].bias == 0)


def test_deprecated_pretrained_becomes_init_cfg():
    with pytest.warns(DeprecationWarning, match='init_cfg'):
        model = FasterNet(arch='t0', pretrained='some.pth')
    assert model.init_cfg == dict(type='Pretrained', checkpoint='some.pth')


def test_non_pretrained_init_cfg_is_honoured():
    model = FasterNet(
        arch='t0',
        init_cfg=dict(type='Constant', layer='Conv2d', val=0.5))
    model.init_weights()
    assert torch.all(model.patch_embed.proj.weight == 0.5)
