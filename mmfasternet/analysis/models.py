"""Models built from detection, segmentation and classification configs,
and the random inputs their forward takes, for measuring them."""
import copy
from importlib import import_module
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.config import Config

from ..engine import task_of


def read_config(config: Union[str, Config],
                cfg_options: Optional[dict] = None) -> Config:
    """A config from a file, or from an installed library as
    ``'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'`` (mmengine's
    ``pkg::`` resolution, :func:`mmengine.hub.get_config`), with
    ``cfg_options`` merged. A :class:`Config` is used as it is (merged in
    place).

    Raises:
        FileNotFoundError: for a missing file or a config the named
            library does not ship.
        ModuleNotFoundError: when the library named before ``::`` is not
            installed (it is never installed from here).
    """
    if isinstance(config, str):
        if '::' in config:
            from mmengine.config.utils import _get_package_and_cfg_path
            from mmengine.hub import get_config
            from mmengine.utils import is_installed
            package, _ = _get_package_and_cfg_path(config)
            # get_config would pip-install a missing package.
            if not is_installed(package):
                raise ModuleNotFoundError(
                    f'{config}: {package} is not installed.')
            config = get_config(config)
        else:
            config = Config.fromfile(config)
    if cfg_options:
        config.merge_from_dict(cfg_options)
    return config


def build_model_from_config(config: Union[str, Config],
                            revert_sync_bn: bool = False,
                            seed: Optional[int] = None) -> nn.Module:
    """The ``model`` of a config, built in its library's registry (the
    config's ``default_scope``: mmdet, mmseg or mmpretrain) without any
    pretrained weights: the backbone's ``init_cfg`` and every
    ``pretrained`` are dropped, so nothing is read when ``init_weights``
    runs. A top-level ``data_preprocessor`` is used when the model has
    none, as mmengine's Runner does. The model is in training mode, with
    its constructors' initialisation.

    Args:
        config: a path, ``pkg::path`` (see :func:`read_config`) or a
            :class:`Config`, which is not modified.
        revert_sync_bn: turn SyncBN into BN, to run training steps in one
            process.
        seed: ``torch.manual_seed`` before building, for reproducible
            random weights (None: leave the generator alone).

    Raises:
        ValueError: when the config's ``default_scope`` is none of mmdet,
            mmseg and mmpretrain.
    """
    from mmengine.registry import init_default_scope
    cfg = read_config(config) if isinstance(config, str) else config
    task_of(cfg)  # a clear error for a config of another library
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.pop('pretrained', None)
    if 'backbone' in model_cfg:
        model_cfg.backbone.pop('init_cfg', None)
        model_cfg.backbone.pop('pretrained', None)
    if cfg.get('data_preprocessor') is not None:
        model_cfg.setdefault('data_preprocessor', cfg.data_preprocessor)
    init_default_scope(cfg.default_scope)
    registry = import_module(f'{cfg.default_scope}.registry')
    if seed is not None:
        torch.manual_seed(seed)
    model = registry.MODELS.build(model_cfg)
    if revert_sync_bn:
        from mmengine.model import revert_sync_batchnorm
        model = revert_sync_batchnorm(model)
    return model


def model_inputs(task: str, batch: int, shape: Sequence[int],
                 generator: Optional[torch.Generator] = None
                 ) -> Tuple[torch.Tensor, Optional[List]]:
    """A random batch (``batch``, 3, H, W) for ``shape`` (H, W) and, for
    detection and segmentation, one data sample per image carrying the
    image shapes their ``predict`` needs (None for classification).

    Raises:
        ValueError: for a task other than detection, segmentation and
            classification.
    """
    height, width = shape
    inputs = torch.randn(batch, 3, height, width, generator=generator)
    if task == 'classification':
        return inputs, None
    if task == 'detection':
        from mmdet.structures import DetDataSample as DataSample
    elif task == 'segmentation':
        from mmseg.structures import SegDataSample as DataSample
    else:
        raise ValueError(f'unknown task {task!r}.')
    samples = []
    for _ in range(batch):
        sample = DataSample()
        sample.set_metainfo(
            dict(img_shape=(height, width), ori_shape=(height, width),
                 pad_shape=(height, width),
                 batch_input_shape=(height, width), scale_factor=(1., 1.)))
        samples.append(sample)
    return inputs, samples


def training_inputs(task: str, batch: int, shape: Sequence[int],
                    num_classes: int, instances: int = 3,
                    generator: Optional[torch.Generator] = None
                    ) -> Tuple[torch.Tensor, List]:
    """A random batch (``batch``, 3, H, W) for ``shape`` (H, W) and one data
    sample per image with the ground truth a model's ``loss`` takes:
    detection, ``instances`` boxes per image (random corners inside the
    image, at least an eighth of each side) with their labels (below
    ``num_classes``) and box-shaped masks; segmentation, a map of random
    labels below ``num_classes``.

    Raises:
        ValueError: for a task other than detection and segmentation, or
            ``instances`` < 1.
    """
    if task not in ('detection', 'segmentation'):
        raise ValueError(f'no training ground truth for task {task!r}.')
    if instances < 1:
        raise ValueError(f'instances must be >= 1, got {instances}.')
    inputs, samples = model_inputs(task, batch, shape, generator)
    height, width = shape
    for sample in samples:
        if task == 'segmentation':
            from mmengine.structures import PixelData
            sample.gt_sem_seg = PixelData(data=torch.randint(
                0, num_classes, (1, height, width), generator=generator))
            continue
        from mmdet.structures.mask import BitmapMasks
        from mmengine.structures import InstanceData
        size = torch.tensor([width, height] * 2, dtype=torch.float32)
        low = torch.rand(instances, 2, generator=generator) * 0.5
        extent = 0.125 + torch.rand(instances, 2, generator=generator) * 0.375
        boxes = torch.cat([low, low + extent], dim=1) * size
        masks = torch.zeros(instances, height, width, dtype=torch.uint8)
        for mask, (x1, y1, x2, y2) in zip(masks, boxes.long().tolist()):
            mask[y1:y2, x1:x2] = 1
        gt = InstanceData()
        gt.bboxes = boxes
        gt.labels = torch.randint(0, num_classes, (instances, ),
                                  generator=generator)
        gt.masks = BitmapMasks(masks.numpy(), height, width)
        sample.gt_instances = gt
    return inputs, samples
