"""Configs read by path or ``pkg::path`` and the models built from them
(mmfasternet.engine.tasks): installed libraries' configs resolve without
installing anything, and built models read no weights."""
import os.path as osp

import pytest
import torch

from mmfasternet.engine.tasks import build_model_from_config, read_config
from tests.helpers import REPO_ROOT


def test_read_config_resolves_installed_library_configs():
    cfg = read_config('mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py',
                      dict(model=dict(backbone=dict(depth=101))))
    assert cfg.filename.endswith(osp.join(
        'mmdet', '.mim', 'configs', 'mask_rcnn',
        'mask-rcnn_r50_fpn_1x_coco.py'))
    assert cfg.model.backbone.depth == 101
    # the module name before ``::``, whatever the distribution's name
    seg = read_config('mmseg::sem_fpn/fpn_r50_4xb4-160k_ade20k-512x512.py')
    assert seg.default_scope == 'mmseg'
    # Never installed from here (mmengine's get_config would pip-install).
    with pytest.raises(ModuleNotFoundError, match='mmdet3d'):
        read_config('mmdet3d::pointpillars/pointpillars.py')


def test_built_models_load_no_weights():
    """The shipped configs point their backbones at checkpoints that are
    not on this machine: the built model initialises without them, and the
    config is left as it was."""
    path = osp.join(REPO_ROOT, 'configs', 'maskrcnn_fasternet_t0_coco.py')
    cfg = read_config(path)
    checkpoint = cfg.model.backbone.init_cfg.checkpoint
    assert not osp.exists(osp.join(REPO_ROOT, checkpoint))
    model = build_model_from_config(cfg, seed=0)
    again = build_model_from_config(path, seed=0)  # the same random weights
    assert all(torch.equal(a, b) for a, b in zip(
        model.state_dict().values(), again.state_dict().values()))
    model.init_weights()
    assert cfg.model.backbone.init_cfg.checkpoint == checkpoint
    assert model.training


def test_classifier_takes_the_top_level_data_preprocessor():
    model = build_model_from_config(
        osp.join(REPO_ROOT, 'configs', 'demo', 'fasternet_t0_shapes_demo.py'))
    assert model.data_preprocessor.num_classes == 3
