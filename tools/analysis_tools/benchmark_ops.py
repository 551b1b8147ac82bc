"""The FasterNet paper's Table 1 on your hardware: 10 stacked layers of
Conv 3x3, GConv 3x3 (16 groups), DWConv 3x3 and PConv (3x3 on a quarter of
the channels) on 96x56x56, 192x28x28, 384x14x14 and 768x7x7 inputs; FLOPs,
latency and achieved FLOPS per operator, with each operator's FLOPS as a
multiple of DWConv's measured in the same run.

    python tools/analysis_tools/benchmark_ops.py --device cpu --threads 1 --batch 1
    python tools/analysis_tools/benchmark_ops.py --device cuda --batch 32 --json ops.json

FLOPs are multiply-accumulates, as the paper counts them.
"""
import argparse
import json

import torch

from mmfasternet.analysis import benchmark_operators


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
