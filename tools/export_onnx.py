"""Export a FasterNet backbone or ImageNet classifier to ONNX.

The backbone is exported in its deploy form by default (BN folded, PConv and
the MLP as convs on channel slices, no concatenation), with dynamic batch,
height and width. ``--what classifier`` exports mmpretrain's ImageClassifier
with FasterNet's head (global pool, 1x1 conv to 1280 + activation, linear)
to logits, weights from an original, timm or mmfasternet/mmpretrain
classifier checkpoint. ``--check`` compares onnxruntime with
PyTorch at the export shape and at a second shape.

    python tools/export_onnx.py --arch s --checkpoint fasternet_s.pth \
        --what classifier --check fasternet_s.onnx
    python tools/export_onnx.py --arch t0 --shape 800 1216 --check t0.onnx

Unlike the original's in-place "slicing" PConv (T0: 1488 nodes, 13
ScatterND), the deploy graph of T0 has 320 nodes, 177 without constants.
(Random weights add Identity nodes: the exporter shares the equal tensors of
fresh BNs.)
"""
import argparse
import os
import os.path as osp
import sys
import warnings
from collections import Counter

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmfasternet import FasterNet  # noqa: E402
from mmfasternet.deploy import switch_to_deploy  # noqa: E402
from mmfasternet.models.utils.checkpoint import (  # noqa: E402
    classifier_head_to_original, infer_arch, read_checkpoint, select_prefix,
    to_original_layout, unwrap_state_dict)

HEAD_KEYS = ('avgpool_pre_head.1.weight', 'head.weight', 'head.bias')
PARITY_TOLERANCE = 1e-4  # max |onnx - torch| / max |torch|, per output


def read_head(checkpoint: str, state_dict: dict = None) -> dict:
    """The classification head tensors of ``checkpoint`` under the original
    names (``state_dict``: its tensors, already read and in the original
    layout). Reads original, timm and mmpretrain classifier checkpoints."""
    if state_dict is None:
        state_dict, _ = to_original_layout(
            unwrap_state_dict(read_checkpoint(checkpoint)))
    head = dict(state_dict)
    head.update(classifier_head_to_original(state_dict))
    missing = [key for key in HEAD_KEYS if key not in head]
    if missing:
        raise ValueError(
            f'{checkpoint!r} holds no FasterNet classification head '
            f'(missing {missing}); export --what backbone instead.')
    return {key: head[key] for key in HEAD_KEYS}


def build_classifier(backbone: FasterNet, state_dict: dict = None,
                     head: dict = None) -> nn.Module:
    """mmpretrain's ImageClassifier with FasterNet's head around
    ``backbone`` (built with ``out_indices=(3,)``, ``out_norm=False``);
    its forward gives the logits. Weights from ``state_dict`` (a
    checkpoint's tensors in any classifier layout, which the backbone's
    checkpoint filter renames; ``head``: its head tensors under the
    original names), else the original's random init."""
    from mmengine.registry import DefaultScope
    from mmpretrain.models import ImageClassifier

    from mmfasternet.models.heads import FasterNetClsHead
    num_classes, feature_dim = (head['head.weight'].shape
                                if head is not None else (1000, 1280))
    act_cfg = dict(backbone.arch.get('act_cfg', dict(type='ReLU')))
    # The classifier builds its data preprocessor and loss from mmpretrain's
    # registry, whichever library's scope the caller left active.
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = ImageClassifier(
            backbone=backbone,
            head=FasterNetClsHead(num_classes, backbone.channels[-1],
                                  feature_dim, act_cfg=act_cfg))
    if state_dict is not None:
        model.load_state_dict(state_dict, strict=True)
    else:
        nn.init.trunc_normal_(model.head.avgpool_pre_head[1].weight,
                              std=.02)
        nn.init.trunc_normal_(model.head.fc.weight, std=.02)
        nn.init.zeros_(model.head.fc.bias)
    return model


