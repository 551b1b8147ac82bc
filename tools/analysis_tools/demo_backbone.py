"""A first look at the FasterNet backbone: every variant's parameters, FLOPs
and stage shapes, an original-layout checkpoint round trip, and the two PConv
forms timed side by side on this machine's CPU.

    python tools/analysis_tools/demo_backbone.py [--size 224] [--threads 2]
"""
import argparse
import os.path as osp
import tempfile
from collections import OrderedDict

import torch
from mmengine.analysis import get_model_complexity_info

from mmfasternet import FasterNet
from mmfasternet.utils.timing import interleaved_median_seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--size', type=int, default=224)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--repeats', type=int, default=10)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    x = torch.rand(1, 3, args.size, args.size)

    print(f'FasterNet backbones at {args.size}x{args.size}, batch 1, '
          f'{args.threads} CPU threads, eval mode, median of {args.repeats}')
    header = (f'{"arch":>4} {"params":>12} {"GFLOPs":>7}  {"stage shapes":<34}'
              f'{"split_cat ms":>13} {"split_mlp ms":>13} {"ratio":>6}')
    print(header)
    print('-' * len(header))
    for arch in FasterNet.arch_settings:
        model = FasterNet(arch=arch, out_norm=False).eval()
        params = sum(p.numel() for p in model.parameters())
        flops = get_model_complexity_info(
            model, input_shape=(3, args.size, args.size), show_table=False,
            show_arch=False)['flops']
        with torch.no_grad():
            shapes = ' '.join(
                f'{o.shape[1]}x{o.shape[2]}' for o in model(x))
        fast = FasterNet(
            arch=arch, out_norm=False, pconv_fw_type='split_mlp').eval()
        fast.load_state_dict(model.state_dict())
        plain_ms, fast_ms = (s * 1e3 for s in interleaved_median_seconds(
            [lambda: model(x), lambda: fast(x)], 2, args.repeats))
        print(f'{arch:>4} {params:>12,} {flops / 1e9:>7.2f}  {shapes:<34}'
              f'{plain_ms:>13.1f} {fast_ms:>13.1f} {fast_ms / plain_ms:>6.2f}')

    # Round trip through the original release layout.
    model = FasterNet(arch='t0', out_norm=False).eval()
    state = OrderedDict(model.state_dict())
    state['avgpool_pre_head.1.weight'] = torch.zeros(1280, 320, 1, 1)
    state['head.weight'] = torch.zeros(1000, 1280)
    state['head.bias'] = torch.zeros(1000)
    with tempfile.TemporaryDirectory() as tmp:
        path = osp.join(tmp, 'fasternet_t0-original-layout.pth')
        torch.save(state, path)
        loaded = FasterNet(
            arch='t0', out_norm=False,
            init_cfg=dict(type='Pretrained', checkpoint=path)).eval()
        loaded.init_weights()
    with torch.no_grad():
        same = all(
            torch.equal(a, b) for a, b in zip(model(x), loaded(x)))
    print(f'\noriginal-layout checkpoint round trip (T0): outputs identical: '
          f'{same}')


if __name__ == '__main__':
    main()
