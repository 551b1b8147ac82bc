"""Speed of FasterNet backbones and whole models, each figure printed beside
its baseline measured in the same run.

Backbones (``backbone``): for every arch, the paper's protocol (eval mode, BN
folded into the convs, split_cat PConv, eager) and mmfasternet's deploy form
under the same settings; reference backbones (mmdet's ResNet-50 by default,
``timm:NAME`` for timm models) with BN folded too.

    python tools/benchmark.py backbone --archs t0 s l --device cpu --threads 1 --batch 1
    python tools/benchmark.py backbone --archs s --device cuda --batch 256 --dtype bf16 --channels-last --compile

Whole models (``model``): inference of detection / segmentation /
classification configs on a random image at the given shape (data loading
excluded), training form and deploy form, plus how much of it the backbone
and the backbone+neck take. Detectors keep exactly 100 detections per image
(score threshold 0) so that models are compared on equal work.

    python tools/benchmark.py model configs/maskrcnn_fasternet_s_coco.py \
        mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py --shape 800 1333 --threads 2

Timings are medians over ``--repeats`` after ``--warmup`` runs, with the GPU
synchronised around each. ``--json FILE`` writes every row.
"""
import argparse
import copy
import json
import os.path as osp
import platform
import statistics
import sys
import time

import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmfasternet import FasterNet  # noqa: E402
from mmfasternet.deploy import fold_batchnorms, switch_to_deploy  # noqa: E402

DTYPES = dict(fp32=torch.float32, fp16=torch.float16, bf16=torch.bfloat16)


def median_seconds(fn, warmup, repeats, device):
    def sync():
        if device.type == 'cuda':
            torch.cuda.synchronize(device)

    with torch.no_grad():
        for _ in range(warmup):
            fn()
        sync()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            sync()
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def record_row(rows, name, form, seconds, batch):
    """Append and print one backbone measurement."""
    row = dict(model=name, form=form, ms_per_batch=seconds * 1e3,
               images_per_s=batch / seconds)
    rows.append(row)
    print(f'  {name:<16} {form:<26} {row["ms_per_batch"]:>10.2f} ms '
          f'{row["images_per_s"]:>10.1f} img/s', flush=True)
    return row


def prepare(model, example, args, compile_model=False):
    """Move to the device, dtype and memory format; compile if asked."""
    device = torch.device(args.device)
    memory_format = (torch.channels_last
                     if args.channels_last else torch.contiguous_format)
    model = model.to(device, DTYPES[args.dtype], memory_format=memory_format)
    example = example.to(device, DTYPES[args.dtype],
                         memory_format=memory_format)
    if compile_model:
        if device.type == 'cpu':
            # Let inductor treat weights as constants and prepack them for
            # oneDNN: most of what compiling gains on CPUs.
            import torch._inductor.config as inductor_config
            inductor_config.freezing = True
        model = torch.compile(model, mode=args.compile_mode)
    return model, example


def reference_backbone(name):
    if name == 'resnet50':
        from mmdet.models.backbones import ResNet
        return ResNet(depth=50, out_indices=(0, 1, 2, 3), norm_eval=True)
    if name.startswith('timm:'):
        import timm
        return timm.create_model(name[len('timm:'):], pretrained=False,
                                 features_only=True)
    raise ValueError(f'unknown reference backbone {name!r}; use resnet50 or '
                     f'timm:MODEL')


