"""Where a FasterNet backbone's and ResNet-50's time goes in onnxruntime
and OpenVINO, op type by op type, and how variants of FasterNet's exported
block compare with the export mmfasternet ships.

Both backbones are exported to ONNX (random weights, BN folded, batch 1),
then:

- per-node profiles: onnxruntime's own profiler (``enable_profiling``) and
  OpenVINO's performance counters (``PERF_COUNT``), summed per op type of
  the graph each runtime actually runs (after its fusions and layout
  changes: onnxruntime's ``ReorderInput`` / ``ReorderOutput``, OpenVINO's
  ``Reorder``), in ms per inference;
- the variants of :data:`VARIANTS` and ResNet-50 timed in interleaved
  rounds in each runtime and precision in one process, each variant's
  outputs checked against eager PyTorch first.

    python -m benchmarks.graph_profile --arch s --threads 1 --json OUT

bf16 rows need a CPU with bf16 instructions (AVX512_BF16 or AMX); on
others they are left out and the JSON says why.
"""
import argparse
import copy
import json
import os.path as osp
import sys
import tempfile
from collections import defaultdict
from typing import Callable, Dict, List, Optional, Sequence
from unittest import mock

import numpy as np
import torch
import torch.nn.functional as F

from benchmarks.folding import fold_batchnorms
from benchmarks.inference import (
    backbone_forms,
    environment,
    reference_backbone,
)
from benchmarks.intervals import median_interval, ratio_interval, same_within
from mmfasternet.deploy.onnx import (
    PARITY_TOLERANCE,
    export,
    graph_summary,
    relative_errors,
)
from mmfasternet.models.backbones import fasternet as fasternet_module
from mmfasternet.models.utils.pconv_forms import deploy_forward_conv
from mmfasternet.utils.timing import interleaved_seconds

OUTPUTS = ['out0', 'out1', 'out2', 'out3']


def _channels(in_weight) -> int:
    # a Python int, so that the exporter does not trace it as a Shape op
    return int(in_weight.shape[1])


def _constant(array: np.ndarray) -> torch.Tensor:
    """A tensor the exporter records as a constant of known shape (made
    with torch ops, it would trace those ops)."""
    return torch.from_numpy(array.astype(np.float32))


def _mlp(pconv, x, in_weight, in_bias, act, out_weight):
    hidden = F.conv2d(pconv, in_weight[:, :, None, None], in_bias)
    return x + F.conv2d(act(hidden), out_weight[:, :, None, None])


def split_concat(x, partial_conv3, in_weight, in_bias, act, out_weight):
    """PConv as one Split (two outputs) instead of two Slices."""
    k = partial_conv3.out_channels
    convolved, untouched = torch.split(x, [k, _channels(in_weight) - k],
                                      dim=1)
    pconv = torch.cat([partial_conv3(convolved), untouched], dim=1)
    return _mlp(pconv, x, in_weight, in_bias, act, out_weight)


