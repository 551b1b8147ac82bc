"""Distributed runs on machines without GPUs: the process group over gloo
and the model wrapper (``--launcher pytorch/slurm`` of the tools)."""
import os

import torch
import torch.nn as nn
from mmengine.config import Config, ConfigDict
from mmengine.logging import print_log
from mmengine.model import MMDistributedDataParallel, revert_sync_batchnorm
from mmengine.registry import MODEL_WRAPPERS


def _sync_batchnorm_types():
    types = [nn.SyncBatchNorm]
    try:
        from mmcv.ops import SyncBatchNorm as MMSyncBatchNorm
        types.append(MMSyncBatchNorm)
    except ImportError:  # mmcv built without ops
        pass
    return tuple(types)


@MODEL_WRAPPERS.register_module()
class CPUDistributedDataParallel(MMDistributedDataParallel):
    """mmengine's ``MMDistributedDataParallel`` for processes that train on
    the CPU over gloo.

    PyTorch's SyncBatchNorm only runs on GPUs (DDP refuses it: "SyncBatchNorm
    layers only work with GPU modules"), and every UperNet and Semantic FPN
    config uses SyncBN. Here each SyncBN layer becomes a BatchNorm with the
    same parameters and statistics (mmengine's ``revert_sync_batchnorm``),
    said in one log line: batch statistics are then per process, as with
    plain BN. ``tools/train.py`` and ``tools/test.py`` use this wrapper
    when ``--launcher`` is set and no GPU is present.

    Args:
        module (nn.Module): The model.
        **kwargs: ``MMDistributedDataParallel``'s arguments
            (``detect_anomalous_params``, ``find_unused_parameters``, ...),
            which check them.
    """

    def __init__(self, module: nn.Module, **kwargs):
        sync_types = _sync_batchnorm_types()
        count = sum(isinstance(m, sync_types) for m in module.modules())
        if count:
            module = revert_sync_batchnorm(module)
            print_log(
                f'{count} SyncBN layers run as BatchNorm: SyncBN needs GPUs '
                f'and these processes train on the CPU (gloo), so batch '
                f'statistics are per process.', logger='current')
        super().__init__(module=module, **kwargs)


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


def shutdown_distributed():
    """Tear the process group down before the interpreter exits: without
    it, gloo's threads can abort a rank at shutdown ("terminate called
    without an active exception") after the work itself has finished."""
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
