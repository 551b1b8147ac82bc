"""Speed of FasterNet backbones and whole models, each figure printed beside
its baseline measured in the same run.

Backbones (``backbone``): for every arch, the paper's protocol (eval mode, BN
folded into the convs, split_cat PConv, eager) and mmfasternet's deploy form
under the same settings; reference backbones (mmdet's ResNet-50 by default,
``timm:NAME`` for timm models) with BN folded too.

    python -m benchmarks.benchmark backbone --archs t0 s l --device cpu --threads 1 --batch 1
    python -m benchmarks.benchmark backbone --archs s --device cuda --batch 256 --dtype bf16 --channels-last --compile

Whole models (``model``): inference of detection / segmentation /
classification configs on a random image at the given shape (data loading
excluded), training form and deploy form, all timed in interleaved rounds,
plus how much of each call the backbone, the backbone+neck and the heads
(the rest) take, and each config's params and FLOPs at that shape.
Detectors (two-stage, cascade, RetinaNet, RTMDet, RTMDet-Ins) keep exactly
100 detections per image (score threshold 0) and their prediction layers
output constants, so that the detectors of a family do equal head work
whatever their backbone.

    python -m benchmarks.benchmark model configs/maskrcnn_fasternet_s_coco.py \
        mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py --shape 800 1333 --threads 2

The paper's headline claims (``paper-claims``): FasterNet-T0 vs timm's
MobileViT-XXS and FasterNet-L vs timm's Swin-B as whole ImageNet
classifiers, timed in one process in interleaved rounds under the paper's
protocol (CPU: batch 1, 1 thread; CUDA: batch 32 fp32 and batch 256 bf16
channels_last), FasterNet in its paper protocol and deploy forms, in eager
PyTorch and onnxruntime (CPU); each ratio is printed beside the paper's.

    python -m benchmarks.benchmark paper-claims --threads 1 --json claims.json

Training cost (``train``): one training iteration of each config's model
(loss forward, backward, the config's optimizer step; random batch with
random ground truth, data loading excluded), the configs timed in
interleaved rounds, and the peak memory of the iterations (CPU: peak RSS of
a fresh process per config; CUDA: max allocated); each config's time and
memory over the last config's.

    python -m benchmarks.benchmark train configs/maskrcnn_fasternet_s_coco.py \
        mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py --shape 512 512 --batch 1 --threads 2

The test loop as users run it (``test-loop``): ``tools/test.py CONFIG
CHECKPOINT`` without and with ``--deploy`` (each backbone runtime named),
fresh runners in interleaved rounds in one process, real data loading and
evaluation; img/s of the loop, each form over the trained one, and how far
the metrics move.

    python -m benchmarks.benchmark test-loop configs/demo/maskrcnn_fasternet_t0_shapes_demo.py \
        work_dirs/demo_maskrcnn_fasternet_t0/epoch_6.pth --runtimes auto eager --repeats 2

Runtimes and precisions (``runtimes``): an arch's or a config's backbone
(deploy form) and a baseline backbone (mmdet's ResNet-50 by default) in
every backbone runtime the machine offers (eager PyTorch, onnxruntime,
OpenVINO, each in fp32 and where available bf16 and INT8), all rows timed
in interleaved rounds in one process; per row the median, its 95%
confidence interval, and the speed-ups over eager fp32 and over the
baseline in the same runtime and precision, each with its interval
(``no measurable difference`` where it contains 1). ``--whole-model``
times whole models (``--config`` against ``--baseline-config``) with their
backbones in each runtime instead.

    python -m benchmarks.benchmark runtimes --arch s --baseline resnet50 --threads 1 --json OUT.json

Timings are medians over ``--repeats`` after ``--warmup`` runs, with the GPU
synchronised around each. ``--json FILE`` writes every row.
"""
import argparse
import json
import os.path as osp
import sys

import torch
from mmengine.config import DictAction

