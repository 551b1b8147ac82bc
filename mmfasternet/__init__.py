"""mmfasternet: FasterNet as an OpenMMLab backbone.

``import mmfasternet`` registers the ``FasterNet`` backbone in mmengine's
root ``MODELS`` registry, which the mmdet, mmseg and mmpretrain registries
fall back to, and the layer-decay optimizer constructor; it changes nothing
else. So ``custom_imports=dict(imports=['mmfasternet'])`` is all a
detection or segmentation config needs. The other parts register when
their module is imported: the classification head
(``mmfasternet.models.heads.fasternet_head``, which imports mmpretrain),
the hooks ``tools/train.py`` and ``tools/test.py`` add to a run
(``mmfasternet.engine.hooks``) and the loading transform that skips
damaged files (``mmfasternet.datasets``).

``mmfasternet.ORIGINAL_CHECKPOINTS``: the file names of the original
ImageNet release by arch, read from the model zoo's metafile
(:func:`mmfasternet.model_zoo.original_checkpoints`), for scripts and
tests.
"""
from .engine.optim import FasterNetLayerDecayOptimWrapperConstructor
from .models import FasterNet
from .version import __version__

__all__ = [
    'FasterNet', 'FasterNetLayerDecayOptimWrapperConstructor',
    'ORIGINAL_CHECKPOINTS', '__version__'
]


def __getattr__(name: str):
    """``ORIGINAL_CHECKPOINTS`` (a new dict each time), read from the model
    zoo when asked for: importing mmfasternet reads no file.

    Raises:
        AttributeError: any other name.
        FileNotFoundError: the metafile is missing (see
            :mod:`mmfasternet.model_zoo`).
    """
    if name == 'ORIGINAL_CHECKPOINTS':
        from .model_zoo import original_checkpoints
        return original_checkpoints()
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
