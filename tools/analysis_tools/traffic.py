"""Count the memory traffic and FLOPs of a FasterNet backbone, op by op, in
the paper's protocol and in the deploy form.

An eager (unfused) run reads every input of every op from memory and writes
every output back, so the bytes counted here are what an accelerator's
memory must move per image, and bandwidth / bytes is a ceiling on img/s that
no kernel tuning lifts; peak FLOP/s / FLOPs is the compute ceiling. The
defaults are an H200's (4.8 TB/s HBM3e, 790 TFLOP/s dense bf16). Counting
runs on the CPU, so it explains GPU figures without a GPU.

    python tools/analysis_tools/traffic.py --arch s --dtype bf16 --channels-last
"""
import argparse

from mmfasternet import FasterNet
from mmfasternet.analysis import DTYPES, backbone_traffic


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--arch', default='s',
                        choices=sorted(FasterNet.arch_settings))
    parser.add_argument('--dtype', choices=sorted(DTYPES), default='bf16')
    parser.add_argument('--channels-last', action='store_true')
    parser.add_argument('--shape', type=int, nargs=2, default=(224, 224),
                        metavar=('H', 'W'))
    parser.add_argument('--batch', type=int, default=256,
                        help='batch whose per-image traffic is reported '
                        '(weights are read once per batch; not run at it)')
    parser.add_argument('--bandwidth', type=float, default=4.8,
                        help='memory bandwidth, TB/s (H200: 4.8)')
    parser.add_argument('--peak', type=float, default=790,
                        help='peak TFLOP/s (H200 dense bf16: about 790)')
    parser.add_argument('--top', type=int, default=6,
                        help='ops to list per form')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    print(f'FasterNet-{args.arch.upper()}, {args.dtype}, '
          f'{"channels_last" if args.channels_last else "NCHW"}, '
          f'{args.shape[0]}x{args.shape[1]}, batch {args.batch}; ceilings at '
          f'{args.bandwidth:g} TB/s and {args.peak:g} TFLOP/s')
    results = backbone_traffic(args.arch, args.dtype, args.channels_last,
                               args.shape, args.batch, args.bandwidth,
                               args.peak)
    for name, result in results.items():
        total = result['bytes']
        print(f'{name:<7} {total / 2**20:8.2f} MiB/image moved '
              f'({result["weight_bytes"] / 2**20:.2f} of it weights), '
              f'{result["flops"] / 1e9:.2f} GFLOP/image: memory ceiling '
              f'{result["memory_ceiling"]:,.0f} img/s, compute ceiling '
              f'{result["compute_ceiling"]:,.0f} img/s')
        ranked = sorted(result['ops'].items(), key=lambda item: -item[1][0])
        for op, (moved, calls) in ranked[:args.top]:
            print(f'          {op:<28} {moved / 2**20:7.2f} MiB '
                  f'({100 * moved / total:4.1f}%, {calls} calls)')
    ratio = results['paper']['bytes'] / results['deploy']['bytes']
    print(f'deploy moves {1 / ratio:.2f}x the bytes of the paper protocol')
    return results


if __name__ == '__main__':
    main()
