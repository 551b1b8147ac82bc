"""mmdeploy function rewriters for ONNX Runtime that compute what the
PyTorch model computes where mmdeploy 1.3.1's own rewriters approximate it.
They are registered with mmdeploy's ``FUNCTION_REWRITER`` (its extension
point for this) by :func:`register_rewriters`, which importing
:mod:`projects.mmdeploy_fasternet.mmdeploy_support` calls; a rewriter
registered for a backend takes precedence over mmdeploy's default one.

- :func:`adaptive_avg_pool2d` (:func:`adaptive_avg_pool2d_exact`): adaptive
  average pooling to sizes other than 1x1 at any input size. mmdeploy pools
  with a kernel fixed at the export size (``int(H / out)``), so UperNet's
  pyramid pooling pools other windows than PyTorch at other sizes (and at
  the export size when it is no multiple of the output size): its label
  maps then agree with PyTorch's on only 99.72-99.95% of the pixels, and a
  feature map smaller than the output size (the test's 128x128 images)
  does not export at all (a kernel of 0). Shown by
  ``test_upernet_round_trip_and_eval``.
- :func:`rpn_predict_by_feat`: mmdet's RPN runs NMS within each feature
  level and has no score threshold; mmdeploy's runs one NMS over all levels
  and drops proposals scoring under 0.05. No test shows the difference:
  with the tests' random weights both give the same detections.
- :func:`bbox_head_predict_by_feat`: mmdet gives each class its own box
  (class-specific regression); mmdeploy's rewrite gives every class of a RoI
  the box of the RoI's best class, so a detection of another class gets
  another box, and NMS then keeps other detections (on the trained demo
  detector only 10 of 20 detections of an image matched; in
  ``test_mask_rcnn_round_trip``, whose checkpoint detects two classes on
  the same RoIs, 12 of 20). RoIs without area get no detection: mmdeploy's
  NMS ends the RPN's proposals with an all-zero row, which PyTorch's model
  does not have (when fewer than ``max_per_img`` proposals remain, as on
  the 96-pixel images of ``test_box_detector_round_trip``, whose random
  Faster R-CNN then detected 3 boxes at (0, 0, 0, 0) PyTorch did not:
  97 of 100 matched, 100 of 100 with this).
- :func:`rtmdet_predict_by_feat`: mmdet clips RTMDet's boxes to the image
  and drops those left without width or height (``min_bbox_size`` of its
  ``test_cfg``); mmdeploy's rewrite does neither, so a box crossing the
  image border kept its outside part (IoU under 0.99 with PyTorch's) and
  empty boxes took places among the detections kept: in
  ``test_box_detector_round_trip`` 13 of 100 detections matched without
  this rewriter, 99-100 with it.

Each takes the arguments of the function it rewrites and is only called by
mmdeploy inside its export context (``FUNCTION_REWRITER.get_context()``).
"""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

MARK = '_mmdeploy_fasternet'  # set on what this project registers or patches


def adaptive_avg_pool2d_exact(input: Tensor, output_size) -> Tensor:
    """``F.adaptive_avg_pool2d`` written with operators that export to ONNX
    for any input size: each output row ``i`` averages input rows
    ``floor(i * H / out_h)`` to ``ceil((i + 1) * H / out_h) - 1``, as
    PyTorch does (likewise for columns), computed as ``P_h @ x @ P_w^T``
    with averaging matrices built from the input's (possibly dynamic) size.

    Args:
        input (Tensor): (N, C, H, W).
        output_size (int | tuple): (out_h, out_w); ``None`` keeps that size.

    Returns:
        Tensor: (N, C, out_h, out_w), PyTorch's result up to float rounding
        (the sums run in another order).
    """
    from torch.nn.modules.utils import _pair
    sizes = input.shape[-2:]
    out_h, out_w = (size if out is None else out
                    for size, out in zip(sizes, _pair(output_size)))

    def averaging_matrix(size, out):
        # (out, size): row i holds 1 / len(bin_i) over bin_i, 0 elsewhere.
        index = torch.arange(out, device=input.device).unsqueeze(1)
        start = torch.div(index * size, out, rounding_mode='floor')
        end = torch.div((index + 1) * size + out - 1, out,
                        rounding_mode='floor')
        position = torch.arange(size, device=input.device).unsqueeze(0)
        inside = (position >= start) & (position < end)
        return inside.to(input.dtype) / (end - start).to(input.dtype)

    rows = averaging_matrix(sizes[0], out_h)
    columns = averaging_matrix(sizes[1], out_w)
    return torch.matmul(torch.matmul(rows, input), columns.transpose(0, 1))


