"""ONNX export of FasterNet models and the onnxruntime parity check.

The deploy form exports as the paper's inference graph with BN folded:
per block, the 3x3 conv on a channel slice, PConv's output concatenated,
two 1x1 convs and the residual add, with dynamic batch, height and
width.
"""
import inspect
import os
import os.path as osp
import warnings
from collections import Counter
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn

from ..models import FasterNet

# Largest accepted max |onnx - torch| / max |torch|, per output.
PARITY_TOLERANCE = 1e-4


def default_output_names(model: nn.Module) -> List[str]:
    """``['logits']`` for a classifier, else ``out{i}`` for each stage the
    model's FasterNet returns."""
    if not isinstance(model, FasterNet) and hasattr(model, 'head'):
        return ['logits']
    backbone = next(m for m in model.modules() if isinstance(m, FasterNet))
    return [f'out{i}' for i in backbone.out_indices]


def _torchscript_exporter() -> dict:
    """The argument that picks the TorchScript exporter where
    ``torch.onnx.export`` offers a choice (``dynamo``, whose default
    became True in torch 2.9)."""
    parameters = inspect.signature(torch.onnx.export).parameters
    return dict(dynamo=False) if 'dynamo' in parameters else {}


def export(model: nn.Module, path: str, shape: Sequence[int] = (224, 224),
           batch: int = 1, opset: int = 17, channels_last: bool = False,
           output_names: Optional[Sequence[str]] = None) -> str:
    """Write ``model`` (in eval mode) to the ONNX file ``path`` (folders
    created) with the TorchScript exporter.

    The graph takes ``input`` (N, 3, H, W), NCHW float32, with dynamic N,
    H and W, and gives ``output_names`` (default
    :func:`default_output_names`): stage maps (N, C_i, H_i, W_i) with
    dynamic sizes, or ``logits`` (N, num_classes). The model is traced on
    a random (``batch``, 3, H, W) example for ``shape`` (H, W);
    ``channels_last`` traces with a channels_last example and model (the
    deploy form exports the same conv graph either way).

    The TorchScript exporter is used because it folds the weight slices
    into initializers, which the compact graph and mmdeploy need; on torch
    2.14 the torch.export one fails on the channels_last path (a
    symbolic-shape guard from the memory-format test on symbolic H/W) and
    leaves a graph that slices the weights on the NCHW one.

    Returns:
        str: ``path``.
    """
    output_names = list(output_names or default_output_names(model))
    x = torch.randn(batch, 3, *shape,
                    generator=torch.Generator().manual_seed(0))
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    dynamic_axes = {'input': {0: 'batch', 2: 'height', 3: 'width'}}
    for name in output_names:
        dynamic_axes[name] = ({0: 'batch'} if name == 'logits' else {
            0: 'batch', 2: f'{name}_height', 3: f'{name}_width'})
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with torch.no_grad(), warnings.catch_warnings():
        # "legacy TorchScript-based ONNX export" and its internals' notices.
        warnings.simplefilter('ignore', DeprecationWarning)
        torch.onnx.export(
            model, (x, ), path, input_names=['input'],
            output_names=output_names, dynamic_axes=dynamic_axes,
            opset_version=opset, do_constant_folding=True,
            **_torchscript_exporter())
    return path


def graph_summary(path: str) -> dict:
    """Check an ONNX file with ``onnx.checker`` and describe it.

    Returns:
        dict: ``nodes`` (all), ``compute_nodes`` (without ``Constant``),
        ``ops`` (a Counter of op types), ``opset`` and ``size`` (bytes).

    Raises:
        onnx.checker.ValidationError: for an invalid model.
    """
    import onnx
    graph_model = onnx.load(path)
    onnx.checker.check_model(graph_model)
    ops = Counter(node.op_type for node in graph_model.graph.node)
    opset = next(o.version for o in graph_model.opset_import
                 if o.domain in ('', 'ai.onnx'))
    return dict(
        nodes=sum(ops.values()),
        compute_nodes=sum(ops.values()) - ops['Constant'],
        ops=ops,
        opset=opset,
        size=osp.getsize(path))


def onnxruntime_session(path: str, threads: Optional[int] = None,
                        spinning: bool = False):
    """An onnxruntime ``InferenceSession`` for the ONNX file ``path`` on
    the CPU execution provider, with ``threads`` intra-op threads
    (default: PyTorch's number) and one inter-op thread.

    ``spinning=False`` makes idle onnxruntime threads sleep instead of
    spinning, so that they leave the cores to PyTorch when both run in
    turn (a backbone in onnxruntime, its heads in PyTorch; rows of both
    timed alternately); a session timed alone may spin.
    """
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or max(1,
                                                  torch.get_num_threads())
    options.inter_op_num_threads = 1
    if not spinning:
        options.add_session_config_entry('session.intra_op.allow_spinning',
                                         '0')
    return ort.InferenceSession(path, options,
                                providers=['CPUExecutionProvider'])


def relative_errors(got: Sequence[torch.Tensor],
                    expected: Sequence[torch.Tensor],
                    norm: str = 'max') -> List[float]:
    """Per output pair, the error of ``got`` relative to ``expected``:
    ``norm='max'``, max |got - expected| / max |expected|; ``norm='l2'``,
    the relative RMS error ||got - expected||_2 / ||expected||_2. inf where
    the two shapes differ; pairs beyond the shorter sequence are not
    compared."""
    if norm not in ('max', 'l2'):
        raise ValueError(f"norm must be 'max' or 'l2', not {norm!r}.")
    errors = []
    for a, b in zip(got, expected):
        if a.shape != b.shape:
            errors.append(float('inf'))
            continue
        diff, b = a.float() - b.float(), b.float()
        if norm == 'max':
            error, scale = diff.abs().max(), b.abs().max()
        else:
            error, scale = diff.norm(), b.norm()
        errors.append(float(error) / max(float(scale), 1e-12))
    return errors


def check_parity(path: str, model: nn.Module,
                 shapes: Sequence[Tuple[int, int, int]],
                 channels_last: bool = False, seed: int = 1) -> List[dict]:
    """Run the ONNX file ``path`` in onnxruntime (CPU) and ``model`` in
    PyTorch on the same random input for each (batch, H, W) of
    ``shapes`` (``channels_last``: the PyTorch input in that format).

    Returns:
        list[dict]: per shape, ``shape`` (N, 3, H, W), ``errors`` (max
        |onnx - torch| / max |torch| per output; inf where the output
        shapes differ) and ``ok`` (same number and shapes of outputs, every
        error <= :data:`PARITY_TOLERANCE`).
    """
    session = onnxruntime_session(path)
    generator = torch.Generator().manual_seed(seed)
    results = []
    for batch, height, width in shapes:
        x = torch.randn(batch, 3, height, width, generator=generator)
        got = session.run(None, {'input': x.numpy()})
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.no_grad():
            expected = model(x)
        if isinstance(expected, torch.Tensor):
            expected = (expected, )
        got = [torch.from_numpy(a) for a in got]
        errors = relative_errors(got, expected)
        same_shapes = len(got) == len(expected) and all(
            a.shape == b.shape for a, b in zip(got, expected))
        results.append(
            dict(shape=(batch, 3, height, width), errors=errors,
                 ok=same_shapes and max(errors) <= PARITY_TOLERANCE))
    return results
