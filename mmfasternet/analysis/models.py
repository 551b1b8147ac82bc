"""Random inputs with ground truth for training iterations."""
from typing import List, Optional, Sequence, Tuple

import torch

from ..engine.tasks import (
    build_model_from_config,
    model_inputs,
    read_config,
)

__all__ = ['build_model_from_config', 'model_inputs', 'read_config',
           'training_inputs']


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