def benchmark_backbones(args):
    """Rows for every model in eager mode and, with --compile, compiled too;
    each row's speed-up is against the paper protocol (eager) of its arch
    and against each reference backbone measured the same way."""
    torch.manual_seed(0)
    height, width = args.shape
    example = torch.randn(args.batch, 3, height, width)
    modes = [False, True] if args.compile else [False]
    rows = []

    def measure(name, form, model, compiled):
        model, x = prepare(model, example, args, compiled)
        seconds = median_seconds(lambda: model(x), args.warmup, args.repeats,
                                 torch.device(args.device))
        return record_row(rows, name,
                          form + (' + compile' if compiled else ''), seconds,
                          args.batch)

    references = {}
    for reference in args.baselines:
        # fold_batchnorms puts it in eval mode (mmdet's ResNet.train()
        # returns None, so no chained .eval() here)
        model = fold_batchnorms(reference_backbone(reference), example[:1])
        for compiled in modes:
            references[reference, compiled] = measure(
                reference, 'BN folded', copy.deepcopy(model), compiled)
    for arch in args.archs:
        name = f'FasterNet-{arch.upper()}'
        model = FasterNet(arch=arch, out_indices=(0, 1, 2, 3),
                          out_norm=False).eval()
        paper = fold_batchnorms(copy.deepcopy(model), example[:1])
        deploy = switch_to_deploy(copy.deepcopy(model))
        arch_rows = []
        for compiled in modes:
            arch_rows.append(measure(name, 'paper protocol',
                                     copy.deepcopy(paper), compiled))
            arch_rows.append(measure(name, 'deploy', copy.deepcopy(deploy),
                                     compiled))
        if args.onnxruntime:
            arch_rows.append(measure_onnxruntime(name, deploy, example, args,
                                                 rows))
            modes_of_rows = [m for m in modes for _ in range(2)] + [False]
        else:
            modes_of_rows = [m for m in modes for _ in range(2)]
        if args.profile:  # the first two rows: eager paper and deploy
            for row, model in zip(arch_rows, (paper, deploy)):
                row['profile'] = profile_ops(name, row['form'], model,
                                             example, args)
        baseline = arch_rows[0]
        for row, compiled in zip(arch_rows, modes_of_rows):
            if row is not baseline:
                row['speedup_vs_paper_protocol'] = (
                    row['images_per_s'] / baseline['images_per_s'])
            for (reference, ref_compiled), ref_row in references.items():
                if ref_compiled == compiled:
                    row[f'speedup_vs_{reference}'] = (
                        row['images_per_s'] / ref_row['images_per_s'])
    return rows


def profile_ops(name, form, model, example, args):
    """Where the time of one eager forward goes: torch.profiler over
    ``args.repeats`` runs, ops ranked by their own device time (CPU time
    on the CPU), per batch. Printed, and returned for the JSON."""
    from torch.profiler import ProfilerActivity, profile
    model, x = prepare(copy.deepcopy(model), example, args)
    device = torch.device(args.device)
    on_gpu = device.type == 'cuda'
    median_seconds(lambda: model(x), args.warmup, 1, device)  # warm up
    activities = [ProfilerActivity.CPU] + (
        [ProfilerActivity.CUDA] if on_gpu else [])
    with torch.no_grad(), profile(activities=activities) as prof:
        for _ in range(args.repeats):
            model(x)
        if on_gpu:
            torch.cuda.synchronize(device)
    rows = []
    for event in prof.key_averages():
        self_us = (event.self_device_time_total if on_gpu else
                   event.self_cpu_time_total)
        if self_us > 0:
            rows.append(dict(op=event.key, calls=event.count // args.repeats,
                             self_ms=self_us / 1e3 / args.repeats))
    rows.sort(key=lambda row: -row['self_ms'])
    total = sum(row['self_ms'] for row in rows)
    print(f'  {name} {form}: {total:.2f} ms of {"GPU" if on_gpu else "CPU"}'
          f' time per batch in ops, the largest:')
    for row in rows[:args.profile]:
        print(f'    {row["op"][:60]:<60} {row["self_ms"]:8.3f} ms '
              f'{100 * row["self_ms"] / max(total, 1e-12):5.1f}% '
              f'{row["calls"]:4d} calls')
    return rows[:args.profile]


def measure_onnxruntime(name, deploy, example, args, rows):
    """The deploy form exported to ONNX, run by onnxruntime on the CPU with
    the same threads, batch and input."""
    import tempfile

    import onnxruntime as ort
    from export_onnx import export  # tools/export_onnx.py
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    options.inter_op_num_threads = 1
    with tempfile.TemporaryDirectory() as tmp:
        path = export(copy.deepcopy(deploy).float(), f'{tmp}/model.onnx',
                      shape=tuple(example.shape[2:]), batch=1)
        session = ort.InferenceSession(path, options,
                                       providers=['CPUExecutionProvider'])
    inputs = {'input': example.float().numpy()}
    seconds = median_seconds(lambda: session.run(None, inputs), args.warmup,
                             args.repeats, torch.device('cpu'))
    return record_row(rows, name, 'deploy, onnxruntime CPU', seconds,
                      args.batch)


