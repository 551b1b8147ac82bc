from .hooks import DeployHook
from .optim import FasterNetLayerDecayOptimWrapperConstructor
from .tasks import (EVAL_METRICS, add_runner_arguments, apply_eval_metrics,
                    apply_format_only, apply_tta, apply_visualization,
                    load_config,
                    result_dump_metric, setup_cpu_distributed,
                    shutdown_distributed, task_of)
from .test_options import (apply_test_options, display_problem,
                           eval_metrics_help, has_mask_head,
                           resolve_show_dir)

__all__ = [
    'DeployHook', 'FasterNetLayerDecayOptimWrapperConstructor',
    'EVAL_METRICS', 'add_runner_arguments', 'apply_eval_metrics', 'apply_format_only', 'apply_tta',
    'apply_visualization', 'load_config', 'result_dump_metric',
    'setup_cpu_distributed', 'shutdown_distributed', 'task_of',
    'apply_test_options', 'display_problem', 'eval_metrics_help',
    'has_mask_head', 'resolve_show_dir'
]
