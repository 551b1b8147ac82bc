from .hooks import (CheckpointCoverageHook, DeployHook, RNGStateHook,
                    SafeCheckpointHook)
from .optim import FasterNetLayerDecayOptimWrapperConstructor
from .resume import apply_resume, find_resumable_checkpoint
from .tasks import (EVAL_METRICS, add_runner_arguments, apply_eval_metrics,
                    apply_format_only, apply_tta, apply_visualization,
                    install_test_hooks, install_training_hooks, load_config,
                    result_dump_metric, setup_cpu_distributed,
                    shutdown_distributed, task_of)
from .wrappers import CPUDistributedDataParallel

__all__ = [
    'CPUDistributedDataParallel', 'CheckpointCoverageHook', 'DeployHook',
    'FasterNetLayerDecayOptimWrapperConstructor', 'RNGStateHook',
    'SafeCheckpointHook', 'EVAL_METRICS', 'add_runner_arguments',
    'apply_eval_metrics', 'apply_format_only', 'apply_resume', 'apply_tta',
    'apply_visualization', 'find_resumable_checkpoint', 'install_test_hooks',
    'install_training_hooks', 'load_config', 'result_dump_metric',
    'setup_cpu_distributed', 'shutdown_distributed', 'task_of'
]