def grouped_pconv(x, partial_conv3, in_weight, in_bias, act, out_weight):
    """PConv as one grouped 3x3 conv over all channels (groups of k): the
    first group is the partial conv, the others copy their channels (a 1 at
    the kernel's centre). No Slice, no Concat; 4x PConv's FLOPs for
    ``n_div=4``."""
    k = partial_conv3.out_channels
    channels = _channels(in_weight)
    copies = np.zeros((channels - k, k, 3, 3))
    index = np.arange(channels - k)
    copies[index, index % k, 1, 1] = 1
    copies = _constant(copies)
    weight = torch.cat([partial_conv3.weight, copies])
    pconv = F.conv2d(x, weight, padding=1, groups=channels // k)
    return _mlp(pconv, x, in_weight, in_bias, act, out_weight)


def summed(x, partial_conv3, in_weight, in_bias, act, out_weight):
    """No Concat: the first 1x1 conv as one conv over the whole input (zero
    weights for the k convolved channels) plus one over the 3x3 conv's
    output, added; one Slice (the first k channels)."""
    k = partial_conv3.out_channels
    untouched_weight = torch.cat(
        [_constant(np.zeros((in_weight.shape[0], k))), in_weight[:, k:]], dim=1)
    hidden = F.conv2d(x, untouched_weight[:, :, None, None], in_bias) + \
        F.conv2d(partial_conv3(x[:, :k]), in_weight[:, :k, None, None])
    return x + F.conv2d(act(hidden), out_weight[:, :, None, None])


def summed_no_slice(x, partial_conv3, in_weight, in_bias, act, out_weight):
    """:func:`summed` with the 3x3 conv taking all channels (zero weights
    beyond the first k): no Slice either; 4x PConv's FLOPs for
    ``n_div=4``."""
    k = partial_conv3.out_channels
    weight = torch.cat([partial_conv3.weight, _constant(
        np.zeros((k, _channels(in_weight) - k, 3, 3)))], dim=1)
    untouched_weight = torch.cat(
        [_constant(np.zeros((in_weight.shape[0], k))), in_weight[:, k:]], dim=1)
    hidden = F.conv2d(x, untouched_weight[:, :, None, None], in_bias) + \
        F.conv2d(F.conv2d(x, weight, padding=1),
                 in_weight[:, :k, None, None])
    return x + F.conv2d(act(hidden), out_weight[:, :, None, None])


# Block graphs to export, each the function of the deploy block's 'conv'
# form (same arguments, same result); 'slice_concat' is today's export.
VARIANTS: Dict[str, Callable] = dict(
    slice_concat=deploy_forward_conv,
    split_concat=split_concat,
    grouped_pconv=grouped_pconv,
    summed=summed,
    summed_no_slice=summed_no_slice,
)


def export_variant(model, path, variant, shape):
    """Export the FasterNet ``model`` (deploy form) with its blocks computed
    by ``VARIANTS[variant]``."""
    # The block looks the conv form up in its module at each call.
    with mock.patch.object(fasternet_module, 'deploy_forward_conv',
                           VARIANTS[variant]):
        return export(model, path, shape=shape, output_names=OUTPUTS)


def onnxruntime_session(path, threads, profile_prefix=None,
                        optimized_path=None):
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    if profile_prefix:
        options.enable_profiling = True
        options.profile_file_prefix = profile_prefix
    if optimized_path:
        options.optimized_model_filepath = optimized_path
        # not its notice that the saved graph is for this CPU only
        options.log_severity_level = 3
    return ort.InferenceSession(path, options,
                                providers=['CPUExecutionProvider'])


def openvino_request(path, threads, precision, perf_count=False):
    import openvino as ov
    config = {'INFERENCE_NUM_THREADS': threads, 'NUM_STREAMS': 1,
              'PERFORMANCE_HINT': 'LATENCY',
              'INFERENCE_PRECISION_HINT': precision, 'PERF_COUNT': perf_count}
    compiled = ov.Core().compile_model(path, 'CPU', config)
    return compiled.create_infer_request()


def openvino_bf16_support() -> str:
    """'' where OpenVINO's CPU plugin runs bf16 here, else why not."""
    import openvino as ov
    capabilities = ov.Core().get_property('CPU', 'OPTIMIZATION_CAPABILITIES')
    if 'BF16' in capabilities:
        return ''
    return (f'this CPU has no bf16 instructions (AVX512_BF16 or AMX); '
            f'OpenVINO CPU capabilities: {", ".join(capabilities)}')


CONV_TYPES = ('Conv', 'Convolution', 'GroupConvolution')
# OpenVINO keeps the ONNX node names: what each conv is, by name
CONV_NAMES = (('partial_conv3', '3x3 PConv'), ('/conv2/', '3x3'),
              ('patch_embed', '4x4 stem'), ('reduction', '2x2 merging'))


def conv_kind(name: str, kernel: Optional[Sequence[int]] = None) -> str:
    """What a conv node is: its kernel (from the graph where known, else
    from its name) and whether it is FasterNet's partial conv."""
    pconv = ' PConv' if 'partial_conv3' in name else ''
    if kernel is not None:
        return f'{kernel[0]}x{kernel[1]}{pconv}'
    if name.startswith('/conv1/'):
        return '7x7 stem'
    return next((kind for part, kind in CONV_NAMES if part in name), '1x1')


def _table(totals: Dict[str, float], counts: Dict[str, int],
           runs: int) -> List[dict]:
    rows = [dict(op=op, ms=total / runs, nodes=counts[op])
            for op, total in totals.items()]
    return sorted(rows, key=lambda row: -row['ms'])


def _conv_kernels(path: str) -> Dict[str, List[int]]:
    import onnx
    kernels = {}
    for node in onnx.load(path).graph.node:
        for attribute in node.attribute:
            if node.op_type == 'Conv' and attribute.name == 'kernel_shape':
                kernels[node.name] = list(attribute.ints)
    return kernels


def profile_onnxruntime(path, x, threads, warmup, runs) -> dict:
    """Per op type of the graph onnxruntime runs (after its fusions and
    NCHWc layout change): ms per inference and node count, from its
    profiler, over the last ``runs`` of ``warmup + runs`` runs."""
    with tempfile.TemporaryDirectory() as tmp:
        session = onnxruntime_session(path, threads, osp.join(tmp, 'ort'),
                                      osp.join(tmp, 'optimized.onnx'))
        for _ in range(warmup + runs):
            session.run(None, {'input': x})
        with open(session.end_profiling()) as f:
            events = json.load(f)
        optimized_path = osp.join(tmp, 'optimized.onnx')
        optimized = graph_summary(optimized_path)['ops']
        kernels = _conv_kernels(optimized_path)
    starts = sorted(e['ts'] for e in events if e.get('name') == 'model_run')
    first = starts[-runs]
    totals, nodes = defaultdict(float), defaultdict(set)
    for event in events:
        if (event.get('cat') == 'Node' and event['ts'] >= first
                and event['name'].endswith('_kernel_time')):
            op = event['args']['op_name']
            name = event['name'][:-len('_kernel_time')]
            if op in CONV_TYPES:
                op = f'{op} {conv_kind(name, kernels.get(name))}'
            totals[op] += event['dur'] / 1e3
            nodes[op].add(name)
    counts = {op: len(names) for op, names in nodes.items()}
    return dict(ops=_table(totals, counts, runs),
                total_ms=sum(totals.values()) / runs,
                optimized_graph_ops=dict(optimized))


def _openvino_op(info) -> str:
    if info.node_type in CONV_TYPES:
        return f'{info.node_type} {conv_kind(info.node_name)}'
    return info.node_type


def profile_openvino(path, x, threads, precision, warmup, runs) -> dict:
    """Per node type of the graph OpenVINO's CPU plugin runs (after its
    fusions; ``Reorder`` nodes are its layout changes): ms per inference,
    node count and the kernels (``exec_type``, which names the precision
    that ran), from its performance counters."""
    import openvino as ov
    request = openvino_request(path, threads, precision, perf_count=True)
    for _ in range(warmup):
        request.infer({0: x})
    totals, counts = defaultdict(float), defaultdict(int)
    kernels = defaultdict(set)
    for _ in range(runs):
        request.infer({0: x})
        for info in request.profiling_info:
            if info.status != ov.ProfilingInfo.Status.EXECUTED:
                continue
            op = _openvino_op(info)
            totals[op] += info.real_time.total_seconds() * 1e3
            kernels[op].add(info.exec_type)
    for info in request.profiling_info:
        if info.status == ov.ProfilingInfo.Status.EXECUTED:
            counts[_openvino_op(info)] += 1
    ops = _table(totals, counts, runs)
    for row in ops:
        row['kernels'] = sorted(kernels[row['op']])
    return dict(ops=ops, total_ms=sum(totals.values()) / runs)


def _parity(outputs, expected) -> float:
    got = [torch.from_numpy(np.asarray(o)) for o in outputs]
    return max(relative_errors(got, expected))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog='python -m benchmarks.graph_profile',
        description=__doc__.split('\n\n')[0])
    parser.add_argument('--arch', default='s')
    parser.add_argument('--baseline', default='resnet50',
                        help='resnet50 (mmdet) or timm:NAME')
    parser.add_argument('--variants', nargs='+', default=list(VARIANTS),
                        choices=list(VARIANTS))
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--shape', type=int, nargs=2, default=(224, 224),
                        metavar=('H', 'W'))
    parser.add_argument('--runtimes', nargs='+',
                        default=['onnxruntime', 'openvino'],
                        choices=['onnxruntime', 'openvino'])
    parser.add_argument('--precisions', nargs='+', default=['fp32', 'bf16'],
                        choices=['fp32', 'bf16'],
                        help='OpenVINO inference precisions (onnxruntime '
                        'runs fp32 only)')
    parser.add_argument('--profile-runs', type=int, default=20)
    parser.add_argument('--warmup', type=int, default=5)
    parser.add_argument('--rounds', type=int, default=20,
                        help='interleaved timing rounds')
    parser.add_argument('--out-dir', help='keep the ONNX files here')
    parser.add_argument('--json')
    return parser.parse_args(argv)


