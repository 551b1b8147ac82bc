"""Training cost of whole models: one training iteration (forward in loss
mode, backward, the config's optimizer step) timed per config in
interleaved rounds, and the peak memory of those iterations.

Rows are dicts: ``config``, ``task``, ``device``, ``batch``, ``shape``
([H, W]), ``with_cp`` (read back from the built model), ``s_per_iter``,
``peak_memory_mb``, ``memory_before_steps_mb`` and ``memory`` (what the two
memory figures are, see :func:`benchmark_training`).
"""
import copy
import json
import os
import os.path as osp
import subprocess
import sys
from typing import Callable, Iterable, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn

from mmfasternet.engine.tasks import (
    build_model_from_config,
    model_inputs,
    read_config,
    task_of,
)
from mmfasternet.utils.timing import interleaved_median_seconds, synchronize

CPU_MEMORY = 'peak RSS of a fresh process during the steps (MiB)'
GPU_MEMORY = 'torch.cuda.max_memory_allocated (MiB)'

RowCallback = Optional[Callable[[dict], None]]


def uses_with_cp(model: nn.Module) -> bool:
    """Whether any module of ``model`` has gradient checkpointing
    (``with_cp``) turned on: FasterNet's blocks, mmdet's / mmseg's ResNet
    blocks."""
    return any(getattr(m, 'with_cp', False) is True for m in model.modules())


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


def build_for_training(config: str, with_cp: bool = False,
                       device: str = 'cpu'
                       ) -> Tuple[nn.Module, object, str, int]:
    """A config's model in training mode (random weights, SyncBN reverted
    to BN), ``model.backbone.with_cp`` set to ``with_cp``, on ``device``,
    with the optimizer wrapper its ``optim_wrapper`` builds (mmengine's
    :func:`build_optim_wrapper`).

    Returns:
        tuple: the model, the optimizer wrapper, the task and the number
        of classes of its head (the ground truth labels are below it).

    Raises:
        ValueError: for a config of another library or of classification
            (only detection and segmentation models are supported here).
    """
    from mmengine.optim import build_optim_wrapper
    cfg = read_config(config)
    task = task_of(cfg)
    if task not in ('detection', 'segmentation'):
        raise ValueError(f'{config}: training cost is measured for detection '
                         f'and segmentation configs, not {task}.')
    cfg.model.backbone.with_cp = with_cp
    model = build_model_from_config(cfg, revert_sync_bn=True, seed=0)
    model = model.to(device)
    model.train()
    optim_wrapper = build_optim_wrapper(model,
                                        copy.deepcopy(cfg.optim_wrapper))
    if task == 'detection':
        num_classes = model.roi_head.bbox_head.num_classes
    else:
        num_classes = model.decode_head.num_classes
    return model, optim_wrapper, task, num_classes


def training_step(model: nn.Module, optim_wrapper, inputs: torch.Tensor,
                  samples: list) -> float:
    """One iteration: the losses of ``model(inputs, samples, mode='loss')``
    summed by ``model.parse_losses``, backward and the optimizer step
    (``optim_wrapper.update_params``). ``inputs`` are taken as already
    preprocessed (the data preprocessor is not run). Returns the loss."""
    losses = model(inputs, samples, mode='loss')
    loss, _ = model.parse_losses(losses)
    optim_wrapper.update_params(loss)
    return loss.item()


def _prepare(config: str, batch: int, shape: Sequence[int], with_cp: bool,
             device: str):
    model, optim_wrapper, task, num_classes = build_for_training(
        config, with_cp, device)
    if batch < 2 and hasattr(getattr(model, 'decode_head', None),
                             'psp_modules'):
        raise ValueError(
            f'{config}: batch {batch}: the pyramid pooling of its head '
            f'averages each image to 1x1 before a BN layer, which cannot '
            f'train on one value per channel; use a batch of 2 or more.')
    generator = torch.Generator().manual_seed(0)
    inputs, samples = training_inputs(task, batch, shape, num_classes,
                                      generator=generator)
    inputs = inputs.to(device)
    samples = [sample.to(device) for sample in samples]
    return (model, task,
            lambda: training_step(model, optim_wrapper, inputs, samples))


def cpu_peak_memory_mb(config: str, batch: int, shape: Sequence[int],
                       with_cp: bool, steps: int = 2,
                       threads: Optional[int] = None) -> Tuple[float, float]:
    """The peak memory of ``steps`` training iterations of ``config`` on
    the CPU, measured in a fresh Python process: the peak RSS of a process
    never goes down and memory freed by one model stays mapped for the
    next, so models measured in one process would hide each other's
    figures. Linux only (``/proc/self``).

    Returns:
        tuple[float, float]: in MiB, the process's RSS after building the
        model, optimizer and batch, before any step (Python, libraries,
        weights, batch), and its peak RSS during the steps (the kernel's
        VmHWM, reset after building): that plus activations, gradients and
        optimizer state. Both are the whole process's, not the model's
        alone; their difference is what the iterations add.

    Raises:
        RuntimeError: when the process fails (its error output attached).
    """
    spec = dict(config=config, batch=batch, shape=list(shape),
                with_cp=with_cp, steps=steps,
                threads=threads or torch.get_num_threads())
    # the child imports this module as benchmarks.training, from the
    # folder that holds benchmarks/, whatever the current directory
    root = osp.dirname(osp.dirname(osp.abspath(__file__)))
    path = os.environ.get('PYTHONPATH')
    env = dict(os.environ,
               PYTHONPATH=root + (os.pathsep + path if path else ''))
    result = subprocess.run(
        [sys.executable, '-m', 'benchmarks.training', json.dumps(spec)],
        capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise RuntimeError(f'{config}: the memory measurement failed:\n'
                           f'{result.stderr[-3000:]}')
    out = json.loads(result.stdout.strip().splitlines()[-1])
    return out['before_steps_mb'], out['peak_mb']


def _proc_status_mb(field: str) -> float:
    # /proc/self/status gives VmRSS (now) and VmHWM (peak) in kB
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f'no {field} in /proc/self/status')