def adaptive_avg_pool2d(input: Tensor, output_size) -> Tensor:
    """Rewrite of ``F.adaptive_avg_pool2d``: global pooling stays ONNX's
    GlobalAveragePool, any other size is :func:`adaptive_avg_pool2d_exact`.
    """
    from mmdeploy.core import FUNCTION_REWRITER
    from torch.nn.modules.utils import _pair
    ctx = FUNCTION_REWRITER.get_context()
    if tuple(_pair(output_size)) == (1, 1):
        return ctx.origin_func(input, output_size)
    return adaptive_avg_pool2d_exact(input, output_size)


def _one_group_each(scores: Sequence[Tensor], num_groups: int) -> Tensor:
    """(B, N_g) scores of each group g -> (B, sum N_g, num_groups) with
    each score in its group's column and zeros elsewhere: ONNX's
    NonMaxSuppression then suppresses within a group only (mmdeploy's
    ``multiclass_nms`` treats the columns as classes)."""
    columns = []
    for group, score in enumerate(scores):
        one_hot = score.new_zeros(num_groups)
        one_hot[group] = 1
        columns.append(score.unsqueeze(-1) * one_hot)
    return torch.cat(columns, dim=1)


def rpn_predict_by_feat(self,
                        cls_scores: List[Tensor],
                        bbox_preds: List[Tensor],
                        score_factors: Optional[List[Tensor]] = None,
                        batch_img_metas: Optional[List[dict]] = None,
                        cfg=None,
                        rescale: bool = False,
                        with_nms: bool = True,
                        **kwargs):
    """Rewrite of ``RPNHead.predict_by_feat``, as mmdet computes it: the
    ``nms_pre`` best anchors of each level, boxes no larger than
    ``min_bbox_size`` dropped, NMS within each level, the ``max_per_img``
    best proposals kept.

    Returns:
        tuple[Tensor, Tensor]: (B, K, 5) proposals (x1, y1, x2, y2, score)
        and their (B, K) level indices, as mmdeploy's rewrite returns; with
        ``with_nms=False`` the (B, N, 4) boxes and (B, N, 1) scores.
    """
    from mmdeploy.codebase.mmdet.deploy import gather_topk
    from mmdeploy.mmcv.ops import multiclass_nms
    cfg = self.test_cfg if cfg is None else cfg
    nms_pre = cfg.get('nms_pre', -1)
    batch_size = cls_scores[0].shape[0]
    priors = self.prior_generator.grid_priors(
        [score.shape[-2:] for score in cls_scores],
        device=cls_scores[0].device)
    level_scores, level_deltas, level_priors = [], [], []
    for cls_score, bbox_pred, prior in zip(cls_scores, bbox_preds, priors):
        cls_score = cls_score.permute(0, 2, 3, 1)
        if self.use_sigmoid_cls:
            scores = cls_score.reshape(batch_size, -1).sigmoid()
        else:
            scores = cls_score.reshape(batch_size, -1, 2).softmax(-1)[..., 0]
        deltas = bbox_pred.permute(0, 2, 3, 1).reshape(
            batch_size, -1, self.bbox_coder.encode_size)
        prior = prior.unsqueeze(0)
        if nms_pre > 0:
            scores, inds = scores.topk(nms_pre)  # mmdeploy's topk: k <= N
            deltas = gather_topk(deltas, inds=inds, batch_size=batch_size,
                                 is_batched=True)
            prior = gather_topk(prior, inds=inds, batch_size=batch_size,
                                is_batched=False)
        level_scores.append(scores)
        level_deltas.append(deltas)
        level_priors.append(prior)
    boxes = self.bbox_coder.decode(
        torch.cat(level_priors, dim=1), torch.cat(level_deltas, dim=1),
        max_shape=batch_img_metas[0]['img_shape'])
    if not with_nms:
        return boxes, torch.cat(level_scores, dim=1).unsqueeze(-1)
    scores = _one_group_each(level_scores, len(level_scores))
    min_size = cfg.get('min_bbox_size', -1)
    if min_size >= 0:
        large = ((boxes[..., 2] - boxes[..., 0] > min_size)
                 & (boxes[..., 3] - boxes[..., 1] > min_size))
        scores = scores * large.unsqueeze(-1).to(scores.dtype)
    return multiclass_nms(
        boxes,
        scores,
        max_output_boxes_per_class=cfg.max_per_img,
        nms_type=cfg.nms.get('type', 'nms'),
        iou_threshold=cfg.nms.iou_threshold,
        score_threshold=0.0,  # mmdet's RPN has none; ONNX keeps score > 0
        pre_top_k=-1,
        keep_top_k=cfg.max_per_img)


