from .hooks import (
                    CheckpointCoverageHook,
                    DeployHook,
                    RNGStateHook,
                    SafeCheckpointHook,
)
from .optim import FasterNetLayerDecayOptimWrapperConstructor
from .resume import apply_resume, find_resumable_checkpoint
from .tasks import (
                    EVAL_METRICS,
                    add_runner_arguments,
                    apply_eval_metrics,
                    apply_format_only,
                    apply_tta,
                    apply_visualization,
                    build_model_from_config,
                    check_checkpoint_file,
                    install_test_hooks,
                    install_training_hooks,
                    load_config,
                    model_inputs,
                    read_config,
                    result_dump_metric,
                    setup_cpu_distributed,
                    shutdown_distributed,
                    task_of,
)
from .test_options import (
                    apply_test_options,
                    display_problem,
                    eval_metrics_help,
                    has_mask_head,
                    resolve_show_dir,
)
from .wrappers import CPUDistributedDataParallel

__all__ = [
    'CPUDistributedDataParallel', 'CheckpointCoverageHook', 'DeployHook',
    'FasterNetLayerDecayOptimWrapperConstructor', 'RNGStateHook',
    'SafeCheckpointHook', 'EVAL_METRICS', 'add_runner_arguments',
    'apply_eval_metrics', 'apply_format_only', 'apply_resume', 'apply_tta',
    'apply_test_options', 'apply_visualization', 'build_model_from_config',
    'check_checkpoint_file', 'display_problem',
    'eval_metrics_help', 'find_resumable_checkpoint', 'has_mask_head',
    'install_test_hooks', 'install_training_hooks', 'load_config',
    'model_inputs', 'read_config', 'resolve_show_dir', 'result_dump_metric',
    'setup_cpu_distributed', 'shutdown_distributed', 'task_of'
]
