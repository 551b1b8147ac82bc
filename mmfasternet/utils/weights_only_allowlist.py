"""Let torch's weights-only unpickler (``torch.load(weights_only=True)``,
the default of torch >= 2.6) read what mmengine writes into checkpoints.

Checkpoints written by ``tools/train.py`` hold only plain values and load
without this (see :class:`~mmfasternet.engine.hooks.SafeCheckpointHook`).
Others may hold numpy arrays and scalars (in ``meta``) and mmengine's
``HistoryBuffer``; the tools call :func:`allow_mmengine_checkpoints` before
they load a checkpoint. A ``HistoryBuffer`` pickled with its statistics
methods needs ``builtins.getattr``, a general attribute-access primitive,
which is not allow-listed: such a file loads with
``torch.load(weights_only=False)`` only, from a source you trust.
"""
import importlib

import numpy as np
import torch

__all__ = ['allow_mmengine_checkpoints']


def _numpy_globals():
    # numpy 2 moved numpy.core to numpy._core; pickles name the module the
    # array was saved with, so allow-list the functions this numpy uses.
    multiarray = importlib.import_module(
        'numpy._core.multiarray' if np.__version__ >= '2' else
        'numpy.core.multiarray')
    allowed = [multiarray._reconstruct, multiarray.scalar, np.ndarray,
               np.dtype]
    # numpy >= 1.25 pickles dtypes by their class (numpy.dtypes.Float64DType)
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        allowed += [
            getattr(dtypes, name) for name in dir(dtypes)
            if name.endswith('DType')
        ]
    return allowed


def allow_mmengine_checkpoints() -> None:
    """Allow-list mmengine's ``HistoryBuffer`` and numpy's array and scalar
    types for torch's weights-only unpickler, in this process. Idempotent;
    a no-op on torch without ``torch.serialization.add_safe_globals``."""
    add_safe_globals = getattr(torch.serialization, 'add_safe_globals', None)
    if add_safe_globals is None:
        return
    from mmengine.logging import HistoryBuffer
    add_safe_globals([HistoryBuffer] + _numpy_globals())