from benchmarks.inference import (
    benchmark_backbones,
    benchmark_models,
    environment,
)
from benchmarks.loops import benchmark_test_loop, summarize_test_loop
from benchmarks.paper_claims import (
    PAIRS,
    RUNTIMES,
    benchmark_paper_claims,
    describe_comparison,
    paper_claim_ratios,
)
from benchmarks.runtimes import RUNTIMES as ALL_RUNTIMES
from benchmarks.timing import DTYPES
from benchmarks.training import benchmark_training, training_ratios
from mmfasternet import FasterNet
from mmfasternet.deploy.runtime import BACKBONE_RUNTIMES, describe_report


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog='python -m benchmarks.benchmark',
        description=__doc__.split('\n\n')[0])
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
                '--backbone-runtimes', nargs='+', default=[],
                choices=[r for r in BACKBONE_RUNTIMES if r != 'eager'],
                help='also time each config with its backbone in these '
                'runtimes (heads in PyTorch), as tools/test.py --deploy '
                '--backbone-runtime runs it')
            p.add_argument('--calib-dir', help='INT8 backbone runtimes: '
                           'calibration images (default random inputs)')
            p.add_argument('--calib-images', type=int, default=8)
            p.add_argument(
                '--real-heads', action='store_true',
                help='keep the detectors\' random prediction layers (by '
                'default they output constants so that every detector of a '
                'family keeps the same proposals and detections: equal head '
                'work)')
            p.add_argument(
                '--no-complexity', action='store_true',
                help='leave out the params and FLOPs of each config (counted '
                'at --shape as tools/analysis_tools/get_flops.py counts them)')
    p = sub.add_parser(
        'paper-claims', help='FasterNet-T0 vs MobileViT-XXS and FasterNet-L '
        'vs Swin-B, each ratio beside the paper\'s')
    p.add_argument('--device', default='cpu')
    p.add_argument('--threads', type=int, default=None,
                   help='CPU threads (default: 1 on the CPU, as the paper; '
                   'torch\'s with CUDA)')
    p.add_argument('--pairs', nargs='+', default=sorted(PAIRS, reverse=True),
                   choices=sorted(PAIRS),
                   help='t0: FasterNet-T0 vs MobileViT-XXS; l: FasterNet-L vs '
                   'Swin-B')
    p.add_argument('--runtimes', nargs='+', choices=RUNTIMES, default=None,
                   help='default: eager and onnxruntime on the CPU, eager '
                   'with CUDA (onnxruntime runs on the CPU only)')
    p.add_argument('--image-size', type=int, default=224,
                   help='input side (the paper\'s figures are for 224)')
    p.add_argument('--warmup', type=int, default=3)
    p.add_argument('--repeats', type=int, default=10,
                   help='interleaved rounds, one timed call per row each')
    p.add_argument('--json', help='write the rows, the comparisons and the '
                   'environment')
    p = sub.add_parser(
        'runtimes', help='a backbone (or whole model) and its baseline in '
        'every runtime and precision, interleaved, with confidence '
        'intervals')
    what = p.add_mutually_exclusive_group()
    what.add_argument('--arch', default='s',
                      choices=sorted(FasterNet.arch_settings))
    what.add_argument('--config', help='take the backbone of this config '
                      '(mmdet::... for installed ones) instead of an arch')
    p.add_argument('--baseline', default='resnet50',
                   help='resnet50 (mmdet, BN folded) or timm:NAME')
    p.add_argument('--whole-model', action='store_true',
                   help='time --config\'s whole model (predict) against '
                   '--baseline-config\'s, each with its backbone in every '
                   'runtime')
    p.add_argument('--baseline-config',
                   default='mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py',
                   help='the baseline of --whole-model')
    p.add_argument('--runtimes', nargs='+', default=list(ALL_RUNTIMES),
                   choices=ALL_RUNTIMES, help='default: all of them; those '
                   'not installed or not supported by the CPU are left out '
                   'and named')
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--batch', type=int, default=1)
    p.add_argument('--shape', type=int, nargs=2, default=None,
                   metavar=('H', 'W'),
                   help='default 224 224, 800 1333 with --whole-model')
    p.add_argument('--warmup', type=int, default=3)
    p.add_argument('--rounds', type=int, default=20,
                   help='interleaved rounds, one timed call per row each')
    p.add_argument('--calib-dir', help='INT8 calibration images (e.g. '
                   '../shared/realdata/imagenet_sample); default random '
                   'inputs')
    p.add_argument('--calib-images', type=int, default=8)
    p.add_argument('--json', help='write the machine, versions, command, '
                   'settings and rows')
    p = sub.add_parser(
        'train', help='time and peak memory of training iterations')
    p.add_argument('configs', nargs='+',
                   help='detection / segmentation config files (mmdet::... '
                   'for installed ones); the last one is the baseline')
    p.add_argument('--device', default='cpu')
    p.add_argument('--threads', type=int, default=None,
                   help='CPU threads (default: torch\'s)')
    p.add_argument('--batch', type=int, default=1)
    p.add_argument('--shape', type=int, nargs=2, default=(512, 512),
                   metavar=('H', 'W'))
    p.add_argument('--with-cp', action='store_true',
                   help='gradient checkpointing in every backbone')
    p.add_argument('--warmup', type=int, default=1,
                   help='untimed iterations per config')
    p.add_argument('--repeats', type=int, default=3,
                   help='interleaved rounds, one timed iteration per config '
                   'each')
    p.add_argument('--memory-steps', type=int, default=2,
                   help='iterations of each CPU memory process')
    p.add_argument('--json', help='write the rows, the ratios and the '
                   'environment')
    p = sub.add_parser(
        'test-loop', help='img/s of tools/test.py\'s whole test loop with '
        'and without --deploy, and whether the metrics stay the same')
    p.add_argument('config', help='test config file')
    p.add_argument('checkpoint', help='checkpoint file')
    p.add_argument('--runtimes', nargs='+', default=['auto'],
                   choices=BACKBONE_RUNTIMES,
                   help='the --deploy backbone runtimes to run beside the '
                   'trained form (eager: the deploy form in PyTorch)')
    p.add_argument('--repeats', type=int, default=2,
                   help='interleaved rounds, one test loop per form each')
    p.add_argument('--threads', type=int, default=None,
                   help='CPU threads (default: torch\'s)')
    p.add_argument('--work-dir', help='the runners\' work dir')
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='override config entries, e.g. data_root=DIR')
    p.add_argument('--json', help='write the rows, the summary and the '
                   'environment')
    # the runner takes the GPU when there is one
    p.set_defaults(device='cuda' if torch.cuda.is_available() else 'cpu')
    args = parser.parse_args(argv)
    if args.what == 'paper-claims':
        cuda = args.device.startswith('cuda')
        if args.runtimes is None:
            args.runtimes = ['eager'] if cuda else list(RUNTIMES)
        if args.threads is None and not cuda:
            args.threads = 1
        if cuda and 'onnxruntime' in args.runtimes:
            parser.error('paper-claims: onnxruntime rows are CPU only; use '
                         '--runtimes eager with --device cuda')
    if args.what == 'runtimes':
        if args.whole_model and not args.config:
            parser.error('runtimes: --whole-model needs --config')
        if args.shape is None:
            args.shape = (800, 1333) if args.whole_model else (224, 224)
        if 'eager' not in args.runtimes:
            parser.error('runtimes: eager is the reference of every ratio; '
                         'keep it in --runtimes')
    if args.what == 'model' and (args.dtype != 'fp32' or args.compile):
        parser.error('model: whole models are timed in fp32 and eager only; '
                     '--dtype and --compile are for backbones')
    return args


