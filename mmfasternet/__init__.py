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


def _support_a_loaded_mmdeploy():
    """Inside mmdeploy's tools (mmdeploy already imported, the model config's
    ``custom_imports`` importing mmfasternet), make mmdeploy work on this
    stack (:mod:`mmfasternet.deploy.mmdeploy_support`). Never imports
    mmdeploy itself, and never fails the import of mmfasternet."""
    import sys
    if 'mmdeploy' not in sys.modules:
        return
    try:
        from .deploy import mmdeploy_support  # noqa: F401
    except Exception as error:
        import warnings
        warnings.warn(f'mmfasternet: mmdeploy is loaded but its support '
                      f'could not be set up ({type(error).__name__}: '
                      f'{error}); deploying mmfasternet models may fail.')


_support_a_loaded_mmdeploy()

__all__ = [
    'FasterNet', 'FasterNetLayerDecayOptimWrapperConstructor',
    'ORIGINAL_CHECKPOINTS', '__version__'
]