def bbox_head_predict_by_feat(self,
                              rois: Tensor,
                              cls_scores: Tensor,
                              bbox_preds: Tensor,
                              batch_img_metas: List[dict],
                              rcnn_test_cfg=None,
                              rescale: bool = False):
    """Rewrite of ``BBoxHead.predict_by_feat``, as mmdet computes it: each
    class of each RoI with its own box, scored by the class's probability,
    NMS within each class (IoU and score thresholds and ``max_per_img`` of
    the model's ``test_cfg``; ``max_output_boxes_per_class`` and
    ``pre_top_k`` of the deploy config's ``post_processing`` bound the
    work, as in mmdeploy's rewrite).

    Args:
        rois (Tensor): (B, N, 5), batch index and x1, y1, x2, y2.
        cls_scores (Tensor): (B, N, num_classes + 1) logits.
        bbox_preds (Tensor): (B, N, 4 * num_classes) deltas, or (B, N, 4)
            with class-agnostic regression, or None.

    Returns:
        tuple[Tensor, Tensor]: (B, K, 5) detections (x1, y1, x2, y2, score)
        and their (B, K) labels.
    """
    from mmdeploy.codebase.mmdet.deploy import get_post_processing_params
    from mmdeploy.core import FUNCTION_REWRITER
    from mmdeploy.mmcv.ops import multiclass_nms
    from mmdet.structures.bbox import get_box_tensor
    ctx = FUNCTION_REWRITER.get_context()
    img_shape = batch_img_metas[0]['img_shape']
    if self.custom_cls_channels:
        scores = self.loss_cls.get_activation(cls_scores)
    else:
        scores = F.softmax(cls_scores, dim=-1)
    scores = scores[..., :self.num_classes]
    # mmdeploy's NMS ends the RPN's proposals with an all-zero row (and a
    # batch's images with zero rows up to the longest): RoIs without area,
    # which mmdet's RPN never proposes (min_bbox_size >= 0), scored 0 here.
    has_area = (rois[..., 3] > rois[..., 1]) & (rois[..., 4] > rois[..., 2])
    scores = scores * has_area.unsqueeze(-1).to(scores.dtype)
    batch_size, num_rois = scores.shape[:2]
    if bbox_preds is not None:
        boxes = get_box_tensor(self.bbox_coder.decode(
            rois[..., 1:], bbox_preds, max_shape=img_shape))
    else:
        boxes = rois[..., 1:].clone()
        height, width = img_shape[:2]
        boxes[..., 0::2] = boxes[..., 0::2].clamp(0, width)
        boxes[..., 1::2] = boxes[..., 1::2].clamp(0, height)
    if not self.reg_class_agnostic and bbox_preds is not None:
        # Entry r * C + c: class c's box of RoI r, scored for class c only.
        boxes = boxes.reshape(batch_size, num_rois * self.num_classes, -1)
        eye = torch.eye(self.num_classes, dtype=scores.dtype,
                        device=scores.device)
        scores = (scores.unsqueeze(-1) * eye).reshape(
            batch_size, num_rois * self.num_classes, self.num_classes)
    post_params = get_post_processing_params(ctx.cfg)
    return multiclass_nms(
        boxes,
        scores,
        max_output_boxes_per_class=post_params.max_output_boxes_per_class,
        nms_type=rcnn_test_cfg.nms.get('type', 'nms'),
        iou_threshold=rcnn_test_cfg.nms.get('iou_threshold',
                                            post_params.iou_threshold),
        score_threshold=rcnn_test_cfg.get('score_thr',
                                          post_params.score_threshold),
        pre_top_k=post_params.pre_top_k,
        keep_top_k=rcnn_test_cfg.get('max_per_img', post_params.keep_top_k))


