"""Helpers outside the models: the weights-only allow-list for mmengine
checkpoints, local paths and URIs, and wall-clock timing."""
from .uri import is_remote
from .weights_only_allowlist import allow_mmengine_checkpoints

__all__ = ['allow_mmengine_checkpoints', 'is_remote']
