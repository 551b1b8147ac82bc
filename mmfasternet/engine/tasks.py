"""What tools/train.py and tools/test.py need to serve detection,
segmentation and classification configs with one pair of scripts (the
config as the tools start from it, the hooks they add to every run, the
checkpoint paths they are given), and what the other tools share: configs
read by path or ``pkg::path``, models built from them without weights, and
random inputs for those models."""
import copy
import os
import os.path as osp
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.config import Config

from ..utils import allow_mmengine_checkpoints, is_remote

# Task of a config, read from its default_scope.
SCOPE_TASKS = dict(mmdet='detection', mmseg='segmentation',
                   mmpretrain='classification')


def _add_custom_hook(cfg: Config, hook: dict) -> None:
    custom_hooks = list(cfg.get('custom_hooks') or [])
    if not any(existing.get('type') == hook['type']
               for existing in custom_hooks):
        custom_hooks.append(hook)
    cfg.custom_hooks = custom_hooks


def install_training_hooks(cfg: Config) -> None:
    """What ``tools/train.py`` adds to every config, after ``cfg.resume``
    is decided (see :mod:`.hooks`): checkpoints that survive a crash
    (``SafeCheckpointHook`` in place of mmengine's ``CheckpointHook``; a
    checkpoint hook of another type is left as it is), random states saved
    for an exact resume (``RNGStateHook``), and when resuming the check
    that the file holds the model (``CheckpointCoverageHook``)."""
    from . import hooks  # noqa: F401  (registers them)
    checkpoint = cfg.get('default_hooks', {}).get('checkpoint')
    if checkpoint is not None and checkpoint.get('type') in (
            'CheckpointHook', 'mmengine.CheckpointHook'):
        checkpoint['type'] = 'SafeCheckpointHook'
    _add_custom_hook(cfg, dict(type='RNGStateHook'))
    if cfg.get('resume'):
        _add_custom_hook(cfg, dict(type='CheckpointCoverageHook'))


def install_test_hooks(cfg: Config) -> None:
    """What ``tools/test.py`` adds to every config: the checkpoint must hold
    the whole model (``CheckpointCoverageHook``)."""
    from . import hooks  # noqa: F401  (registers them)
    _add_custom_hook(cfg, dict(type='CheckpointCoverageHook'))


def check_checkpoint_file(path: Optional[str], what: str) -> None:
    """Raise one clear error, before anything is built, when a local
    checkpoint path given to the tools does not exist (URLs and other
    backends are left to mmengine).

    Raises:
        FileNotFoundError: naming ``what`` (the option) and the path.
    """
    if path is None or is_remote(path):
        return
    if not osp.isfile(path):
        near = osp.dirname(osp.abspath(path))
        hint = (f' ({near} holds: {", ".join(sorted(os.listdir(near))[:8])})'
                if osp.isdir(near) else f' ({near} does not exist)')
        raise FileNotFoundError(f'{what}: no file {path!r}{hint}.')


def task_of(cfg: Config) -> str:
    scope = cfg.get('default_scope')
    if scope not in SCOPE_TASKS:
        raise ValueError(
            f'default_scope {scope!r} of this config is none of '
            f'{sorted(SCOPE_TASKS)}; inherit an mmdet::, mmseg:: or '
            f'mmpretrain:: default_runtime or set default_scope.')
    return SCOPE_TASKS[scope]


def read_config(config: Union[str, Config],
                cfg_options: Optional[dict] = None) -> Config:
    """A config from a file, or from an installed library as
    ``'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'``
    (:func:`mmengine.hub.get_config`), with ``cfg_options`` merged. A
    :class:`Config` is used as it is (merged in place).

    Raises:
        FileNotFoundError: for a missing file or a config the named
            library does not ship.
        ModuleNotFoundError: when the module named before ``::`` cannot be
            imported (it is never installed from here).
    """
    if isinstance(config, str):
        if '::' in config:
            from importlib.util import find_spec

            from mmengine.hub import get_config
            package = config.split('::', 1)[0]
            # get_config would pip-install a library that is missing.
            if not package.isidentifier() or find_spec(package) is None:
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
    none, and the config's scope becomes the process's default scope, as
    mmengine's Runner does. The model is in training mode, with its
    constructors' initialisation.

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
    from mmengine.registry import MODELS, init_default_scope
    cfg = read_config(config) if isinstance(config, str) else config
    task_of(cfg)  # a clear error for a config of another library
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.pop('pretrained', None)
    if 'backbone' in model_cfg:
        model_cfg.backbone.pop('init_cfg', None)
        model_cfg.backbone.pop('pretrained', None)
    if cfg.get('data_preprocessor') is not None:
        model_cfg.setdefault('data_preprocessor', cfg.data_preprocessor)
    init_default_scope(cfg.default_scope)  # as the Runner does
    if seed is not None:
        torch.manual_seed(seed)
    model = MODELS.build(model_cfg)
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


def add_runner_arguments(parser, cfg_example: str):
    """The options tools/train.py and tools/test.py share: --cfg-options,
    --launcher and the --local-rank that torch.distributed.launch passes
    (torchrun sets LOCAL_RANK instead)."""
    from mmengine.config import DictAction
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help=f'override config entries, e.g. {cfg_example}')
    parser.add_argument(
        '--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def load_config(config_path: str, launcher: str = 'none',
                cfg_options: Optional[dict] = None,
                work_dir: Optional[str] = None):
    """The config as tools/train.py and tools/test.py start from it:
    ``--cfg-options`` merged, ``work_dir`` from the command line, else the
    config's, else ``work_dirs/<config name>``. Returns (cfg, task).

    The tools load checkpoints, so this also lets torch's weights-only
    unpickler read what mmengine writes into them
    (:func:`~mmfasternet.utils.allow_mmengine_checkpoints`).
    """
    allow_mmengine_checkpoints()
    cfg = Config.fromfile(config_path)
    task = task_of(cfg)  # fails early, and clearly, on a foreign config
    cfg.launcher = launcher
    if cfg_options is not None:
        cfg.merge_from_dict(cfg_options)
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join(
            './work_dirs',
            osp.splitext(osp.basename(config_path))[0])
    return cfg, task
