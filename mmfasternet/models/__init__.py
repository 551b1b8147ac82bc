from mmengine.registry import MODELS

from .backbones import FasterNet


@MODELS.register_module(name='FasterNetClsHead')
def _build_fasternet_cls_head(**cfg):
    """Build :class:`mmfasternet.models.heads.FasterNetClsHead`.

    The head subclasses mmpretrain's ``ClsHead``; registering this builder
    instead of the class lets ``import mmfasternet`` (detection and
    segmentation users) go without importing mmpretrain, which is imported
    when a classifier config first builds the head.
    """
    from .heads import FasterNetClsHead
    return FasterNetClsHead(**cfg)


__all__ = ['FasterNet']
