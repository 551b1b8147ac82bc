"""mmfasternet: FasterNet as an OpenMMLab backbone.

Importing this package registers ``FasterNet`` in mmengine's root ``MODELS``
registry, which the mmdet, mmseg and mmpretrain registries fall back to, so
``custom_imports=dict(imports=['mmfasternet'])`` is all a detection or
segmentation config needs (classification configs also import
``mmfasternet.models.heads.fasternet_head``).

``mmfasternet.ORIGINAL_CHECKPOINTS``: the file names of the original
ImageNet release by arch, read from the model zoo's metafile
(:func:`mmfasternet.model_zoo.original_checkpoints`), for scripts and
tests. A config cannot use it (mmengine hands a config a ``LazyObject``
for an imported name): configs write the file names out, and the tests
check that they equal the metafile's.
"""
from . import datasets  # noqa: F401  (registers CheckedLoading)
from .engine import FasterNetLayerDecayOptimWrapperConstructor
from .models import FasterNet
from .utils import allow_mmengine_checkpoints
from .version import __version__

allow_mmengine_checkpoints()


__all__ = [
    'FasterNet', 'FasterNetLayerDecayOptimWrapperConstructor',
    'ORIGINAL_CHECKPOINTS', '__version__'
]


def __getattr__(name: str):
    """``ORIGINAL_CHECKPOINTS`` (a new dict each time), read from the model
    zoo when asked for: importing mmfasternet reads no file.

    Raises:
        AttributeError: any other name.
        FileNotFoundError: the metafile is missing (not an editable
            install, see :mod:`mmfasternet.model_zoo`).
    """
    if name == 'ORIGINAL_CHECKPOINTS':
        from .model_zoo import original_checkpoints
        return original_checkpoints()
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