def print_backbone_row(row, device):
    print(f'  {row["model"]:<16} {row["form"]:<26} '
          f'{row["ms_per_batch"]:>10.2f} ms {row["images_per_s"]:>10.1f} '
          f'img/s', flush=True)
    if 'profile' in row:
        print(f'  {row["model"]} {row["form"]}: {row["profile_ms"]:.2f} ms '
              f'of {"GPU" if device.startswith("cuda") else "CPU"} time per '
              f'batch in ops, the largest:')
        for op in row['profile']:
            print(f'    {op["op"][:60]:<60} {op["self_ms"]:8.3f} ms '
                  f'{100 * op["self_ms"] / max(row["profile_ms"], 1e-12):5.1f}'
                  f'% {op["calls"]:4d} calls')


def print_model_row(row):
    low, high = row['ci_ms']
    print(f'  {osp.basename(row["config"]):<44} {row["form"]:<30} '
          f'{row["ms_per_batch"]:>9.1f} ms [{low:.1f}, {high:.1f}] '
          f'{row["images_per_s"]:>8.2f} img/s  (backbone '
          f'{row["backbone_ms"]:.1f} ms, +neck '
          f'{row["backbone_and_neck_ms"]:.1f} ms, heads '
          f'{row["head_ms"]:.1f} ms = {100 * row["head_share"]:.0f}%)',
          flush=True)


