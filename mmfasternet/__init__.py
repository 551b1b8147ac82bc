"""mmfasternet: FasterNet as an OpenMMLab backbone.

Importing this package registers ``FasterNet`` in mmengine's root ``MODELS``
registry, which the mmdet, mmseg and mmpretrain registries fall back to, so
``custom_imports=dict(imports=['mmfasternet'])`` is all a config needs.
"""
from . import datasets  # noqa: F401  (registers CheckedLoading)
from .checkpoints import ORIGINAL_CHECKPOINTS
from .engine import FasterNetLayerDecayOptimWrapperConstructor
from .models import FasterNet
from .utils import allow_mmengine_checkpoints
from .version import __version__

allow_mmengine_checkpoints()

__all__ = [
    'FasterNet', 'FasterNetLayerDecayOptimWrapperConstructor',
    'ORIGINAL_CHECKPOINTS', '__version__'
]
