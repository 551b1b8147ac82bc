"""Helpers outside the models: the weights-only allow-list for mmengine
checkpoints, local paths and URIs, dataset configs through their wrappers
and wall-clock timing."""
from .dataset_cfgs import iter_dataset_cfgs
from .uri import is_remote
from .weights_only_allowlist import allow_mmengine_checkpoints

__all__ = ['allow_mmengine_checkpoints', 'is_remote', 'iter_dataset_cfgs']