def resolve_config(path):
    """Accept ``mmdet::...``-style paths to the installed libraries'
    configs."""
    if '::' not in path:
        return path
    package, relative = path.split('::', 1)
    from mmengine.utils import get_installed_path
    return osp.join(get_installed_path(package), '.mim', 'configs', relative)


def build_for_inference(config_path, args):
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    from mmfasternet.engine import task_of
    cfg = Config.fromfile(resolve_config(config_path))
    task = task_of(cfg)
    init_default_scope(cfg.default_scope)
    model_cfg = cfg.model
    model_cfg.pop('pretrained', None)
    model_cfg.backbone.pop('init_cfg', None)
    model_cfg.backbone.pop('pretrained', None)
    if task == 'detection':
        from mmdet.registry import MODELS
        rcnn = model_cfg.get('test_cfg', {}).get('rcnn')
        if rcnn is not None:  # equal work: always 100 detections
            rcnn.score_thr = 0.0
            rcnn.max_per_img = 100
    elif task == 'segmentation':
        from mmseg.registry import MODELS
    else:
        from mmpretrain.registry import MODELS
    model = MODELS.build(model_cfg).eval()
    if task == 'detection' and not args.real_heads:
        same_detections(model)
    return model, task


# The last layer of each prediction branch of a two-stage detector.
PREDICTION_LAYERS = ('rpn_head.rpn_cls', 'rpn_head.rpn_reg',
                     'roi_head.bbox_head.fc_cls', 'roi_head.bbox_head.fc_reg',
                     'roi_head.mask_head.conv_logits')


def same_detections(model):
    """Zero the last layer of every prediction branch, so that any two
    detectors of the same architecture find the same boxes in the same
    image whatever their backbone: equal objectness makes the proposals the
    top anchors, equal class scores and zero box deltas make the detections
    the top proposals, and all-0.5 mask probabilities paste full boxes. The
    heads then do the same work for every backbone, unlike random weights,
    whose proposals and box sizes (mask pasting scales with them) change
    the head time by seconds per image on a CPU. The layers still run."""
    zeroed = []
    for name in PREDICTION_LAYERS:
        try:
            layer = model.get_submodule(name)
        except AttributeError:
            continue
        with torch.no_grad():
            for tensor in layer.parameters():
                tensor.zero_()
        zeroed.append(name)
    if not zeroed:
        raise ValueError(
            f'{type(model).__name__}: none of {PREDICTION_LAYERS} found; '
            f'pass --real-heads to time this detector with its own weights.')
    return zeroed


def model_inputs(task, args):
    """A random batch and, for detectors and segmentors, the data samples
    carrying the image shapes their predict() needs."""
    height, width = args.shape
    inputs = torch.randn(args.batch, 3, height, width)
    if task == 'classification':
        return inputs, None
    if task == 'detection':
        from mmdet.structures import DetDataSample as DataSample
    else:
        from mmseg.structures import SegDataSample as DataSample
    shape = (height, width)
    samples = []
    for _ in range(args.batch):
        sample = DataSample()
        sample.set_metainfo(
            dict(img_shape=shape, ori_shape=shape, pad_shape=shape,
                 batch_input_shape=shape, scale_factor=(1., 1.)))
        samples.append(sample)
    return inputs, samples


def benchmark_models(args):
    device = torch.device(args.device)
    rows = []
    for config in args.configs:
        model, task = build_for_inference(config, args)
        inputs, samples = model_inputs(task, args)
        memory_format = (torch.channels_last if args.channels_last else
                         torch.contiguous_format)
        inputs = inputs.to(device, memory_format=memory_format)
        forms = [('eval', model)]
        if any(isinstance(m, FasterNet) for m in model.modules()):
            forms.append(('deploy', switch_to_deploy(copy.deepcopy(model))))
        for form, variant in forms:
            variant = variant.to(device, memory_format=memory_format)
            whole = median_seconds(
                lambda: variant.predict(inputs, samples)
                if samples is not None else variant(inputs, mode='predict'),
                args.warmup, args.repeats, device)
            backbone = median_seconds(lambda: variant.backbone(inputs),
                                      args.warmup, args.repeats, device)
            features = median_seconds(lambda: variant.extract_feat(inputs),
                                      args.warmup, args.repeats, device)
            row = dict(
                config=config, task=task, form=form,
                ms_per_batch=whole * 1e3,
                images_per_s=args.batch / whole,
                backbone_ms=backbone * 1e3,
                backbone_and_neck_ms=features * 1e3)
            rows.append(row)
            print(f'  {osp.basename(config):<44} {form:<7} '
                  f'{row["ms_per_batch"]:>9.1f} ms {row["images_per_s"]:>8.2f}'
                  f' img/s  (backbone {row["backbone_ms"]:.1f} ms, '
                  f'+neck {row["backbone_and_neck_ms"]:.1f} ms)', flush=True)
    if rows:
        baseline = rows[-1] if args.baseline_last else None
        for row in rows:
            if baseline is not None and row is not baseline:
                row['speedup_vs_last_config'] = (
                    row['images_per_s'] / baseline['images_per_s'])
    return rows


