from .fasternet_head import FasterNetClsHead

__all__ = ['FasterNetClsHead']
