"""What tools/train.py and tools/test.py need to serve detection,
segmentation and classification configs with one pair of scripts (the
config as the tools start from it, the hooks they add to every run, the
checkpoint paths they are given), and what the other tools share: configs
read by path or ``pkg::path``, models built from them without weights, and
random inputs for those models."""
import copy
import os
import os.path as osp
from typing import Iterator, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.config import Config

from ..utils import allow_mmengine_checkpoints, is_remote

# Top-level config keys that mmengine's Runner, the config system and the
# tools read; any other top-level key is a variable of the config file.
RUN_KEYS = frozenset((
    '_base_', 'custom_imports', 'default_scope', 'model', 'work_dir',
    'train_dataloader', 'val_dataloader', 'test_dataloader', 'train_cfg',
    'val_cfg', 'test_cfg', 'auto_scale_lr', 'optim_wrapper',
    'param_scheduler', 'val_evaluator', 'test_evaluator', 'default_hooks',
    'custom_hooks', 'data_preprocessor', 'load_from', 'resume', 'launcher',
    'env_cfg', 'log_processor', 'log_level', 'visualizer', 'randomness',
    'experiment_name', 'model_wrapper_cfg', 'find_unused_parameters',
    'compile', 'activation_checkpointing', 'efficient_conv_bn_eval',
    'runner_type', 'tta_model', 'tta_pipeline'))

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
    for an exact resume (``RNGStateHook``), the checks that the neck and
    heads read what the backbone returns (``ChannelCheckHook``) and that
    no BatchNorm layer trains on one value per channel
    (``BatchNormCheckHook``), and when resuming the check that the file
    holds the model (``CheckpointCoverageHook``)."""
    from . import hooks  # noqa: F401  (registers them)
    checkpoint = cfg.get('default_hooks', {}).get('checkpoint')
    if checkpoint is not None and checkpoint.get('type') in (
            'CheckpointHook', 'mmengine.CheckpointHook'):
        checkpoint['type'] = 'SafeCheckpointHook'
    for hook in ('RNGStateHook', 'ChannelCheckHook', 'BatchNormCheckHook'):
        _add_custom_hook(cfg, dict(type=hook))
    if cfg.get('resume'):
        _add_custom_hook(cfg, dict(type='CheckpointCoverageHook'))


def install_test_hooks(cfg: Config) -> None:
    """What ``tools/test.py`` adds to every config: the checks that the
    neck and heads read what the backbone returns (``ChannelCheckHook``)
    and that the checkpoint holds the whole model
    (``CheckpointCoverageHook``)."""
    from . import hooks  # noqa: F401  (registers them)
    for hook in ('ChannelCheckHook', 'CheckpointCoverageHook'):
        _add_custom_hook(cfg, dict(type=hook))


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


class OutputDirError(OSError):
    """A folder a run will write to cannot be written to."""


def _output_dirs(cfg: Config):
    """(config key, local folder) of what a run writes to: the work dir,
    the checkpoint hook's ``out_dir``, the visualization hook's and the
    visualizer's folders where the config names them."""
    yield 'work_dir', cfg.work_dir
    hooks = cfg.get('default_hooks') or {}
    out_dir = (hooks.get('checkpoint') or {}).get('out_dir')
    if out_dir:
        yield 'default_hooks.checkpoint.out_dir', osp.join(
            out_dir, osp.basename(cfg.work_dir.rstrip(osp.sep)))
    for name in ('test_out_dir', 'out_dir'):
        folder = (hooks.get('visualization') or {}).get(name)
        if folder and osp.isabs(folder):
            yield f'default_hooks.visualization.{name}', folder
    backends = (cfg.get('visualizer') or {}).get('vis_backends') or []
    for index, backend in enumerate(backends):
        for name in ('save_dir', 'img_save_dir'):
            if backend.get(name):
                yield f'visualizer.vis_backends.{index}.{name}', backend[name]


def check_output_dirs(cfg: Config) -> None:
    """Check that each local folder a run writes to (:func:`_output_dirs`)
    can be written: the folder itself, or the nearest of its parents that
    exists, gets a temporary file. Nothing is created, and a folder that
    cannot be written is found before any work, not when the first
    checkpoint or drawing is saved.

    Raises:
        OutputDirError: naming the config key, the folder and the cause.
    """
    import tempfile
    for key, folder in _output_dirs(cfg):
        if is_remote(folder):
            continue
        existing = osp.abspath(folder)
        while not osp.exists(existing):
            existing = osp.dirname(existing)
        try:
            if not osp.isdir(existing):
                raise NotADirectoryError(f'{existing} is a file')
            with tempfile.TemporaryFile(dir=existing):
                pass
        except OSError as error:
            raise OutputDirError(
                f'{key}: cannot write into {folder!r} ({type(error).__name__}'
                f': {error.strerror or error}); point {key} at a folder '
                f'this run may write to.') from error


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


