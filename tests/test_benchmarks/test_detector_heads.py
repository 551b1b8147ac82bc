"""Equal head work for every detector family the model benchmark compares:
with constant prediction layers and a fixed number of detections, two
detectors of a family with different backbones keep exactly the same
detections (real mmdet models, tiny inputs)."""
import copy
import os.path as osp

import pytest
import torch
import torch.nn as nn
from mmengine.config import ConfigDict

from benchmarks.detection import (
    keep_all_detections,
    prediction_layers,
    zero_prediction_layers,
)
from benchmarks.inference import build_for_inference
from mmfasternet.engine.tasks import model_inputs
from tests.helpers import REPO_ROOT


def ours(name):
    return osp.join(REPO_ROOT, 'configs', name)


# (FasterNet config, mmdet config with its own backbone, detections kept,
# the prediction layers expected in both)
FAMILIES = {
    'rtmdet': (ours('rtmdet_fasternet_t0_coco.py'),
               'mmdet::rtmdet/rtmdet_tiny_8xb32-300e_coco.py', 100,
               {f'bbox_head.{branch}.{level}' for branch in
                ('rtm_cls', 'rtm_reg') for level in range(3)}),
    'rtmdet-ins': (ours('rtmdet-ins_fasternet_t0_coco.py'),
                   'mmdet::rtmdet/rtmdet-ins_tiny_8xb32-300e_coco.py', 100,
                   {f'bbox_head.{branch}.{level}' for branch in
                    ('rtm_cls', 'rtm_reg', 'rtm_kernel')
                    for level in range(3)}),
    'retinanet': (ours('retinanet_fasternet_t0_coco.py'),
                  'mmdet::retinanet/retinanet_r18_fpn_1x_coco.py', 100,
                  {'bbox_head.retina_cls', 'bbox_head.retina_reg'}),
    # few detections: mmdet merges the three stages' masks of every
    # detection on the CPU one value at a time
    'cascade mask r-cnn': (
        ours('cascade-maskrcnn_fasternet_s_coco.py'),
        'mmdet::cascade_rcnn/cascade-mask-rcnn_r50_fpn_1x_coco.py', 5,
        {'rpn_head.rpn_cls', 'rpn_head.rpn_reg'} |
        {f'roi_head.bbox_head.{stage}.{layer}' for stage in range(3)
         for layer in ('fc_cls', 'fc_reg')} |
        {f'roi_head.mask_head.{stage}.conv_logits' for stage in range(3)}),
}


@pytest.mark.parametrize('family', list(FAMILIES))
def test_detectors_of_a_family_keep_the_same_detections(family):
    fasternet, own, detections, layers = FAMILIES[family]
    inputs, samples = model_inputs('detection', 1, (64, 96))
    results = []
    for config in (fasternet, own):
        model, task = build_for_inference(config, detections=detections)
        assert task == 'detection'
        found = prediction_layers(model)
        assert set(found) == layers
        for layer in found.values():
            assert not layer.weight.any()
        with torch.no_grad():
            (result, ) = model.predict(inputs, copy.deepcopy(samples))
        results.append(result.pred_instances)
    first, second = results
    assert len(first) == len(second) == detections
    for key in ('bboxes', 'labels', 'scores') + (
            ('masks', ) if 'masks' in first else ()):
        assert torch.equal(first.get(key), second.get(key)), key
    # boxes of positive size (RTMDet's distance regressors get bias 1)
    assert (first.bboxes[:, 2:] > first.bboxes[:, :2]).all()


def test_keep_all_detections_in_each_kind_of_test_cfg():
    two_stage = ConfigDict(test_cfg=dict(
        rpn=dict(max_per_img=1000),
        rcnn=dict(score_thr=0.05, max_per_img=100)))
    one_stage = ConfigDict(test_cfg=dict(score_thr=0.001, max_per_img=300,
                                         nms_pre=30000))
    assert keep_all_detections(two_stage, 20)
    assert two_stage.test_cfg.rcnn == dict(score_thr=0.0, max_per_img=20)
    assert two_stage.test_cfg.rpn == dict(max_per_img=1000)
    assert keep_all_detections(one_stage, 20)
    assert one_stage.test_cfg == dict(score_thr=0.0, max_per_img=20,
                                      nms_pre=30000)
    assert not keep_all_detections(ConfigDict(type='ImageClassifier'))


def test_a_model_without_prediction_layers_is_refused():
    with pytest.raises(ValueError, match='--real-heads'):
        zero_prediction_layers(nn.Sequential(nn.Conv2d(3, 8, 1)))
