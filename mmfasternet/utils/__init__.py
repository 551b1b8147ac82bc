"""Helpers outside the models: atomic file writes, the weights-only
allow-list for mmengine checkpoints and wall-clock timing."""
from .weights_only_allowlist import allow_mmengine_checkpoints

__all__ = ['allow_mmengine_checkpoints']
