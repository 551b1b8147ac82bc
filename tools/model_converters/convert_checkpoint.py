"""Write any FasterNet checkpoint as an mmfasternet checkpoint.

Reads an original ImageNet ``.pth``, a timm ``fasternet_*`` state dict, an
mmdet 2.x/3.x, mmseg or mmpretrain checkpoint (its ``backbone.`` part) or an
mmfasternet one, checks that it loads into the FasterNet backbone of its
variant, and saves ``{'meta': ..., 'state_dict': ...}`` with mmfasternet's
(= the original's) key names: backbone, output norms if present, and the
classification head (``avgpool_pre_head.1``, ``head``; from an mmpretrain
classifier's ``FasterNetClsHead`` too) unless --no-head.

Example:
    python tools/model_converters/convert_checkpoint.py fasternet_s-epoch.299-val_acc1.81.2840.pth \
        checkpoints/fasternet_s_mmfasternet.pth
"""
import argparse
import os
import os.path as osp
from collections import OrderedDict

import torch

from mmfasternet import FasterNet, __version__
from mmfasternet.models.utils import (
    inspect_checkpoint,
    load_pretrained_backbone,
)
from mmfasternet.models.utils.state_dict_layouts import (
    HEAD_KEY_PATTERN,
    OUT_NORM_PATTERN,
)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('src', help='checkpoint to convert')
    parser.add_argument('dst', help='where to write the mmfasternet one')
    parser.add_argument(
        '--prefix',
        help='take the weights under this key prefix (default: '
        '"backbone." when present, else all keys)')
    parser.add_argument(
        '--no-head',
        action='store_true',
        help='drop the classification head keys')
    parser.add_argument(
        '--overwrite', action='store_true', help='replace an existing dst')
    return parser.parse_args(argv)


def convert(src, dst, prefix=None, keep_head=True, overwrite=False):
    if osp.exists(dst) and not overwrite:
        raise FileExistsError(f'{dst} exists; pass --overwrite to replace it.')
    info = inspect_checkpoint(src, prefix)
    state_dict, arch = info.state_dict, info.arch
    if arch is None:
        raise SystemExit(f'{src} holds no FasterNet weights '
                         f'(no patch_embed.proj.weight after unwrapping).')
    arch_cfg = arch['name'] if arch['name'] != 'custom' else dict(
        embed_dims=arch['embed_dims'], depths=arch['depths'])
    out_norm_stages = sorted({
        int(key[len('norm')]) // 2
        for key in state_dict if OUT_NORM_PATTERN.match(key)
    })
    model = FasterNet(
        arch=arch_cfg,
        out_indices=out_norm_stages or (0, 1, 2, 3),
        out_norm=bool(out_norm_stages))
    # Validates shapes and completeness with the same rules as training.
    load_pretrained_backbone(model, src, prefix=prefix)

    kept = OrderedDict(model.state_dict())
    if keep_head:
        kept.update((key, value) for key, value in state_dict.items()
                    if HEAD_KEY_PATTERN.match(key))
    meta = dict(
        mmfasternet_version=__version__,
        arch=arch['name'],
        embed_dims=arch['embed_dims'],
        depths=list(arch['depths']),
        source=osp.basename(src),
        source_layout=info.layout)
    os.makedirs(osp.dirname(osp.abspath(dst)), exist_ok=True)
    torch.save(dict(meta=meta, state_dict=kept), dst)
    return meta, len(kept)


def main(argv=None):
    args = parse_args(argv)
    meta, count = convert(args.src, args.dst, args.prefix, not args.no_head,
                          args.overwrite)
    print(f'wrote {args.dst}: {count} tensors, FasterNet-'
          f'{meta["arch"].upper()} from the {meta["source_layout"]} layout')


if __name__ == '__main__':
    main()