def build_model(arch=None, what='backbone', checkpoint=None,
                out_indices=(0, 1, 2, 3), out_norm=True, deploy=True,
                seed=0) -> nn.Module:
    """A FasterNet backbone or classifier in eval mode (deploy form unless
    ``deploy=False``), weights from ``checkpoint`` or random (``seed``)."""
    if what not in ('backbone', 'classifier'):
        raise ValueError(f'what must be "backbone" or "classifier", '
                         f'got {what!r}.')
    unwrapped = state_dict = None
    if checkpoint and (arch is None or what == 'classifier'):
        unwrapped = unwrap_state_dict(read_checkpoint(checkpoint))
        state_dict, _ = to_original_layout(unwrapped)
    if arch is None:
        if checkpoint is None:
            raise ValueError('give an arch, or a checkpoint to infer it from.')
        found = infer_arch(select_prefix(state_dict, None))
        if found is None:
            raise ValueError(f'{checkpoint!r} holds no FasterNet weights.')
        arch = found['name'] if found['name'] != 'custom' else dict(
            embed_dims=found['embed_dims'], depths=found['depths'])
    if what == 'classifier':
        out_indices, out_norm = (3, ), False
    torch.manual_seed(seed)
    init_cfg = (dict(type='Pretrained', checkpoint=checkpoint)
                if checkpoint and what == 'backbone' else None)
    model = FasterNet(
        arch=arch, out_indices=out_indices, out_norm=out_norm,
        init_cfg=init_cfg)
    if init_cfg:
        model.init_weights()
    else:  # the original's init, without mmengine's per-tensor log
        for module in model.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.trunc_normal_(module.weight, std=.02)
    if what == 'classifier':
        head = read_head(checkpoint, state_dict) if checkpoint else None
        model = build_classifier(model, unwrapped, head)
    model.eval()
    return switch_to_deploy(model) if deploy else model


def default_output_names(model: nn.Module) -> list:
    if not isinstance(model, FasterNet) and hasattr(model, 'head'):
        return ['logits']
    backbone = next(m for m in model.modules() if isinstance(m, FasterNet))
    return [f'out{i}' for i in backbone.out_indices]


def export(model: nn.Module, path: str, shape=(224, 224), batch=1,
           opset=17, channels_last=False, output_names=None) -> str:
    """Write ``model`` (eval mode) to ``path`` with dynamic batch, height and
    width; input ``input`` (N, 3, H, W), outputs ``output_names`` (default
    ``out{i}`` per stage, or ``logits``). ``channels_last`` traces the
    model with a channels_last example (the deploy form exports its conv
    formulation either way); the
    ONNX input is NCHW either way. Returns ``path``."""
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
    # The TorchScript exporter (dynamo=False): with torch 2.14 it exports
    # both deploy paths in well under a second and folds the weight slices
    # into initializers. The torch.export one (dynamo=True) fails on the
    # channels_last path (symbolic-shape guard "Invalid ranges [2:1]" from
    # the memory-format test on symbolic H/W) and takes ~30x longer on the
    # NCHW one, with a graph that still slices the weights.
    with torch.no_grad(), warnings.catch_warnings():
        # "legacy TorchScript-based ONNX export" and its internals' notices.
        warnings.simplefilter('ignore', DeprecationWarning)
        torch.onnx.export(
            model, (x, ), path, input_names=['input'],
            output_names=output_names, dynamic_axes=dynamic_axes,
            opset_version=opset, do_constant_folding=True, dynamo=False)
    return path


def graph_summary(path: str) -> dict:
    """Node count (all, and without ``Constant``), op type histogram, opset
    and file size of an ONNX file, which is also checked for validity."""
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


