"""The FasterNet paper's Table 1 on your hardware: 10 stacked layers of
Conv 3x3, GConv 3x3 (16 groups), DWConv 3x3 and PConv (3x3 on a quarter of
the channels) on the four stage shapes of FasterNet-T0-like models
(96x56x56, 192x28x28, 384x14x14, 768x7x7); FLOPs, latency and achieved
FLOPS per operator, with each operator's FLOPS as a multiple of DWConv's
measured in the same run. FLOPs are multiply-accumulates, as the paper
counts them.

    python -m benchmarks.operators --device cpu --threads 1 --batch 1
    python -m benchmarks.operators --device cuda --batch 32 --json ops.json
"""
import argparse
import json
from typing import List

import torch
import torch.nn as nn

from benchmarks.timing import DTYPES, median_seconds
from mmfasternet.models.backbones.fasternet import PartialConv

SHAPES = ((96, 56, 56), (192, 28, 28), (384, 14, 14), (768, 7, 7))
OPERATORS = ('Conv', 'GConv', 'DWConv', 'PConv')
LAYERS = 10
_GROUPS = dict(Conv=1, GConv=16)


def build_operator(name: str, channels: int) -> nn.Module:
    """One layer of operator ``name`` (:data:`OPERATORS`) on ``channels``
    channels, same size out.

    Raises:
        KeyError: for another name.
    """
    if name == 'PConv':
        return PartialConv(channels, n_div=4)
    groups = channels if name == 'DWConv' else _GROUPS[name]
    return nn.Conv2d(channels, channels, 3, 1, 1, groups=groups, bias=False)


def operator_macs(name: str, channels: int, height: int, width: int) -> int:
    """Multiply-accumulates of one layer on one (channels, H, W) image."""
    if name == 'PConv':
        part = channels // 4
        return height * width * 9 * part * part
    groups = channels if name == 'DWConv' else _GROUPS[name]
    return height * width * 9 * channels * channels // groups


def add_dwconv_ratios(rows: List[dict]) -> List[dict]:
    """Add ``flops_vs_dwconv`` to every row, in place: its achieved FLOPS
    (``gflops_per_s``) over DWConv's on the same input ``shape``. Returns
    ``rows``.

    Raises:
        KeyError: when a shape has no DWConv row.
    """
    dwconv = {row['shape']: row['gflops_per_s'] for row in rows
              if row['operator'] == 'DWConv'}
    for row in rows:
        row['flops_vs_dwconv'] = row['gflops_per_s'] / dwconv[row['shape']]
    return rows


def benchmark_operators(device: str = 'cpu', batch: int = 1,
                        warmup: int = 5, repeats: int = 20,
                        dtype: str = 'fp32',
                        channels_last: bool = False) -> List[dict]:
    """Time :data:`LAYERS` stacked layers of each operator on each of
    :data:`SHAPES` (eval mode, random input of ``batch`` images).

    Returns:
        list[dict]: per shape and operator (in :data:`OPERATORS` order):
        ``operator``, ``shape`` (``'CxHxW'``), ``gflops`` (GMACs of the
        stack on the batch), ``latency_ms`` (median), ``gflops_per_s``
        and ``flops_vs_dwconv`` (:func:`add_dwconv_ratios`).
    """
    device = torch.device(device)
    torch_dtype = DTYPES[dtype]
    memory_format = (torch.channels_last if channels_last else
                     torch.contiguous_format)
    rows = []
    for channels, height, width in SHAPES:
        x = torch.randn(batch, channels, height, width, device=device,
                        dtype=torch_dtype).to(memory_format=memory_format)
        for name in OPERATORS:
            stack = nn.Sequential(*[
                build_operator(name, channels) for _ in range(LAYERS)
            ]).to(device, torch_dtype, memory_format=memory_format).eval()
            seconds = median_seconds(lambda: stack(x), warmup, repeats,
                                     device)
            macs = LAYERS * batch * operator_macs(name, channels, height,
                                                  width)
            rows.append(dict(
                operator=name,
                shape=f'{channels}x{height}x{width}',
                gflops=macs / 1e9,
                latency_ms=seconds * 1e3,
                gflops_per_s=macs / seconds / 1e9))
    return add_dwconv_ratios(rows)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog='python -m benchmarks.operators',
        description=__doc__.split('\n\n')[0])
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--batch', type=int, default=None,
                        help='default: 1 on the CPU, 32 on a GPU')
    parser.add_argument('--threads', type=int, default=None,
                        help='CPU threads (default: torch\'s)')
    parser.add_argument('--dtype', choices=sorted(DTYPES), default='fp32')
    parser.add_argument('--channels-last', action='store_true')
    parser.add_argument('--warmup', type=int, default=5)
    parser.add_argument('--repeats', type=int, default=20)
    parser.add_argument('--json', help='also write the rows here')
    args = parser.parse_args(argv)
    batch = args.batch or (1 if args.device == 'cpu' else 32)
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = benchmark_operators(args.device, batch, args.warmup, args.repeats,
                               args.dtype, args.channels_last)
    threads = torch.get_num_threads()
    print(f'10 stacked layers, batch {batch}, {args.dtype}, device '
          f'{args.device}' + (f' ({threads} threads)'
                              if args.device == 'cpu' else '') +
          f', median of {args.repeats}')
    print(f'{"operator":<8} {"input":<11} {"GFLOPs":>8} {"ms":>9} '
          f'{"GFLOPS":>9} {"x DWConv":>9}')
    for row in rows:
        print(f'{row["operator"]:<8} {row["shape"]:<11} {row["gflops"]:>8.3f} '
              f'{row["latency_ms"]:>9.3f} {row["gflops_per_s"]:>9.1f} '
              f'{row["flops_vs_dwconv"]:>9.2f}')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(dict(device=args.device, batch=batch, dtype=args.dtype,
                           threads=threads, rows=rows), f, indent=1)
    return rows


if __name__ == '__main__':
    main()
