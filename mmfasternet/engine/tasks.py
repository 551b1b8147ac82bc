"""What tools/train.py and tools/test.py need to serve detection,
segmentation and classification configs with one pair of scripts."""
import os
import os.path as osp
import re
from typing import Optional

import torch
from mmengine.config import Config, ConfigDict

# tools/test.py's options live in test_options; their names stay here too.
from .test_options import (  # noqa: F401
    EVAL_METRICS,
    apply_eval_metrics,
    apply_format_only,
    apply_test_options,
    apply_tta,
    apply_visualization,
    result_dump_metric,
)

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
    is decided: checkpoints that survive a crash (:class:`SafeCheckpointHook`
    in place of mmengine's ``CheckpointHook``; a checkpoint hook of another
    type is left as it is), random states saved for an exact resume
    (:class:`RNGStateHook`), and the check that ``load_from`` / the resumed
    file holds the model (:class:`CheckpointCoverageHook`, strict when
    resuming)."""
    checkpoint = cfg.get('default_hooks', {}).get('checkpoint')
    if checkpoint is not None and checkpoint.get('type') in (
            'CheckpointHook', 'mmengine.CheckpointHook'):
        checkpoint['type'] = 'SafeCheckpointHook'
    _add_custom_hook(cfg, dict(type='RNGStateHook'))
    _add_custom_hook(
        cfg,
        dict(type='CheckpointCoverageHook', strict=bool(cfg.get('resume'))))


def install_test_hooks(cfg: Config) -> None:
    """What ``tools/test.py`` adds to every config: the checkpoint must hold
    the whole model (:class:`CheckpointCoverageHook`)."""
    _add_custom_hook(cfg, dict(type='CheckpointCoverageHook', strict=True))


def check_checkpoint_file(path: Optional[str], what: str) -> None:
    """Raise one clear error, before anything is built, when a local
    checkpoint path given to the tools does not exist (URLs and other
    backends are left to mmengine).

    Raises:
        FileNotFoundError: naming ``what`` (the option) and the path.
    """
    if path is None or re.match(r'^[a-zA-Z0-9+]+://', str(path)):
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


def setup_cpu_distributed(cfg: Config, launcher: str):
    """Make ``--launcher pytorch/slurm`` work on machines without a GPU.

    mmengine's launcher picks the GPU of the local rank and NCCL. Without a
    GPU this initialises the process group with gloo first (mmengine then
    keeps it) and wraps the model in DDP without device ids, with SyncBN
    layers run as BatchNorm (:class:`CPUDistributedDataParallel`).
    """
    if launcher == 'none' or torch.cuda.is_available():
        return
    import torch.distributed as dist
    if not dist.is_initialized():
        if launcher == 'slurm':
            import subprocess
            os.environ.setdefault('RANK', os.environ['SLURM_PROCID'])
            os.environ.setdefault('WORLD_SIZE', os.environ['SLURM_NTASKS'])
            os.environ.setdefault('LOCAL_RANK', os.environ['SLURM_LOCALID'])
            os.environ.setdefault('MASTER_PORT', '29500')
            if 'MASTER_ADDR' not in os.environ:
                nodes = os.environ['SLURM_NODELIST']
                os.environ['MASTER_ADDR'] = subprocess.getoutput(
                    f'scontrol show hostname {nodes} | head -n1')
        dist.init_process_group(backend='gloo')
    env_cfg = cfg.setdefault('env_cfg', ConfigDict())
    env_cfg.setdefault('dist_cfg', ConfigDict())['backend'] = 'gloo'
    wrapper = cfg.get('model_wrapper_cfg') or ConfigDict(
        type='MMDistributedDataParallel',
        broadcast_buffers=False,
        find_unused_parameters=cfg.get('find_unused_parameters', False))
    if wrapper['type'] in ('MMDistributedDataParallel',
                           'mmengine.MMDistributedDataParallel'):
        wrapper['type'] = 'CPUDistributedDataParallel'
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper


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


def shutdown_distributed():
    """Tear the process group down before the interpreter exits: without
    it, gloo's threads can abort a rank at shutdown ("terminate called
    without an active exception") after the work itself has finished."""
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def load_config(config_path: str, launcher: str = 'none',
                cfg_options: Optional[dict] = None,
                work_dir: Optional[str] = None):
    """The config as tools/train.py and tools/test.py start from it:
    ``--cfg-options`` merged, ``work_dir`` from the command line, else the
    config's, else ``work_dirs/<config name>``. Returns (cfg, task)."""
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