def print_complexity(rows, shape):
    """Each config's params and FLOPs (training form), once per config."""
    seen = {}
    for row in rows:
        if 'flops' in row:
            seen.setdefault(row['config'], row)
    if not seen:
        return
    print(f'\nparams and FLOPs (multiply-accumulates) at {shape[0]}x'
          f'{shape[1]}, whole model (backbone):')
    for config, row in seen.items():
        print(f'  {osp.basename(config):<44} {row["params"] / 1e6:7.2f} M '
              f'({row["backbone_params"] / 1e6:.2f} M) '
              f'{row["flops"] / 1e9:8.1f} G ({row["backbone_flops"] / 1e9:.1f}'
              f' G)')


def _speedup_text(row, key):
    text = f'x{row[key]:.2f}'
    if key + '_ci' in row:
        low, high = row[key + '_ci']
        text += f' (95% CI {low:.2f}-{high:.2f})'
    return text


def print_claim_row(row):
    print(f'  {row["model"]:<14} {row["form"]:<16} {row["runtime"]:<12} '
          f'{row["ms_per_batch"]:>10.2f} ms {row["images_per_s"]:>10.1f} '
          f'img/s', flush=True)


def paper_claims(args, env):
    print(f'paper claims: input {args.image_size}x{args.image_size}, '
          f'{", ".join(args.runtimes)}, {args.repeats} interleaved rounds, '
          f'{env}')
    rows = benchmark_paper_claims(
        args.pairs, device=args.device, runtimes=args.runtimes,
        image_size=args.image_size, warmup=args.warmup,
        repeats=args.repeats, on_row=print_claim_row)
    comparisons = paper_claim_ratios(rows)
    print('\nclaims:')
    for comparison in comparisons:
        print('  ' + describe_comparison(comparison))
    print('\nImageNet-1k top-1 (published; the baseline\'s by its paper '
          'and by timm):')
    for arch in args.pairs:
        pair = PAIRS[arch]
        print(f'  {pair.fasternet} {pair.fasternet_top1}, {pair.baseline} '
              f'{pair.baseline_top1} (timm {pair.baseline_timm_weights}: '
              f'{pair.baseline_timm_top1})')
    write_json(args, env, rows, comparisons=comparisons)
    return rows, comparisons


def write_json(args, env, rows, **results):
    """``--json``: the machine, the command's settings, the rows and what
    a subcommand derived from them (comparisons, ratios)."""
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(dict(environment=env, settings=vars(args), rows=rows,
                           **results), f, indent=1)


def print_train_row(row):
    print(f'  {osp.basename(row["config"]):<48} '
          f'{row["s_per_iter"]:>9.3f} s/iter '
          f'{row["peak_memory_mb"]:>9.1f} MiB peak '
          f'({row["memory_before_steps_mb"]:.1f} MiB before the steps)',
          flush=True)


def train(args, env):
    from mmengine.logging import MMLogger

    # the optimizer builder logs every weight its paramwise_cfg changes
    MMLogger.get_instance('mmengine').setLevel('WARNING')
    print(f'train benchmark: batch {args.batch}, input {args.shape[0]}x'
          f'{args.shape[1]}, with_cp {args.with_cp}, {args.repeats} '
          f'interleaved rounds, {env}')
    rows = benchmark_training(
        args.configs, batch=args.batch, shape=tuple(args.shape),
        device=args.device, with_cp=args.with_cp, warmup=args.warmup,
        repeats=args.repeats, memory_steps=args.memory_steps,
        on_row=print_train_row)
    if rows:
        print(f'  memory: {rows[0]["memory"]}')
    ratios = training_ratios(rows)
    print('\nratios:')
    for ratio in ratios:
        print(f'  {osp.basename(ratio["config"])} vs '
              f'{osp.basename(ratio["baseline"])}: time '
              f'x{ratio["time_ratio"]:.2f}, memory '
              f'x{ratio["memory_ratio"]:.2f}')
    write_json(args, env, rows, ratios=ratios)
    return rows, ratios


