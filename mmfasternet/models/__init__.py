from mmengine.registry import MODELS

from .backbones import FasterNet


@MODELS.register_module(name='FasterNetClsHead')
def _build_fasternet_cls_head(**cfg):
    """Build :class:`mmfasternet.models.heads.FasterNetClsHead`.

    The head subclasses mmpretrain's ``ClsHead``; registering this builder
    instead of the class lets ``import mmfasternet`` (detection and
    segmentation users) go without importing mmpretrain, which is imported
    when a classifier config first builds the head. Its loss comes from
    mmpretrain's registry whichever library's scope is active.
    """
    from mmengine.registry import DefaultScope

    from .heads import FasterNetClsHead
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return FasterNetClsHead(**cfg)


__all__ = ['FasterNet']
