"""Helpers outside the models: atomic file writes and the weights-only
allow-list for mmengine checkpoints."""
from .weights_only_allowlist import allow_mmengine_checkpoints

__all__ = ['allow_mmengine_checkpoints']