OV_PRECISION = dict(fp32='f32', bf16='bf16')


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    env = environment('cpu')
    torch.manual_seed(0)
    example = torch.randn(1, 3, *args.shape)
    x = example.numpy()
    fasternet = backbone_forms(args.arch, example)['deploy']
    baseline = fold_batchnorms(reference_backbone(args.baseline), example)
    with torch.no_grad():
        expected = {'fasternet': fasternet(example),
                    args.baseline: baseline(example)}
    out_dir = args.out_dir or tempfile.mkdtemp()
    paths = {args.baseline: export(copy.deepcopy(baseline),
                                   osp.join(out_dir, 'baseline.onnx'),
                                   shape=args.shape, output_names=OUTPUTS)}
    for variant in args.variants:
        paths[variant] = export_variant(
            fasternet, osp.join(out_dir, f'{variant}.onnx'), variant,
            args.shape)
    settings = [('onnxruntime', 'fp32')] if 'onnxruntime' in args.runtimes \
        else []
    skipped = {}
    if 'openvino' in args.runtimes:
        for precision in args.precisions:
            why = openvino_bf16_support() if precision == 'bf16' else ''
            if why:
                skipped[f'openvino {precision}'] = why
                print(f'openvino {precision} left out: {why}')
            else:
                settings.append(('openvino', precision))
    print(f'graph profile: FasterNet-{args.arch.upper()} deploy form '
          f'({", ".join(args.variants)}) vs {args.baseline}, batch 1, '
          f'{args.shape[0]}x{args.shape[1]}, {args.threads} thread(s), '
          f'{env}', flush=True)

    profiles, calls, parity = [], {}, {}
    for name, path in paths.items():
        reference = expected[args.baseline if name == args.baseline
                             else 'fasternet']
        for runtime, precision in settings:
            if runtime == 'onnxruntime':
                session = onnxruntime_session(path, args.threads)
                parity[name, runtime, precision] = _parity(
                    session.run(None, {'input': x}), reference)
                calls[name, runtime, precision] = (
                    lambda s=session: s.run(None, {'input': x}))
                profile = profile_onnxruntime(path, x, args.threads,
                                              args.warmup, args.profile_runs)
            else:
                request = openvino_request(path, args.threads,
                                           OV_PRECISION[precision])
                request.infer({0: x})
                parity[name, runtime, precision] = _parity(
                    [request.get_output_tensor(i).data
                     for i in range(len(OUTPUTS))], reference)
                calls[name, runtime, precision] = (
                    lambda r=request: r.infer({0: x}))
                profile = profile_openvino(path, x, args.threads,
                                           OV_PRECISION[precision],
                                           args.warmup, args.profile_runs)
            profiles.append(dict(model=name, runtime=runtime,
                                 precision=precision, **profile))
            print_profile(profiles[-1])

    keys = list(calls)
    times = interleaved_seconds([calls[k] for k in keys], args.warmup,
                                args.rounds)
    times = {k: [t * 1e3 for t in own] for k, own in zip(keys, times)}
    rows = []
    for (name, runtime, precision), own in times.items():
        row = dict(model=name, runtime=runtime, precision=precision,
                   median_ms=float(np.median(own)),
                   ci_ms=median_interval(own),
                   parity_error=parity[name, runtime, precision],
                   parity_ok=parity[name, runtime, precision] <=
                   PARITY_TOLERANCE, times_ms=own)
        if (name not in (args.baseline, args.variants[0])
                and (args.variants[0], runtime, precision) in times):
            reference = times[args.variants[0], runtime, precision]
            row['speedup_vs_' + args.variants[0]] = (
                float(np.median(reference)) / row['median_ms'])
            row['speedup_vs_' + args.variants[0] + '_ci'] = ratio_interval(
                reference, own)
        baseline_times = times.get((args.baseline, runtime, precision))
        if name != args.baseline and baseline_times:
            row['speedup_vs_baseline'] = (
                float(np.median(baseline_times)) / row['median_ms'])
            row['speedup_vs_baseline_ci'] = ratio_interval(
                baseline_times, own)
        rows.append(row)
    print_rows(rows, args.variants[0])
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(dict(environment=env, command=' '.join(
                ['python -m benchmarks.graph_profile'] + sys.argv[1:]),
                settings=vars(args), skipped=skipped,
                graphs={name: dict(graph_summary(path), ops=dict(
                    graph_summary(path)['ops'])) for name, path in
                    paths.items()},
                profiles=profiles, rows=rows), f, indent=1)
    return profiles, rows


