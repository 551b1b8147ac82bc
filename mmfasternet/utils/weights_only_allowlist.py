"""Let torch >= 2.6's safe checkpoint loading (``weights_only=True``, the new
default of ``torch.load``) read mmengine's checkpoints, so that ``--resume``
works, without switching the safety off.

mmengine pickles its ``MessageHub`` into every checkpoint: ``HistoryBuffer``
objects holding numpy arrays, and the buffer's statistics functions
(``HistoryBuffer.min`` ...), which protocol-2 pickles reach through
``builtins.getattr``. Rather than allow-listing ``getattr`` (a general
attribute-access primitive), buffers pickled after this import leave out the
four built-in statistics, which ``HistoryBuffer.__setstate__`` registers again
on load anyway; the data classes are allow-listed.
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


_BUILTIN_STATISTICS = ('min', 'max', 'current', 'mean')


def _history_buffer_state(buffer) -> dict:
    state = dict(buffer.__dict__)
    custom = {
        name: method
        for name, method in buffer._statistics_methods.items()
        if name not in _BUILTIN_STATISTICS
    }
    state.pop('statistics_methods', None)
    if custom:
        state['statistics_methods'] = custom
    return state


def allow_mmengine_checkpoints():
    """Allow-list the data classes mmengine checkpoints contain and make new
    ones loadable with ``weights_only=True``. Idempotent; a no-op on torch
    without ``add_safe_globals``."""
    add_safe_globals = getattr(torch.serialization, 'add_safe_globals', None)
    if add_safe_globals is None:
        return
    from mmengine.logging import HistoryBuffer
    HistoryBuffer.__getstate__ = _history_buffer_state
    add_safe_globals([HistoryBuffer] + _numpy_globals())
