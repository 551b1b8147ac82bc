"""The paper's speed protocol: BatchNorms folded into the convolutions
whose outputs they read, for any model."""
import pytest
import torch

from benchmarks.folding import fold_batchnorms
from tests.helpers import randomize_norm_stats


def test_fold_batchnorms_follows_the_data_not_the_module_order():
    """The paper protocol for any model: each BN folded into the conv whose
    output it reads. A pre-norm ConvModule registers its conv before its
    norm (mmcv.cnn.fuse_conv_bn would fold that norm into the conv after
    it); timm's BatchNormAct2d keeps its activation; every BN that follows
    a conv is folded."""
    from mmcv.cnn import ConvModule
    timm = pytest.importorskip('timm')
    torch.manual_seed(0)
    models = [
        torch.nn.Sequential(
            ConvModule(3, 8, 3, padding=1, norm_cfg=dict(type='BN')),
            ConvModule(8, 8, 3, padding=1, norm_cfg=dict(type='BN'),
                       order=('norm', 'conv', 'act'))),
        timm.create_model('mobilenetv3_small_050', features_only=True),
    ]
    for model, folded_count in zip(models, (1, None)):
        randomize_norm_stats(model).eval()
        x = torch.randn(1, 3, 64, 64)
        with torch.no_grad():
            expected = model(x)
        norms = [m for m in model.modules()
                 if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
        folded = fold_batchnorms(model, x)
        left = [m for m in folded.modules()
                if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
        if folded_count is not None:
            assert len(norms) - len(left) == folded_count
        else:
            assert not left
        with torch.no_grad():
            got = folded(x)
        got = got if isinstance(got, list) else [got]
        expected = expected if isinstance(expected, list) else [expected]
        for a, b in zip(got, expected, strict=True):
            # fp32 convs sum in another order once folded
            scale = max(1.0, b.abs().max().item())
            assert (a - b).abs().max().item() <= 1e-5 * scale