def environment(args):
    info = dict(torch=torch.__version__, python=platform.python_version(),
                machine=platform.machine(), processor=platform.processor(),
                device=args.device, threads=torch.get_num_threads())
    if args.device.startswith('cuda'):
        info['gpu'] = torch.cuda.get_device_name(torch.device(args.device))
    return info


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    sub = parser.add_subparsers(dest='what', required=True)
    for name in ('backbone', 'model'):
        p = sub.add_parser(name)
        p.add_argument('--device', default='cpu')
        p.add_argument('--threads', type=int, default=None,
                       help='CPU threads (default: torch\'s)')
        p.add_argument('--batch', type=int, default=1)
        p.add_argument('--dtype', choices=sorted(DTYPES), default='fp32')
        p.add_argument('--channels-last', action='store_true')
        p.add_argument('--compile', action='store_true',
                       help='also measure every model under torch.compile')
        p.add_argument('--compile-mode', default=None,
                       help='torch.compile mode, e.g. max-autotune')
        p.add_argument('--warmup', type=int, default=3)
        p.add_argument('--repeats', type=int, default=10)
        p.add_argument('--json', help='write the rows and the environment')
        if name == 'backbone':
            p.add_argument('--archs', nargs='+', default=['t0', 's', 'l'],
                           choices=sorted(FasterNet.arch_settings))
            p.add_argument('--baselines', nargs='*', default=['resnet50'],
                           help='resnet50 (mmdet) and/or timm:NAME')
            p.add_argument('--shape', type=int, nargs=2, default=(224, 224),
                           metavar=('H', 'W'))
            p.add_argument('--onnxruntime', action='store_true',
                           help='also time the deploy form exported to ONNX '
                           'in onnxruntime (CPU, fp32)')
            p.add_argument('--profile', type=int, default=0, metavar='N',
                           help='also profile each arch\'s eager paper '
                           'protocol and deploy form (torch.profiler over '
                           '--repeats runs) and list the N ops with the '
                           'most own device time')
        else:
            p.add_argument('configs', nargs='+',
                           help='config files (mmdet::... for installed '
                           'ones); the last one is the baseline')
            p.add_argument('--shape', type=int, nargs=2, default=(800, 1333),
                           metavar=('H', 'W'))
            p.add_argument(
                '--real-heads', action='store_true',
                help='keep the detectors\' random prediction layers (by '
                'default they are zeroed so that every detector keeps the '
                'same proposals and detections: equal head work)')
    args = parser.parse_args(argv)
    if args.what == 'model' and (args.dtype != 'fp32' or args.compile):
        parser.error('model: whole models are timed in fp32 and eager only; '
                     '--dtype and --compile are for backbones')
    args.baseline_last = args.what == 'model' and len(args.configs) > 1
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    env = environment(args)
    print(f'{args.what} benchmark: batch {args.batch}, {args.dtype}, '
          f'{"channels_last" if args.channels_last else "NCHW"}, '
          f'{"compiled" if args.compile else "eager"}, input '
          f'{args.shape[0]}x{args.shape[1]}, {env}')
    rows = (benchmark_backbones(args)
            if args.what == 'backbone' else benchmark_models(args))
    print('\nratios:')
    for row in rows:
        ratios = {k: v for k, v in row.items() if k.startswith('speedup')}
        if ratios:
            name = row.get('model') or osp.basename(row['config'])
            print(f'  {name} {row["form"]}: ' + ', '.join(
                f'{k[len("speedup_vs_"):]} x{v:.2f}'
                for k, v in ratios.items()))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(dict(environment=env, settings=vars(args), rows=rows),
                      f, indent=1)
    return rows


if __name__ == '__main__':
    main()