def rtmdet_predict_by_feat(self,
                           cls_scores: List[Tensor],
                           bbox_preds: List[Tensor],
                           batch_img_metas: Optional[List[dict]] = None,
                           cfg=None,
                           rescale: bool = False,
                           with_nms: bool = True):
    """Rewrite of ``RTMDetHead.predict_by_feat``, as mmdet computes it:
    every point's box (its distances to the four sides) clipped to the
    image, boxes not wider and higher than ``min_bbox_size`` dropped
    (measured at the input's size; mmdet measures them after rescaling to
    the original image, which is the same for RTMDet's 0), then
    NMS within each class (IoU and score thresholds and ``max_per_img`` of
    the model's ``test_cfg``; ``max_output_boxes_per_class`` and
    ``pre_top_k`` of the deploy config's ``post_processing`` bound the
    work, as in mmdeploy's rewrite, in place of mmdet's ``nms_pre`` best
    scores per level).

    Args:
        cls_scores (list[Tensor]): per level, (B, num_classes, H, W) logits.
        bbox_preds (list[Tensor]): per level, (B, 4, H, W) distances in
            pixels.

    Returns:
        tuple[Tensor, Tensor]: (B, K, 5) detections (x1, y1, x2, y2, score)
        and their (B, K) labels; without ``with_nms`` the (B, N, 4) boxes
        and (B, N, num_classes) scores of every point.
    """
    from mmdeploy.codebase.mmdet.deploy import get_post_processing_params
    from mmdeploy.core import FUNCTION_REWRITER
    from mmdeploy.mmcv.ops import multiclass_nms
    ctx = FUNCTION_REWRITER.get_context()
    cfg = self.test_cfg if cfg is None else cfg
    batch_size = bbox_preds[0].shape[0]
    priors = torch.cat(self.prior_generator.grid_priors(
        [score.shape[2:] for score in cls_scores],
        device=cls_scores[0].device))
    scores = torch.cat([
        score.permute(0, 2, 3, 1).reshape(batch_size, -1,
                                          self.cls_out_channels)
        for score in cls_scores
    ], dim=1).sigmoid()
    distances = torch.cat([
        pred.permute(0, 2, 3, 1).reshape(batch_size, -1, 4)
        for pred in bbox_preds
    ], dim=1)
    # mmdeploy's decode (its rewrite of distance2bbox) clips to the
    # input's size, which its exported detectors take as the image size.
    points = priors[..., :2].unsqueeze(0).expand(batch_size, -1, -1)
    boxes = self.bbox_coder.decode(
        points, distances, max_shape=batch_img_metas[0]['img_shape'])
    if not with_nms:
        return boxes, scores
    min_size = cfg.get('min_bbox_size', -1)
    if min_size >= 0:
        sizes = boxes[..., 2:] - boxes[..., :2]
        valid = (sizes > min_size).all(dim=-1, keepdim=True)
        scores = scores * valid.to(scores.dtype)  # 0: under any threshold
    post_params = get_post_processing_params(ctx.cfg)
    return multiclass_nms(
        boxes,
        scores,
        max_output_boxes_per_class=post_params.max_output_boxes_per_class,
        nms_type=cfg.nms.get('type', 'nms'),
        iou_threshold=cfg.nms.get('iou_threshold',
                                  post_params.iou_threshold),
        score_threshold=cfg.get('score_thr', post_params.score_threshold),
        pre_top_k=post_params.pre_top_k,
        keep_top_k=cfg.get('max_per_img', post_params.keep_top_k))


_registered = set()  # (function, backend or IR) registered by this process


def register_once(func_name: str, rewriter, **kwargs) -> bool:
    """Register ``rewriter`` of ``func_name`` with mmdeploy's
    ``FUNCTION_REWRITER`` (``kwargs``: its ``backend``, ``ir``), unless this
    module already registered one for it (two valid rewriters of one
    function make mmdeploy warn and pick the first).

    Returns:
        bool: Whether ``rewriter`` was registered now.
    """
    from mmdeploy.core import FUNCTION_REWRITER
    key = (func_name, tuple(sorted(map(str, kwargs.items()))))
    if key in _registered:
        return False
    _registered.add(key)
    FUNCTION_REWRITER.register_rewriter(func_name, **kwargs)(rewriter)
    return True


def register_rewriters() -> Tuple[str, ...]:
    """Register the rewriters of this module for ONNX Runtime (once).

    Returns:
        tuple[str]: The functions whose rewriters were registered now.
    """
    registered = []
    for func_name, rewriter in (
            ('torch.nn.functional.adaptive_avg_pool2d', adaptive_avg_pool2d),
            ('mmdet.models.dense_heads.rpn_head.RPNHead.predict_by_feat',
             rpn_predict_by_feat),
            ('mmdet.models.roi_heads.bbox_heads.bbox_head.BBoxHead.'
             'predict_by_feat', bbox_head_predict_by_feat),
            ('mmdet.models.dense_heads.rtmdet_head.RTMDetHead.'
             'predict_by_feat', rtmdet_predict_by_feat)):
        if register_once(func_name, rewriter, backend='onnxruntime'):
            registered.append(func_name)
    return tuple(registered)
