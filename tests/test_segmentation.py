"""Segmentation: every shipped UperNet / Semantic FPN config builds and runs
a forward in loss and predict mode on tiny inputs."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config

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