def print_profile(profile: dict, top: int = 12):
    print(f'\n{profile["model"]}, {profile["runtime"]} {profile["precision"]}'
          f': {profile["total_ms"]:.2f} ms in nodes per inference')
    for row in profile['ops'][:top]:
        print(f'  {row["op"]:<28} {row["ms"]:8.2f} ms '
              f'{100 * row["ms"] / profile["total_ms"]:5.1f}% '
              f'{row["nodes"]:4d} nodes', flush=True)


def _ratio(row, key):
    if key not in row:
        return ''
    low, high = row[key + '_ci']
    flag = ' (no measurable difference)' if same_within((low, high)) else ''
    return f' x{row[key]:.3f} [{low:.3f}, {high:.3f}]{flag}'


def print_rows(rows: Sequence[dict], today: str):
    print('\nmedian ms [95% CI]; speed-ups (img/s over) with 95% CI:')
    for row in rows:
        low, high = row['ci_ms']
        print(f'  {row["model"]:<16} {row["runtime"]:<12} '
              f'{row["precision"]:<5} {row["median_ms"]:8.2f} ms '
              f'[{low:.2f}, {high:.2f}]  parity '
              f'{row["parity_error"]:.1e}', flush=True)
        for key, label in ((f'speedup_vs_{today}', f'vs {today}'),
                           ('speedup_vs_baseline', 'vs baseline')):
            text = _ratio(row, key)
            if text:
                print(f'      {label}:{text}')


if __name__ == '__main__':
    main()
