"""FasterNet models. ``import mmfasternet`` registers the backbone; the
classification head (which needs mmpretrain) is registered by importing
``mmfasternet.models.heads.fasternet_head``."""
from .backbones import FasterNet

__all__ = ['FasterNet']
