"""What mmdeploy 1.3.1 needs to export mmfasternet models on this stack
(torch >= 2.9, mmcv 2.1, onnxruntime >= 1.16).

mmdeploy is optional: ``import mmfasternet`` never imports it. Importing this
module imports mmdeploy (an :class:`ImportError` naming the install command
when it is missing) and applies :func:`apply_mmdeploy_patches` once. It is
named in the ``custom_imports`` of every deploy config under
``configs/deploy/``, and ``import mmfasternet`` imports it too when mmdeploy
is already loaded (mmdeploy's own tools load the model config, whose
``custom_imports`` name ``mmfasternet``), so the patches reach mmdeploy's
worker processes either way.

Each patch is applied only where it is needed on the installed versions; a
patch whose target has changed (another mmdeploy) is skipped with a warning
rather than breaking the import. What each one fixes:

- ``torchscript_exporter``: torch >= 2.9 exports with the dynamo exporter
  unless told otherwise, and the dynamo exporter ignores mmdeploy's function
  and symbolic rewriters (the export then fails on mmcv's RoIAlign or
  silently loses the rewrites). Inside mmdeploy's export context,
  ``torch.onnx.export`` gets ``dynamo=False`` when its signature has that
  option.
- ``cast_long_helper``: mmdeploy's ONNX symbolic of mmcv's RoIAlign imports
  ``_cast_Long`` from ``torch.onnx.symbolic_opset9``, which torch removed
  (``ImportError`` while exporting Mask R-CNN).
- ``onnxruntime_rewriters``: for ONNX Runtime, three of mmdeploy's rewriters
  are replaced by ones that compute what PyTorch computes
  (:mod:`mmfasternet.deploy.mmdeploy_rewriters`):

  - adaptive average pooling to sizes other than 1x1: mmdeploy pools with a
    kernel fixed at the export size (``int(H / out)``), so UperNet's
    pyramid pooling pools other windows than PyTorch at other sizes (and at
    the export size when it is not a multiple of the output size): its maps
    then agree with PyTorch on only 99.72-99.95% of the pixels;
  - Mask R-CNN's RPN: mmdeploy runs one NMS over all feature levels and
    drops proposals scoring under 0.05, mmdet runs NMS within each level;
  - Mask R-CNN's box head: mmdeploy gives every class of a RoI the box of
    its best class, mmdet gives each class its own box; on the demo
    detector only 10 of 20 detections of an image then match.
- ``fasternet_cls_head_sdk``: mmdeploy's SDK meta (``pipeline.json``) names
  the classifier's head as its post-processing step; mmdeploy-runtime knows
  ``LinearClsHead`` but not ``FasterNetClsHead``, whose output (class scores
  after mmdeploy's softmax) is the same kind. The Python ONNX Runtime path
  does not need this.
"""
import inspect
import warnings
from typing import Tuple

MMDEPLOY_VERSION = '1.3.1'
INSTALL_HINT = (
    f'pip install --no-deps mmdeploy=={MMDEPLOY_VERSION} aenum multiprocess '
    f'dill (or bash tools/setup_env.sh, which installs it); --no-deps '
    f'because mmdeploy pins protobuf<=3.20.2, which the installed onnx '
    f'does not need and pip would otherwise try to downgrade to')

_applied = {}


def require_mmdeploy():
    """Import and return mmdeploy.

    Raises:
        ImportError: mmdeploy, or a package it imports, is missing; the
            message names the install command.
    """
    try:
        import mmdeploy
        import mmdeploy.apis  # noqa: F401  (imports aenum, multiprocess)
    except ImportError as error:
        raise ImportError(
            f'mmdeploy is needed to deploy mmfasternet models ({error}). '
            f'Install it with: {INSTALL_HINT}.') from error
    return mmdeploy


def _use_torchscript_exporter() -> bool:
    import torch
    if 'dynamo' not in inspect.signature(torch.onnx.export).parameters:
        return False  # torch < 2.5: the TorchScript exporter is the only one
    from mmdeploy.core import FUNCTION_REWRITER
    from mmdeploy.utils import IR

    @FUNCTION_REWRITER.register_rewriter('torch.onnx.export', ir=IR.ONNX)
    def onnx_export__torchscript(*args, **kwargs):
        ctx = FUNCTION_REWRITER.get_context()
        kwargs.setdefault('dynamo', False)
        return ctx.origin_func(*args, **kwargs)

    return True


def _cast_long_helper() -> bool:
    import torch.onnx.symbolic_opset9 as opset9
    if hasattr(opset9, '_cast_Long'):
        return False
    from torch._C import _onnx

    def _cast_Long(g, input, non_blocking):
        """The Cast to int64 that torch's opset-9 symbolics used to offer
        (signature of the removed helper)."""
        return g.op('Cast', input, to_i=_onnx.TensorProtoDataType.INT64)

    opset9._cast_Long = _cast_Long
    return True


def _onnxruntime_rewriters() -> bool:
    from .mmdeploy_rewriters import register_rewriters
    register_rewriters()
    return True


def _fasternet_cls_head_sdk() -> bool:
    from mmdeploy.codebase.mmpretrain.deploy.classification import (
        Classification,
    )
    original = Classification.get_postprocess
    if getattr(original, '_mmfasternet', False):
        return False

    def get_postprocess(self, *args, **kwargs):
        if self.model_cfg.model.head.get('type') != 'FasterNetClsHead':
            return original(self, *args, **kwargs)
        head = self.model_cfg.model.head
        topk = head.get('topk', (1, ))
        return dict(
            type='LinearClsHead',
            params=dict(topk=max(topk) if isinstance(topk, (list, tuple))
                        else topk))

    get_postprocess._mmfasternet = True
    Classification.get_postprocess = get_postprocess
    return True


PATCHES = dict(
    torchscript_exporter=_use_torchscript_exporter,
    cast_long_helper=_cast_long_helper,
    onnxruntime_rewriters=_onnxruntime_rewriters,
    fasternet_cls_head_sdk=_fasternet_cls_head_sdk,
)


def apply_mmdeploy_patches() -> Tuple[str, ...]:
    """Apply, once per process, the patches of this module's docstring that
    the installed versions need.

    Returns:
        tuple[str]: Names of the patches in effect (from :data:`PATCHES`).

    Raises:
        ImportError: mmdeploy is not installed (see :func:`require_mmdeploy`).
    """
    mmdeploy = require_mmdeploy()
    if mmdeploy.__version__ != MMDEPLOY_VERSION and not _applied:
        warnings.warn(
            f'mmfasternet was tested with mmdeploy {MMDEPLOY_VERSION}, found '
            f'{mmdeploy.__version__}: the patches are applied where their '
            f'targets exist; check the parity figures of '
            f'tools/deployment/deploy.py.')
    for name, patch in PATCHES.items():
        if name in _applied:
            continue
        try:
            _applied[name] = patch()
        except Exception as error:  # another mmdeploy/torch: skip, say so
            _applied[name] = False
            warnings.warn(f'mmfasternet could not apply its mmdeploy patch '
                          f'{name!r} ({type(error).__name__}: {error}); '
                          f'exports that need it may fail.')
    return tuple(name for name, applied in _applied.items() if applied)


apply_mmdeploy_patches()
