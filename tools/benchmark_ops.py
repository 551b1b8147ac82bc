"""The FasterNet paper's Table 1 on your hardware: 10 stacked layers of
Conv 3x3, GConv 3x3 (16 groups), DWConv 3x3 and PConv (3x3 on a quarter of
the channels) on 96x56x56, 192x28x28, 384x14x14 and 768x7x7 inputs; FLOPs,
latency and achieved FLOPS per operator, with each operator's FLOPS as a
multiple of DWConv's measured in the same run.

    python tools/benchmark_ops.py --device cpu --threads 1 --batch 1
    python tools/benchmark_ops.py --device cuda --batch 32 --json ops.json

FLOPs are multiply-accumulates, as the paper counts them.
"""
import argparse
import json
import os.path as osp
import statistics
import sys
import time

import torch
import torch.nn as nn

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmfasternet.models.backbones.fasternet import PartialConv  # noqa: E402

SHAPES = ((96, 56, 56), (192, 28, 28), (384, 14, 14), (768, 7, 7))
OPERATORS = ('Conv', 'GConv', 'DWConv', 'PConv')
LAYERS = 10


def build_operator(name: str, channels: int) -> nn.Module:
    if name == 'PConv':
        return PartialConv(channels, n_div=4)
    groups = dict(Conv=1, GConv=16, DWConv=channels)[name]
    return nn.Conv2d(channels, channels, 3, 1, 1, groups=groups, bias=False)


def operator_macs(name: str, channels: int, height: int, width: int) -> int:
    """Multiply-accumulates of one layer on one image."""
    if name == 'PConv':
        part = channels // 4
        return height * width * 9 * part * part
    groups = dict(Conv=1, GConv=16, DWConv=channels)[name]
    return height * width * 9 * channels * channels // groups


def time_module(module, x, warmup, repeats, device):
    def sync():
        if device.type == 'cuda':
            torch.cuda.synchronize()

    with torch.no_grad():
        for _ in range(warmup):
            module(x)
        sync()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            module(x)
            sync()
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def run(device='cpu', batch=1, threads=None, warmup=5, repeats=20,
        dtype='fp32', channels_last=False):
    device = torch.device(device)
    if threads:
        torch.set_num_threads(threads)
    torch_dtype = dict(fp32=torch.float32, fp16=torch.float16,
                       bf16=torch.bfloat16)[dtype]
    rows = []
    for channels, height, width in SHAPES:
        x = torch.randn(batch, channels, height, width, device=device,
                        dtype=torch_dtype)
        memory_format = (torch.channels_last if channels_last else
                         torch.contiguous_format)
        x = x.to(memory_format=memory_format)
        measured = {}
        for name in OPERATORS:
            stack = nn.Sequential(*[
                build_operator(name, channels) for _ in range(LAYERS)
            ]).to(device, torch_dtype, memory_format=memory_format).eval()
            seconds = time_module(stack, x, warmup, repeats, device)
            macs = LAYERS * batch * operator_macs(name, channels, height,
                                                  width)
            measured[name] = dict(
                operator=name,
                shape=f'{channels}x{height}x{width}',
                gflops=macs / 1e9,
                latency_ms=seconds * 1e3,
                gflops_per_s=macs / seconds / 1e9)
        for name in OPERATORS:
            row = measured[name]
            row['flops_vs_dwconv'] = (
                row['gflops_per_s'] / measured['DWConv']['gflops_per_s'])
            rows.append(row)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--batch', type=int, default=None,
                        help='default: 1 on the CPU, 32 on a GPU')
    parser.add_argument('--threads', type=int, default=None,
                        help='CPU threads (default: torch\'s)')
    parser.add_argument('--dtype', choices=['fp32', 'fp16', 'bf16'],
                        default='fp32')
    parser.add_argument('--channels-last', action='store_true')
    parser.add_argument('--warmup', type=int, default=5)
    parser.add_argument('--repeats', type=int, default=20)
    parser.add_argument('--json', help='also write the rows here')
    args = parser.parse_args(argv)
    batch = args.batch or (1 if args.device == 'cpu' else 32)
    rows = run(args.device, batch, args.threads, args.warmup, args.repeats,
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