def print_loop_row(row):
    runtime = row.get('backbone_runtime')
    backbone = (f'  backbone: {describe_report(runtime)}, first call '
                f'{runtime["prepare_s"]:.2f} s' if runtime else '')
    print(f'  round {row["round"]} {row["form"]:<12} {row["images"]:>5} '
          f'images {row["loop_s"]:>8.2f} s {row["images_per_s"]:>8.2f} '
          f'img/s (evaluation {row["evaluate_s"]:.2f} s){backbone}',
          flush=True)


def test_loop(args, env):
    print(f'test-loop benchmark: {args.config}, forms eval + deploy '
          f'({", ".join(args.runtimes)}), {args.repeats} interleaved '
          f'rounds, {env}')
    rows = benchmark_test_loop(
        args.config, args.checkpoint, runtimes=args.runtimes,
        repeats=args.repeats, cfg_options=args.cfg_options,
        work_dir=args.work_dir, on_row=print_loop_row)
    summary = summarize_test_loop(rows)
    print('\nsummary (median over rounds):')
    for form in summary:
        chosen = (f', backbone ran in {"/".join(form["runtimes_chosen"])}'
                  if form['runtimes_chosen'] else '')
        print(f'  {form["form"]:<12} {form["median_images_per_s"]:>8.2f} '
              f'img/s  x{form["speedup"]:.2f} vs eval (without the '
              f'set-up: x{form["speedup_after_setup"]:.2f}), metrics '
              f'differ by at most {form["max_metric_diff"]:.4g}{chosen}')
    write_json(args, env, rows, summary=summary)
    return rows, summary


def _flagged(ratio: dict) -> str:
    low, high = ratio['ci']
    flag = (', no measurable difference' if ratio['no_measurable_difference']
            else '')
    return f'x{ratio["speedup"]:.2f} [{low:.2f}, {high:.2f}{flag}]'


def print_runtime_row(row):
    low, high = row['ci_ms']
    baseline = (f'  vs baseline {_flagged(row["vs_baseline"])}'
                if 'vs_baseline' in row else '')
    parity = 'ok' if row['parity_ok'] else 'OUT OF TOLERANCE'
    eager = (f'  vs eager fp32 {_flagged(row["vs_eager_fp32"])}'
             if 'vs_eager_fp32' in row else '')
    print(f'  {row["model"]:<34} {row["runtime"]:<12} {row["precision"]:<5}'
          f' {row["median_ms"]:>9.2f} ms [{low:.2f}, {high:.2f}]{eager}'
          f'{baseline}  (parity {row["parity_error"]:.2g} {parity})',
          flush=True)


def whole_model_names(config, baseline_config):
    """The row names of --whole-model's two configs: their file names, the
    baseline's marked when both have the same one."""
    name, baseline = osp.basename(config), osp.basename(baseline_config)
    if baseline == name:
        baseline += ' (baseline)'
    return name, baseline


def _whole_models(args):
    """The backbones of --config's and --baseline-config's models (by
    :func:`whole_model_names`), the input, and a ``call`` that times each
    whole model's ``predict`` with its backbone in a runtime."""
    import copy

    from benchmarks.inference import build_for_inference
    from mmfasternet.deploy import switch_to_deploy
    from mmfasternet.engine.tasks import model_inputs
    wholes, task = {}, None
    names = whole_model_names(args.config, args.baseline_config)
    for name, config in zip(names, (args.config, args.baseline_config)):
        model, task = build_for_inference(config)
        if any(isinstance(m, FasterNet) for m in model.modules()):
            switch_to_deploy(model)
        wholes[name] = model
    inputs, samples = model_inputs(task, args.batch, tuple(args.shape))

    def call(name, backbone):
        variant = copy.deepcopy(wholes[name])
        variant.backbone = backbone
        if samples is None:
            return lambda: variant(inputs, mode='predict')
        return lambda: variant.predict(inputs, samples)

    return {name: m.backbone for name, m in wholes.items()}, inputs, call


