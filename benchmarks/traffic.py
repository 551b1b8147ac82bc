"""Memory traffic and FLOPs of a model, op by op, and of a FasterNet
backbone in the paper's protocol and in the deploy form.

An eager (unfused) run reads every input of every op from memory and writes
every output back, so the bytes counted here are what an accelerator's
memory must move per image, and bandwidth / bytes is a ceiling on img/s
that no kernel tuning lifts; peak FLOP/s / FLOPs is the compute ceiling.
The command's defaults are an H200's (4.8 TB/s HBM3e, 790 TFLOP/s dense
bf16). Counting runs on the CPU, so it explains GPU figures without a GPU.

    python -m benchmarks.traffic --arch s --dtype bf16 --channels-last
"""
import argparse
from collections import defaultdict
from typing import Dict, Sequence, Tuple

import torch
import torch.nn as nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten
from torch.utils.flop_counter import FlopCounterMode

from benchmarks.inference import backbone_forms
from benchmarks.timing import DTYPES
from mmfasternet import FasterNet


def distinct_bytes(tensor: torch.Tensor) -> int:
    """Bytes of the distinct elements a tensor addresses: a broadcast
    (stride 0) dimension, such as a weight expanded over the batch for a
    batched GEMM, is read once."""
    elements = 1
    for size, stride in zip(tensor.shape, tensor.stride()):
        if stride != 0:
            elements *= size
    return elements * tensor.element_size()


class ByteCounter(TorchDispatchMode):
    """Bytes read and written per aten op: the elements of every tensor
    argument and every output. Ops whose output is a view of an input
    (split, slicing, reshapes) move nothing and are not counted; in-place
    ops (``addmm_``, ``relu_``) are. Also counts the FLOPs of the in-place
    matrix products, which torch's FlopCounterMode leaves out."""

    def __init__(self):
        super().__init__()
        self.read = defaultdict(int)
        self.written = defaultdict(int)
        self.calls = defaultdict(int)
        self.inplace_matmul_flops = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        inputs = [t for t in tree_flatten((args, kwargs))[0]
                  if isinstance(t, torch.Tensor)]
        outputs = [t for t in tree_flatten(out)[0]
                   if isinstance(t, torch.Tensor)]
        storages = {t.untyped_storage().data_ptr() for t in inputs}
        if (not func._schema.is_mutable and outputs
                and all(t.untyped_storage().data_ptr() in storages
                        for t in outputs)):
            return out  # a view: no data moves
        name = func.overloadpacket.__name__
        self.calls[name] += 1
        self.read[name] += sum(map(distinct_bytes, inputs))
        self.written[name] += sum(map(distinct_bytes, outputs))
        if name in ('addmm_', 'baddbmm_'):
            _, left, right = args[:3]
            self.inplace_matmul_flops += 2 * left.numel() * right.shape[-1]
        return out


def count_traffic(model: nn.Module, x: torch.Tensor
                  ) -> Tuple[Dict[str, Tuple[int, int, int]], int]:
    """Bytes moved by one forward of ``model`` on ``x``, as ``{op name:
    (bytes read, bytes written, calls)}``, and its FLOPs (2 per
    multiply-accumulate, torch's FlopCounterMode plus the in-place matrix
    products)."""
    with torch.no_grad():
        with ByteCounter() as bytes_mode:
            model(x)
        with FlopCounterMode(display=False) as flop_mode:
            model(x)
    per_op = {name: (bytes_mode.read[name], bytes_mode.written[name],
                     bytes_mode.calls[name])
              for name in bytes_mode.calls}
    flops = flop_mode.get_total_flops() + bytes_mode.inplace_matmul_flops
    return per_op, flops


def traffic_per_image(model: nn.Module, example: torch.Tensor, batch: int
                      ) -> Tuple[Dict[str, Tuple[float, int]], float, float,
                                 float]:
    """Traffic and FLOPs per image at ``batch``, from ``example`` (one
    image, (1, 3, H, W)): counted at batch 1 and 2, whose difference is
    what one more image costs (activations) and the rest what a batch reads
    once (weights), so large batches need not be run.

    Returns:
        tuple: ``{op: (bytes, calls at batch 1)}``, total bytes, weight
        bytes and FLOPs, all per image.
    """
    one, flops_one = count_traffic(model, example)
    two, flops_two = count_traffic(model, torch.cat([example, example]))
    by_op, total, weights = {}, 0., 0.
    for name in one:
        moved_one = sum(one[name][:2])
        moved_two = sum(two[name][:2])
        activations = moved_two - moved_one
        fixed = moved_one - activations
        by_op[name] = (activations + fixed / batch, one[name][2])
        total += by_op[name][0]
        weights += fixed / batch
    flops = flops_two - flops_one
    return by_op, total, weights, flops


def backbone_traffic(arch: str, dtype: str = 'bf16',
                     channels_last: bool = False,
                     shape: Sequence[int] = (224, 224), batch: int = 256,
                     bandwidth: float = 4.8, peak: float = 790) -> dict:
    """Traffic, FLOPs and the ceilings they put on throughput for the
    paper protocol and the deploy form of a FasterNet (last stage only, no
    output norm; :func:`backbone_forms`) at input (H, W) ``shape``.

    Args:
        dtype: a key of :data:`DTYPES`.
        batch: the batch whose per-image traffic is reported (weights are
            read once per batch; it is not run at that batch).
        bandwidth: memory bandwidth in TB/s (H200 HBM3e: 4.8).
        peak: peak TFLOP/s (H200 dense bf16: about 790).

    Returns:
        dict: for ``'paper'`` and ``'deploy'``: ``bytes`` (per image),
        ``weight_bytes`` (the weights' share), ``flops`` (per image),
        ``memory_ceiling`` and ``compute_ceiling`` (img/s) and ``ops``
        (``{op: (bytes per image, calls)}``).
    """
    torch.manual_seed(0)
    torch_dtype = DTYPES[dtype]
    memory_format = (torch.channels_last if channels_last else
                     torch.contiguous_format)
    forms = backbone_forms(arch, torch.randn(1, 3, *shape), out_indices=(3, ))
    x = torch.randn(1, 3, *shape, dtype=torch_dtype)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    results = {}
    for name, model in forms.items():
        model = model.to(dtype=torch_dtype, memory_format=memory_format)
        by_op, total, weights, flops = traffic_per_image(model, x, batch)
        results[name] = dict(bytes=total, weight_bytes=weights, flops=flops,
                             memory_ceiling=bandwidth * 1e12 / total,
                             compute_ceiling=peak * 1e12 / flops, ops=by_op)
    return results


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog='python -m benchmarks.traffic',
        description=__doc__.split('\n\n')[0])
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
