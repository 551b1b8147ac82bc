"""mmdeploy 1.3.1 support for mmfasternet models (an opt-in project, not
part of the mmfasternet package).

Importing this package imports mmdeploy (an :class:`ImportError` naming the
install command when it is missing), applies the patches of
:mod:`.patches` and registers the ONNX Runtime rewriters of
:mod:`.rewriters`; both are done once, however often it is imported. The
deploy configs under ``projects/mmdeploy_fasternet/configs/`` import it
through ``custom_imports``, so every process that loads one of them (the
tool, and mmdeploy's worker processes, which load the deploy config from
its path) gets the same mmdeploy. Run from the repository root with the
root on ``PYTHONPATH`` (``PYTHONPATH=.``), as for mmdet's ``projects/``.
:mod:`.parity` holds what ``projects/mmdeploy_fasternet/tools/deploy.py``
measures.
"""
from .patches import MMDEPLOY_VERSION, apply_patches, require_mmdeploy
from .rewriters import register_rewriters

apply_patches()
register_rewriters()

__all__ = ['MMDEPLOY_VERSION', 'apply_patches', 'register_rewriters',
           'require_mmdeploy']