def follow_accumulated_batches(cfg: Config) -> Optional[str]:
    """For ``--auto-scale-lr``: mmengine scales the lr by world size x batch
    / ``auto_scale_lr.base_batch_size``; with
    ``optim_wrapper.accumulative_counts`` each step sums that many batches,
    so the base is divided by it, and the lr follows the effective batch
    (world size x batch x accumulative_counts). Returns the line to log
    (None without accumulation)."""
    counts = cfg.optim_wrapper.get('accumulative_counts', 1)
    if counts == 1:
        return None
    base = cfg.auto_scale_lr.base_batch_size
    cfg.auto_scale_lr.base_batch_size = base / counts
    return (f'--auto-scale-lr: optim_wrapper.accumulative_counts={counts}, so '
            f'the lr follows the effective batch (processes x batch x '
            f'{counts}) against auto_scale_lr.base_batch_size={base}.')


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


def _keys_holding(node, value, key: str = '') -> Iterator[str]:
    """The keys under ``node`` whose value equals ``value``."""
    if isinstance(node, dict):
        items = node.items()
    elif isinstance(node, (list, tuple)):
        items = enumerate(node)
    else:
        items = ()
    for name, child in items:
        child_key = f'{key}.{name}' if key else str(name)
        if type(child) is type(value) and child == value:
            yield child_key
        elif isinstance(child, (dict, list, tuple)):
            yield from _keys_holding(child, value, child_key)


def check_variable_options(cfg: Config, cfg_options: dict) -> None:
    """Refuse a ``--cfg-options`` key that sets a variable of the config
    file (``max_epochs``, ``data_root``, ``crop_size``, ...): the file has
    already copied the variable's value where it is used, so setting the
    variable changes nothing the run reads.

    Raises:
        ValueError: naming the variable and the keys that hold its value,
            to set instead.
    """
    for name in sorted(cfg_options):
        if '.' in name or name in RUN_KEYS or name not in cfg:
            continue
        value = cfg[name]
        holders = sorted(
            (key for key in _keys_holding(
                {k: v for k, v in cfg.items() if k != name}, value)
             if key.split('.')[0] in RUN_KEYS),
            key=lambda key: not key.endswith('.' + name))
        shown = repr(value) if len(repr(value)) <= 60 else \
            repr(value)[:57] + '...'
        where = (f'the file already copied its value {shown} into '
                 f'{", ".join(holders[:8])}, which keep it: set those '
                 f'instead, e.g. --cfg-options {holders[0]}='
                 f'{cfg_options[name]!r}' if holders else
                 'nothing the run reads takes its value from it')
        raise ValueError(
            f'--cfg-options {name}=...: {name} is a variable of the config '
            f'file, and {where}.')


def _pretrained_urls(node) -> Iterator[str]:
    if isinstance(node, dict):
        if node.get('type') == 'Pretrained' and isinstance(
                node.get('checkpoint'), str):
            yield node['checkpoint']
        for value in node.values():
            yield from _pretrained_urls(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            yield from _pretrained_urls(value)


def fetch_pretrained_weights(cfg: Config) -> None:
    """Download, once, the ``http(s)://`` weights that the model's
    ``init_cfg`` (``type='Pretrained'``) and ``load_from`` name, so that a
    run without them stops before any data is read or the model is built.

    Each goes where the loaders look for it
    (:func:`~mmfasternet.models.utils.local_weights`); a copy under
    ``checkpoints/`` is used as it is.

    Raises:
        WeightsNotAvailableError: a URL that could not be downloaded.
    """
    from ..models.utils import local_weights
    urls = list(_pretrained_urls(cfg.get('model')))
    if cfg.get('load_from'):
        urls.append(cfg.load_from)
    for url in dict.fromkeys(urls):
        local_weights(url)


def load_config(config_path: str, launcher: str = 'none',
                cfg_options: Optional[dict] = None,
                work_dir: Optional[str] = None):
    """The config as tools/train.py and tools/test.py start from it:
    ``--cfg-options`` merged, ``work_dir`` from the command line, else the
    config's, else ``work_dirs/<config name>``. Returns (cfg, task).

    The tools load checkpoints, so this also lets torch's weights-only
    unpickler read what mmengine writes into them
    (:func:`~mmfasternet.utils.allow_mmengine_checkpoints`).

    Raises:
        ValueError: the config is of another library, or ``cfg_options``
            sets a variable of the file (:func:`check_variable_options`).
    """
    allow_mmengine_checkpoints()
    cfg = Config.fromfile(config_path)
    task = task_of(cfg)  # fails early, and clearly, on a foreign config
    cfg.launcher = launcher
    if cfg_options is not None:
        check_variable_options(cfg, cfg_options)
        cfg.merge_from_dict(cfg_options)
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join(
            './work_dirs',
            osp.splitext(osp.basename(config_path))[0])
    return cfg, task
