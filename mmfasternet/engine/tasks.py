"""What tools/train.py and tools/test.py need to serve detection,
segmentation and classification configs with one pair of scripts: the
config as the tools start from it, the hooks they add to every run, and
the checkpoint paths they are given."""
import os
import os.path as osp
from typing import Optional

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
