"""Deploy a whole model with mmdeploy to ONNX Runtime and check it against
PyTorch.

    PYTHONPATH=. python projects/mmdeploy_fasternet/tools/deploy.py \
        projects/mmdeploy_fasternet/configs/instance-seg_onnxruntime_dynamic.py \
        configs/demo/maskrcnn_fasternet_t0_shapes_demo.py CKPT IMG --work-dir work_dirs/deploy_maskrcnn [--eval]

Exports the model with mmdeploy (``<work-dir>/end2end.onnx``), runs the
exported model in ONNX Runtime and the PyTorch model on IMG (and on each
``--test-img``: images of other sizes exercise the dynamic shapes), and
prints how they agree (classifier: score differences and top-5 agreement;
segmentor: equal pixels; detector: detections matched at IoU > 0.99, box,
score and mask differences) and the latency of both. ``--eval`` runs the
model config's test evaluator on its test dataset with both models, as
mmdeploy's ``tools/test.py`` does. Everything is also written to
``<work-dir>/deploy_report.json``. Run from the repository root with the
root on PYTHONPATH (the tool imports ``projects.mmdeploy_fasternet``); needs
mmdeploy (``pip install --no-deps -r requirements/mmdeploy.txt``, or
``bash tools/setup_env.sh``).
"""
import argparse
import copy
import json
import os
import os.path as osp
import time
import warnings


def build_parser():
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('deploy_cfg',
                        help='deploy config (projects/mmdeploy_fasternet/'
                        'configs/)')
    parser.add_argument('model_cfg', help='model config')
    parser.add_argument('checkpoint', help='checkpoint of the model')
    parser.add_argument('img', help='image to export with and check on')
    parser.add_argument('--work-dir', required=True,
                        help='where the ONNX file and the report go')
    parser.add_argument('--device', default='cpu',
                        help='device of the export and of both models '
                        '(default cpu; cuda:N needs onnxruntime-gpu, not '
                        'tested here)')
    parser.add_argument(
        '--deploy-form', action='store_true',
        help='compare with the PyTorch model in its inference form (BN '
        'folded, what mmdeploy exports) instead of the trained form in '
        'eval mode')
    parser.add_argument('--test-img', nargs='+', default=[], metavar='IMG',
                        help='more images to check on (other sizes check '
                        'the dynamic shapes)')
    parser.add_argument('--runs', type=int, default=10,
                        help='timed runs per image and model (median '
                        'reported; 0 skips timing)')
    parser.add_argument(
        '--eval', action='store_true',
        help='also run the model config\'s test evaluator on its test '
        'dataset with both models')
    parser.add_argument(
        '--dump-info', action='store_true',
        help='also write mmdeploy-runtime\'s (SDK) meta files: deploy.json, '
        'pipeline.json, detail.json')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction, default={},
        help='override model config keys, e.g. '
        'test_dataloader.dataset.data_root=data/demo_coco/')
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.runs < 0:
        parser.error(f'--runs must be 0 or more, got {args.runs}.')
    try:
        from projects.mmdeploy_fasternet.mmdeploy_support import parity
    except ImportError as error:
        if (error.name or '').startswith('projects'):
            error = ('cannot import projects.mmdeploy_fasternet: run this '
                     'tool from the repository root with PYTHONPATH=.')
        parser.error(str(error))
    import torch
    # The tracer's notes on mmdeploy's and mmdet's code bury the report.
    warnings.filterwarnings('ignore', category=torch.jit.TracerWarning)
    try:
        deploy_cfg, model_cfg = parity.load_configs(
            args.deploy_cfg, args.model_cfg, args.cfg_options)
        for what, path in [('checkpoint', args.checkpoint),
                           ('image', args.img)] + [
                               ('--test-img', img) for img in args.test_img]:
            if not osp.isfile(path):
                raise FileNotFoundError(f'{what}: no file {path!r}.')
    except (FileNotFoundError, ValueError) as error:
        parser.error(str(error))
    task = parity.task_of(deploy_cfg)
    # Loaded first: a checkpoint of another model stops here, not after
    # an export of randomly initialised layers.
    torch_model = parity.build_torch_model(model_cfg, args.checkpoint,
                                           args.device, args.deploy_form)
    os.makedirs(args.work_dir, exist_ok=True)

    start = time.perf_counter()
    onnx_file = parity.export_onnx(deploy_cfg, model_cfg, args.checkpoint,
                                   args.img, args.work_dir, args.device)
    export_s = time.perf_counter() - start
    print(f'\nexported {onnx_file} in {export_s:.1f} s')
    if args.dump_info:
        from mmdeploy.backend.sdk.export_info import export2SDK

        # Copies: mmdeploy's get_postprocess pops the type of the config's
        # head, which the models built below need.
        export2SDK(copy.deepcopy(deploy_cfg), copy.deepcopy(model_cfg),
                   args.work_dir, pth=args.checkpoint, device=args.device)
        print(f'SDK meta files in {args.work_dir}')

    task_processor, backend_model = parity.build_backend(
        deploy_cfg, model_cfg, onnx_file, args.device)
    form = 'inference form' if args.deploy_form else 'eval mode'
    reports = parity.compare_on_images(task, task_processor, torch_model,
                                       backend_model,
                                       [args.img] + args.test_img, args.runs)
    print(f'\n{task}: ONNX Runtime vs PyTorch ({form})')
    for report in reports:
        print(f'  {report["img"]} (input {report["input_shape"]}): '
              + parity.format_parity(task, report))
        if args.runs:
            print(f'    latency (median of {args.runs}, test_step with '
                  f'{torch.get_num_threads()} torch threads): PyTorch '
                  f'{report["torch_ms"]:.1f} ms, ONNX Runtime '
                  f'{report["onnx_ms"]:.1f} ms '
                  f'({report["torch_ms"] / report["onnx_ms"]:.2f}x)')
    result = dict(task=task, onnx_file=onnx_file, export_s=export_s,
                  pytorch_form=form, images=reports)
    if args.eval:
        metrics = {}
        for name, model in (('pytorch', torch_model),
                            ('onnxruntime', backend_model)):
            metrics[name] = parity.evaluate(
                task_processor, model, osp.join(args.work_dir, f'eval_{name}'))
        result['metrics'] = metrics
        print('\ntest dataset metrics:')
        for key in metrics['pytorch']:
            print(f'  {key}: PyTorch {metrics["pytorch"][key]:.4f}, '
                  f'ONNX Runtime {metrics["onnxruntime"].get(key, float("nan")):.4f}')
    report_file = osp.join(args.work_dir, 'deploy_report.json')
    with open(report_file, 'w') as f:
        json.dump(parity.numpy_safe(result), f, indent=2)
    print(f'\nreport: {report_file}')
    return result


if __name__ == '__main__':
    main()