def check_parity(path: str, model: nn.Module, shapes, channels_last=False,
                 seed=1) -> list:
    """Run ``path`` with onnxruntime (CPU) and ``model`` on random inputs of
    each ``(batch, height, width)`` in ``shapes``; returns one dict per
    shape: ``shape``, ``errors`` (max |onnx - torch| / max |torch| per
    output) and ``ok`` (every error <= PARITY_TOLERANCE and the output
    shapes equal)."""
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, torch.get_num_threads())
    # Idle onnxruntime threads would spin and starve PyTorch's, which
    # computes the reference right after each run.
    options.add_session_config_entry('session.intra_op.allow_spinning', '0')
    session = ort.InferenceSession(
        path, options, providers=['CPUExecutionProvider'])
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
        errors, same_shapes = [], len(got) == len(expected)
        for a, b in zip(got, expected):
            b = b.numpy()
            same_shapes &= a.shape == b.shape
            if a.shape == b.shape:
                scale = max(float(np.abs(b).max()), 1e-12)
                errors.append(float(np.abs(a - b).max()) / scale)
            else:
                errors.append(float('inf'))
        results.append(
            dict(shape=(batch, 3, height, width), errors=errors,
                 ok=same_shapes and max(errors) <= PARITY_TOLERANCE))
    return results


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('out', help='ONNX file to write')
    parser.add_argument(
        '--arch', help='t0 t1 t2 s m l (default: inferred from --checkpoint)')
    parser.add_argument('--checkpoint', help='weights (default: random)')
    parser.add_argument(
        '--what', choices=('backbone', 'classifier'), default='backbone')
    parser.add_argument(
        '--out-indices', type=int, nargs='+', default=[0, 1, 2, 3],
        help='backbone stages to output (backbone only)')
    parser.add_argument(
        '--no-out-norm', action='store_true',
        help='no output norms (backbone only)')
    parser.add_argument(
        '--shape', type=int, nargs='+', default=[224, 224],
        help='example input H W (one number: square)')
    parser.add_argument('--batch', type=int, default=1)
    parser.add_argument('--opset', type=int, default=17)
    parser.add_argument(
        '--no-deploy', action='store_true',
        help='export the training form (in eval mode)')
    parser.add_argument(
        '--channels-last', action='store_true',
        help='trace with a channels_last example (the deploy form exports '
        'the same conv graph; the ONNX input stays NCHW)')
    parser.add_argument(
        '--check', action='store_true',
        help='compare onnxruntime with PyTorch at two shapes; exit 1 if '
        'they differ')
    args = parser.parse_args(argv)
    if len(args.shape) not in (1, 2):
        parser.error('--shape takes H W or one number')
    args.shape = tuple(args.shape * 2 if len(args.shape) == 1 else args.shape)
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    model = build_model(
        args.arch, args.what, args.checkpoint, tuple(args.out_indices),
        not args.no_out_norm, deploy=not args.no_deploy)
    export(model, args.out, args.shape, args.batch, args.opset,
           args.channels_last)
    summary = graph_summary(args.out)
    top = ', '.join(f'{op} {count}'
                    for op, count in summary['ops'].most_common(8))
    print(f'wrote {args.out}: opset {summary["opset"]}, '
          f'{summary["nodes"]} nodes ({summary["compute_nodes"]} without '
          f'Constant), {summary["size"] / 2**20:.1f} MiB')
    print(f'op types: {top}')
    if not args.check:
        return 0
    height, width = args.shape
    shapes = [(args.batch, height, width),
              (args.batch + 1, height + 32, max(32, width - 32))]
    results = check_parity(args.out, model, shapes, args.channels_last)
    for result in results:
        errors = ' '.join(f'{e:.2e}' for e in result['errors'])
        print(f'check {tuple(result["shape"])}: max |onnx - torch| / '
              f'max |torch| = {errors} '
              f'({"ok" if result["ok"] else "FAILED"}, tolerance '
              f'{PARITY_TOLERANCE:g})')
    return 0 if all(result['ok'] for result in results) else 1


if __name__ == '__main__':
    sys.exit(main())
