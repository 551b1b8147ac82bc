"""Measuring models: timing, FLOPs, memory traffic, op profiles, and the
models and inputs they are measured on. ``tools/analysis_tools/`` are
command lines around these functions."""
from .benchmark import (
                        add_backbone_speedups,
                        add_model_speedups,
                        backbone_forms,
                        benchmark_backbones,
                        benchmark_models,
                        build_for_inference,
                        environment,
                        onnxruntime_seconds,
                        reference_backbone,
)
from .detection import (
                        PREDICTION_LAYERS,
                        fix_proposals,
                        keep_all_detections,
                        zero_prediction_layers,
)
from .flops import DEFAULT_SHAPES, count_flops
from .loops import (
                        LoopTimerHook,
                        benchmark_test_loop,
                        summarize_test_loop,
)
from .models import (
                        build_model_from_config,
                        model_inputs,
                        read_config,
                        training_inputs,
)
from .operators import add_dwconv_ratios, benchmark_operators
from .paper_claims import (
                        PAIRS,
                        benchmark_paper_claims,
                        describe_comparison,
                        pair_models,
                        paper_claim_ratios,
                        paper_protocols,
)
from .profiling import profile_ops
from .timing import (
                        DTYPES,
                        interleaved_median_seconds,
                        median_seconds,
                        prepare_for_timing,
)
from .traffic import backbone_traffic, count_traffic, traffic_per_image
from .training import (
                        benchmark_training,
                        build_for_training,
                        training_ratios,
                        training_step,
                        uses_with_cp,
)

__all__ = [
    'DEFAULT_SHAPES', 'DTYPES', 'LoopTimerHook', 'PAIRS',
    'PREDICTION_LAYERS',
    'add_backbone_speedups', 'add_dwconv_ratios', 'add_model_speedups',
    'backbone_forms', 'backbone_traffic', 'benchmark_backbones',
    'benchmark_models', 'benchmark_operators', 'benchmark_paper_claims',
    'benchmark_test_loop', 'benchmark_training', 'build_for_training',
    'build_for_inference', 'build_model_from_config', 'count_flops',
    'count_traffic', 'describe_comparison', 'environment', 'fix_proposals',
    'interleaved_median_seconds', 'keep_all_detections', 'median_seconds',
    'model_inputs', 'onnxruntime_seconds', 'pair_models',
    'paper_claim_ratios', 'paper_protocols', 'prepare_for_timing',
    'profile_ops', 'read_config', 'reference_backbone',
    'summarize_test_loop', 'traffic_per_image',
    'training_inputs', 'training_ratios', 'training_step', 'uses_with_cp',
    'zero_prediction_layers'
]
