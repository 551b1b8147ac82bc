"""The changes this project makes to mmdeploy and torch, and why.

Made for mmdeploy 1.3.1 on torch 2.14.1 and mmcv 2.1.0 (onnxruntime 1.32);
each entry below names the versions that need it, the reason and the test
that fails without it. :func:`apply_patches` applies them; importing
:mod:`projects.mmdeploy_fasternet.mmdeploy_support` calls it, and nothing
else does. Each patch first checks whether its target is already patched, so
applying them again changes nothing. A patch whose target does not exist
(another mmdeploy or torch) is skipped with a warning instead of failing the
import.

- ``torchscript_exporter`` (torch >= 2.9; mmdeploy 1.3.1 knows only the
  TorchScript exporter): torch 2.9 made ``torch.onnx.export`` use the dynamo
  exporter by default. On torch 2.14.1 that exporter fails on every export
  of the three demo models: it rejects the ``dynamic_axes`` mmdeploy passes
  with its tuple inputs (``TorchExportError``), and it does not use
  mmdeploy's ONNX symbolics but traces into mmcv's RoIAlign kernel, which
  fails. Inside mmdeploy's export context ``torch.onnx.export`` therefore
  gets ``dynamo=False`` unless the caller set it. It is registered as an
  ONNX rewriter of ``torch.onnx.export`` through mmdeploy's
  ``FUNCTION_REWRITER``, so it acts only while mmdeploy exports; it is here
  rather than in :mod:`.rewriters` because it is about the torch version,
  not about what the graph computes.
  Shown by ``test_mmcv_roi_align_exports_through_mmdeploy`` and every round
  trip of ``tests/test_deploy/test_mmdeploy.py``.
- ``cast_long_helper`` (mmdeploy 1.3.1 with a torch that lacks the helper,
  2.14.1 among them): mmdeploy's ONNX symbolic of mmcv's ``RoIAlign``
  imports ``_cast_Long`` from ``torch.onnx.symbolic_opset9``, which torch
  removed, so exporting a model with RoIAlign (Mask R-CNN) fails with an
  ``ImportError``. The helper is put back, with its old signature (a Cast
  to int64). Shown by ``test_mmcv_roi_align_exports_through_mmdeploy`` and
  ``test_mask_rcnn_round_trip``.
- ``fasternet_cls_head_sdk`` (mmdeploy 1.3.1): the SDK meta files
  (``pipeline.json``, written by ``export2SDK``, the tool's ``--dump-info``)
  name the classifier's head type as its post-processing step.
  mmdeploy-runtime knows ``LinearClsHead`` but not ``FasterNetClsHead``,
  whose output after mmdeploy's softmax is the same kind (class scores), so
  ``Classification.get_postprocess`` names ``LinearClsHead`` (with the
  head's largest ``topk``) for it, as mmdeploy itself does for
  ``EfficientFormerClsHead`` and ``StackedLinearClsHead``. Shown by
  ``test_classifier_round_trip_and_eval``.

The rewriters of :mod:`.rewriters`, which make the exported graphs compute
what PyTorch computes, are not patches: they go through mmdeploy's own
extension point (registered by the same import).
"""
import inspect
import warnings
from typing import Tuple

from .rewriters import MARK, register_once

MMDEPLOY_VERSION = '1.3.1'
INSTALL_HINT = (
    f'pip install --no-deps mmdeploy=={MMDEPLOY_VERSION} aenum multiprocess '
    f'dill (the pins of requirements/mmdeploy.txt; bash tools/setup_env.sh '
    f'installs them); --no-deps because mmdeploy pins protobuf<=3.20.2, '
    f'which the installed onnx does not need and pip would otherwise try to '
    f'downgrade to')


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
            f'mmdeploy is needed to deploy mmfasternet models with this '
            f'project ({error}). Install it with: {INSTALL_HINT}.') from error
    return mmdeploy


def _torchscript_exporter() -> bool:
    import torch
    if 'dynamo' not in inspect.signature(torch.onnx.export).parameters:
        return False  # torch < 2.5: the TorchScript exporter is the only one
    from mmdeploy.core import FUNCTION_REWRITER
    from mmdeploy.utils import IR

    def onnx_export_with_torchscript(*args, **kwargs):
        ctx = FUNCTION_REWRITER.get_context()
        kwargs.setdefault('dynamo', False)
        return ctx.origin_func(*args, **kwargs)

    return register_once('torch.onnx.export', onnx_export_with_torchscript,
                         ir=IR.ONNX)


def _cast_long_helper() -> bool:
    import torch.onnx.symbolic_opset9 as opset9
    if hasattr(opset9, '_cast_Long'):
        return False
    from torch._C import _onnx

    def _cast_Long(g, input, non_blocking):
        """The Cast to int64 that torch's opset-9 symbolics used to offer
        (the removed helper's signature)."""
        return g.op('Cast', input, to_i=_onnx.TensorProtoDataType.INT64)

    setattr(_cast_Long, MARK, True)
    opset9._cast_Long = _cast_Long
    return True


def _fasternet_cls_head_sdk() -> bool:
    from mmdeploy.codebase.mmpretrain.deploy.classification import (
        Classification,
    )
    original = Classification.get_postprocess
    if getattr(original, MARK, False):
        return False

    def get_postprocess(self, *args, **kwargs):
        head = self.model_cfg.model.head
        if head.get('type') != 'FasterNetClsHead':
            return original(self, *args, **kwargs)
        topk = head.get('topk', (1, ))
        return dict(
            type='LinearClsHead',
            params=dict(topk=max(topk) if isinstance(topk, (list, tuple))
                        else topk))

    setattr(get_postprocess, MARK, True)
    Classification.get_postprocess = get_postprocess
    return True


PATCHES = dict(
    torchscript_exporter=_torchscript_exporter,
    cast_long_helper=_cast_long_helper,
    fasternet_cls_head_sdk=_fasternet_cls_head_sdk,
)


def apply_patches() -> Tuple[str, ...]:
    """Apply the patches of this module's docstring where the installed
    versions need them and they are not applied yet.

    Returns:
        tuple[str]: Names of the patches (keys of :data:`PATCHES`) this
        call applied; empty when they were all in place already.

    Raises:
        ImportError: mmdeploy is not installed (see :func:`require_mmdeploy`).
    """
    mmdeploy = require_mmdeploy()
    applied = []
    for name, patch in PATCHES.items():
        try:
            if patch():
                applied.append(name)
        except Exception as error:  # another mmdeploy or torch: say so
            warnings.warn(f'mmdeploy_fasternet could not apply its patch '
                          f'{name!r} ({type(error).__name__}: {error}); '
                          f'exports that need it may fail.')
    if applied and mmdeploy.__version__ != MMDEPLOY_VERSION:
        warnings.warn(
            f'mmdeploy_fasternet was made for mmdeploy {MMDEPLOY_VERSION}, '
            f'found {mmdeploy.__version__}: its patches are applied where '
            f'their targets exist; check the parity figures that '
            f'projects/mmdeploy_fasternet/tools/deploy.py prints.')
    return tuple(applied)
