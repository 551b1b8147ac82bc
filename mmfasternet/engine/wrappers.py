"""Model wrappers for distributed runs without GPUs."""
import torch.nn as nn
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