def _memory_child(spec: dict) -> None:
    torch.set_num_threads(spec['threads'])
    _, _, step = _prepare(spec['config'], spec['batch'], spec['shape'],
                          spec['with_cp'], 'cpu')
    before = _proc_status_mb('VmRSS')
    # Writing 5 resets the peak (VmHWM) to the current RSS: the imports'
    # own peak does not count.
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')
    for _ in range(spec['steps']):
        step()
    print(json.dumps(dict(before_steps_mb=before,
                          peak_mb=_proc_status_mb('VmHWM'))))


def benchmark_training(configs: Iterable[str], batch: int = 1,
                       shape: Sequence[int] = (512, 512),
                       device: str = 'cpu', with_cp: bool = False,
                       warmup: int = 1, repeats: int = 3,
                       memory_steps: int = 2,
                       on_row: RowCallback = None) -> List[dict]:
    """Time one training iteration (:func:`training_step`: loss forward,
    backward, optimizer step; no data loading or preprocessing) of each
    config's model on a random (``batch``, 3, H, W) batch with random
    ground truth (:func:`training_inputs`), in interleaved rounds
    (A, B, A, B, ...) so that a slow phase of the machine hits every
    config alike, and measure its peak memory.

    Memory, in MiB (``row['memory']`` says which):

    - CPU: a fresh process builds the model and runs ``memory_steps``
      iterations (:func:`cpu_peak_memory_mb`): ``peak_memory_mb`` is its
      peak RSS during them (Python, libraries, weights, batch,
      activations, gradients, optimizer state),
      ``memory_before_steps_mb`` its RSS before the first step.
    - CUDA: ``torch.cuda.max_memory_allocated`` over the config's warmup
      iterations, less what was allocated before its model was moved to
      the device (the other configs' models): its weights, gradients,
      optimizer state, batch and activations. ``memory_before_steps_mb``
      is its allocation before the first step.

    Args:
        configs: paths or ``pkg::path`` of detection / segmentation
            configs; the last one is the baseline of the ratios
            (:func:`training_ratios`).
        shape: (H, W) of the batch, in pixels.
        with_cp: gradient checkpointing in every backbone
            (``model.backbone.with_cp``).
        warmup: untimed iterations per config before the rounds (at least
            1 on CUDA, where they give the memory figure).
        repeats: timed rounds, one iteration per config each.
        memory_steps: iterations of the CPU memory process.
        on_row: called with each row as soon as it is measured.

    Returns:
        list[dict]: one row per config, in the order of ``configs``.

    Raises:
        ValueError: if ``repeats`` < 1, ``warmup`` < 0 (< 1 on CUDA) or
            ``memory_steps`` < 1, for a config that is not detection
            or segmentation, or a batch of 1 for a head with pyramid
            pooling (UperNet's, whose BN cannot train on 1x1 maps of one
            image).
        RuntimeError: when a CPU memory process fails.
    """
    cuda = torch.device(device).type == 'cuda'
    if repeats < 1 or warmup < int(cuda) or memory_steps < 1:
        raise ValueError(f'repeats and memory_steps must be >= 1 and warmup '
                         f'>= {int(cuda)}, got repeats={repeats}, '
                         f'warmup={warmup}, memory_steps={memory_steps}.')
    configs = list(configs)
    rows, steps = [], []
    for config in configs:
        allocated = torch.cuda.memory_allocated(device) if cuda else 0
        model, task, step = _prepare(config, batch, shape, with_cp, device)
        row = dict(config=config, task=task, device=device, batch=batch,
                   shape=list(shape), with_cp=uses_with_cp(model))
        if cuda:
            row['memory_before_steps_mb'] = (
                torch.cuda.memory_allocated(device) - allocated) / 2**20
            torch.cuda.reset_peak_memory_stats(device)
        for _ in range(warmup):
            step()
        synchronize(device)
        if cuda:
            row['peak_memory_mb'] = (torch.cuda.max_memory_allocated(device)
                                     - allocated) / 2**20
            row['memory'] = GPU_MEMORY
        rows.append(row)
        steps.append(step)
    times = interleaved_median_seconds(steps, warmup=0, repeats=repeats,
                                       device=device, training=True)
    del steps
    for row, seconds in zip(rows, times):
        row['s_per_iter'] = seconds
        if not cuda:
            row['memory_before_steps_mb'], row['peak_memory_mb'] = (
                cpu_peak_memory_mb(row['config'], batch, shape, with_cp,
                                   memory_steps))
            row['memory'] = CPU_MEMORY
        if on_row is not None:
            on_row(row)
    return rows


def training_ratios(rows: Sequence[dict]) -> List[dict]:
    """Each row but the last against the last (the baseline):
    ``time_ratio`` (its ``s_per_iter`` over the baseline's: below 1 is
    faster) and ``memory_ratio`` (its ``peak_memory_mb`` over the
    baseline's), with both configs named."""
    if len(rows) < 2:
        return []
    baseline = rows[-1]
    return [dict(config=row['config'], baseline=baseline['config'],
                 time_ratio=row['s_per_iter'] / baseline['s_per_iter'],
                 memory_ratio=(row['peak_memory_mb'] /
                               baseline['peak_memory_mb']))
            for row in rows[:-1]]


if __name__ == '__main__':
    _memory_child(json.loads(sys.argv[1]))
