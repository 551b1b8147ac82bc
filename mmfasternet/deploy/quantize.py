"""INT8 quantization of an exported module, one model for both INT8
runtimes.

onnxruntime's static quantization rewrites the fp32 ONNX export into a QDQ
graph (QuantizeLinear / DequantizeLinear pairs around each quantized
operator): int8 weights with one scale per output channel, uint8
activations with the ranges (min / max) seen on calibration batches.
onnxruntime runs that graph with its INT8 kernels; OpenVINO reads the same
file and fuses the pairs into its own INT8 kernels. One calibration thus
serves ``onnxruntime-int8`` and ``openvino-int8``.
"""
import logging
import os
import os.path as osp
import tempfile
from typing import Iterable, Optional, Sequence

import torch
import torch.nn as nn

from .onnx import export

__all__ = ['quantize_module', 'quantize_onnx']

# onnxruntime's quantizer logs these on the root logger for every FasterNet
# export: a suggestion to pre-process (shape inference, which the export's
# graph does not need) and, per output norm (BatchNormalization), that its
# 1-d weight has no channel axis to quantize along (it stays float).
_QUIET = ('consider to run pre-processing', 'consider pre-processing',
          'is out-of-range for weight')


class _QuietFilter(logging.Filter):

    def filter(self, record) -> bool:
        return not any(text in record.getMessage() for text in _QUIET)


# Calibration keeps the intermediate outputs of this many batches in
# memory before it reduces them to their ranges.
_BATCHES_IN_MEMORY = 16


def quantize_onnx(fp32_path: str, int8_path: str,
                  calibration: Iterable[torch.Tensor]) -> str:
    """Write the QDQ INT8 model of the ONNX file ``fp32_path`` (one input,
    ``input``) into ``int8_path`` (folders created), its activation ranges
    taken from running ``fp32_path`` in onnxruntime on the
    ``calibration`` batches ((N, 3, H, W) float tensors; sizes may
    differ from batch to batch).

    Returns:
        str: ``int8_path``.

    Raises:
        ValueError: ``calibration`` gave no batch.
    """
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    class Reader(CalibrationDataReader):

        def __init__(self):
            self.batches = iter(calibration)
            self.count = 0

        def get_next(self) -> Optional[dict]:
            batch = next(self.batches, None)
            if batch is None:
                return None
            self.count += 1
            return {'input': batch.detach().float().cpu().numpy()}

    reader = Reader()
    os.makedirs(osp.dirname(osp.abspath(int8_path)), exist_ok=True)
    quiet = _QuietFilter()
    logging.getLogger().addFilter(quiet)
    try:
        quantize_static(
            fp32_path, int8_path, reader, quant_format=QuantFormat.QDQ,
            per_channel=True, activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
            extra_options=dict(
                CalibMaxIntermediateOutputs=_BATCHES_IN_MEMORY))
    finally:
        logging.getLogger().removeFilter(quiet)
    if reader.count == 0:
        raise ValueError('no calibration batch was given.')
    return int8_path


def quantize_module(module: nn.Module, path: str, example: torch.Tensor,
                    calibration: Iterable[torch.Tensor],
                    output_names: Optional[Sequence[str]] = None) -> str:
    """Export ``module`` (eval mode, CPU, one (N, 3, H, W) input) to ONNX
    as :func:`~mmfasternet.deploy.onnx.export` does (traced on
    ``example``'s shape, dynamic N, H and W) and write its INT8 model
    (:func:`quantize_onnx`) into ``path``. ``output_names`` default to
    ``out0``, ``out1``, ... for each output of ``module(example)``.

    Returns:
        str: ``path``.
    """
    if output_names is None:
        with torch.no_grad():
            outputs = module(example)
        count = 1 if isinstance(outputs, torch.Tensor) else len(outputs)
        output_names = [f'out{i}' for i in range(count)]
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = export(module, osp.join(tmp, 'fp32.onnx'),
                      shape=tuple(example.shape[2:]), batch=example.shape[0],
                      output_names=output_names)
        return quantize_onnx(fp32, path, calibration)