def runtimes(args, command):
    """The ``runtimes`` subcommand; ``command`` is the command line written
    into the JSON record."""
    from benchmarks.folding import fold_batchnorms
    from benchmarks.inference import (
        backbone_forms,
        build_for_inference,
        reference_backbone,
    )
    from benchmarks.runtimes import (
        available_runtimes,
        benchmark_runtimes,
        calibration_images,
        machine,
    )
    from mmfasternet.deploy import switch_to_deploy
    torch.manual_seed(0)
    example = torch.randn(args.batch, 3, *args.shape)
    call = None
    if args.whole_model:
        models, example, call = _whole_models(args)
        baseline = whole_model_names(args.config, args.baseline_config)[1]
    else:
        if args.config:
            model = switch_to_deploy(build_for_inference(args.config)[0])
            models = {osp.basename(args.config): model.backbone}
        else:
            models = {f'FasterNet-{args.arch.upper()}':
                      backbone_forms(args.arch, example)['deploy']}
        baseline = args.baseline
        models[baseline] = fold_batchnorms(reference_backbone(baseline),
                                           example[:1])
    present, skipped = available_runtimes(args.runtimes)
    calibration, calibration_text = calibration_images(
        args.calib_dir, args.calib_images, args.shape)
    info = machine()
    print(f'runtimes benchmark: {", ".join(models)} (baseline {baseline}), '
          f'batch {args.batch}, input {args.shape[0]}x{args.shape[1]}, '
          f'{args.threads} thread(s), {args.rounds} interleaved rounds; '
          f'{info["cpu"]} ({", ".join(info["cpu_flags"])})')
    for runtime, why in skipped.items():
        print(f'  left out {runtime}: {why}')
    if any(r.endswith('-int8') for r in present):
        print(f'  INT8 calibration: {calibration_text}')
    print('\nmedian ms [95% CI]; speed-ups (img/s over) [95% CI]:')
    rows = benchmark_runtimes(
        models, baseline, present, example, args.threads, calibration,
        warmup=args.warmup, rounds=args.rounds, call=call,
        on_row=print_runtime_row)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(dict(machine=info, versions=info['versions'],
                           command=command,
                           settings=vars(args), calibration=calibration_text,
                           skipped=skipped, rows=rows), f, indent=1)
    return rows


def main(argv=None):
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.what == 'runtimes':
        command = ' '.join(['python -m benchmarks.benchmark'] + list(
            sys.argv[1:] if argv is None else map(str, argv)))
        return runtimes(args, command)
    env = environment(args.device)
    if args.what == 'paper-claims':
        return paper_claims(args, env)
    if args.what == 'train':
        return train(args, env)
    if args.what == 'test-loop':
        return test_loop(args, env)
    print(f'{args.what} benchmark: batch {args.batch}, {args.dtype}, '
          f'{"channels_last" if args.channels_last else "NCHW"}, '
          f'{"compiled" if args.compile else "eager"}, input '
          f'{args.shape[0]}x{args.shape[1]}, {env}')
    timing = dict(batch=args.batch, shape=tuple(args.shape),
                  device=args.device, channels_last=args.channels_last,
                  warmup=args.warmup, repeats=args.repeats)
    if args.what == 'backbone':
        rows = benchmark_backbones(
            args.archs, args.baselines, dtype=args.dtype,
            compile=args.compile, compile_mode=args.compile_mode,
            onnxruntime=args.onnxruntime, profile=args.profile,
            on_row=lambda row: print_backbone_row(row, args.device),
            **timing)
    else:
        calibration = None
        if any(r.endswith('-int8') for r in args.backbone_runtimes):
            from benchmarks.runtimes import calibration_images
            calibration, text = calibration_images(
                args.calib_dir, args.calib_images, args.shape)
            print(f'INT8 calibration: {text}')
        rows = benchmark_models(args.configs, real_heads=args.real_heads,
                                backbone_runtimes=args.backbone_runtimes,
                                calibration=calibration,
                                complexity=not args.no_complexity,
                                on_row=print_model_row, **timing)
    if args.what == 'model':
        print_complexity(rows, args.shape)
    print('\nratios:')
    for row in rows:
        ratios = [k for k in row
                  if k.startswith('speedup') and not k.endswith('_ci')]
        if ratios:
            name = row.get('model') or osp.basename(row['config'])
            print(f'  {name} {row["form"]}: ' + ', '.join(
                f'{k[len("speedup_vs_"):]} {_speedup_text(row, k)}'
                for k in ratios))
    write_json(args, env, rows)
    return rows


if __name__ == '__main__':
    main()
