"""Export a whole model with mmdeploy, then measure how the exported model
agrees with the PyTorch model it came from: on images (parity and latency)
and on a dataset (the test evaluator's metrics of both).

What ``projects/mmdeploy_fasternet/tools/deploy.py`` runs; every function
takes mmdeploy's objects (deploy and model configs, its task processor, its
backend model), so that any mmdeploy codebase of the three tasks goes
through the same calls. ONNX Runtime is the backend served here.
"""
import copy
import os.path as osp
import statistics
import time
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

TASKS = dict(mmdet='detection', mmseg='segmentation',
             mmpretrain='classification')
MATCH_IOU = 0.99  # a detection "equals" another of the same class above it
CONFIGS = 'projects/mmdeploy_fasternet/configs'


def load_configs(deploy_cfg: str, model_cfg: str,
                 cfg_options: Optional[dict] = None):
    """The deploy and model configs (mmengine ``Config``), the model
    config with ``cfg_options`` merged, checked for what this module serves.

    Raises:
        FileNotFoundError: a config file does not exist.
        ValueError: the deploy config's backend is not ONNX Runtime, its
            codebase is not mmdet/mmseg/mmpretrain, or it does not match
            the model config's library (``default_scope``).
    """
    from mmdeploy.utils import get_backend, get_codebase, load_config
    for what, path in (('deploy config', deploy_cfg),
                       ('model config', model_cfg)):
        if not osp.isfile(path):
            raise FileNotFoundError(f'{what}: no file {path!r}.')
    deploy_cfg, model_cfg = load_config(deploy_cfg, model_cfg)
    if cfg_options:
        model_cfg.merge_from_dict(cfg_options)
    backend = get_backend(deploy_cfg).value
    if backend != 'onnxruntime':
        raise ValueError(
            f'the deploy config\'s backend is {backend!r}; this tool '
            f'exports and checks ONNX Runtime models (use a '
            f'{CONFIGS}/*_onnxruntime_*.py config).')
    codebase = get_codebase(deploy_cfg).value
    if codebase not in TASKS:
        raise ValueError(f'the deploy config is for {codebase!r}; this tool '
                         f'serves {sorted(TASKS)}.')
    scope = model_cfg.get('default_scope')
    if scope != codebase:
        raise ValueError(
            f'the deploy config is for {codebase} models but the model '
            f'config is a {scope} config: pick the deploy config of its '
            f'task ({CONFIGS}/{_deploy_config_name(scope)}).')
    return deploy_cfg, model_cfg


def _deploy_config_name(scope: Optional[str]) -> str:
    return dict(mmdet='detection_onnxruntime_dynamic.py, or '
                'instance-seg_onnxruntime_dynamic.py for masks',
                mmseg='segmentation_onnxruntime_dynamic.py',
                mmpretrain='classification_onnxruntime_dynamic.py').get(
                    scope, '*.py')


def task_of(deploy_cfg) -> str:
    """``'detection'``, ``'segmentation'`` or ``'classification'``."""
    from mmdeploy.utils import get_codebase
    return TASKS[get_codebase(deploy_cfg).value]


def export_onnx(deploy_cfg, model_cfg, checkpoint: str, img: str,
                work_dir: str, device: str = 'cpu') -> str:
    """Export with mmdeploy's ``torch2onnx`` (its rewriters, the deploy
    config's opset, names and dynamic axes), tracing with ``img`` through
    the model config's test pipeline.

    Returns:
        str: Path of the ONNX file (``<work_dir>/<save_file>``).

    Raises:
        FileNotFoundError: ``checkpoint`` or ``img`` does not exist.
    """
    from mmdeploy.apis import torch2onnx
    from mmdeploy.utils import get_onnx_config
    for what, path in (('checkpoint', checkpoint), ('image', img)):
        if not osp.isfile(path):
            raise FileNotFoundError(f'{what}: no file {path!r}.')
    save_file = get_onnx_config(deploy_cfg)['save_file']
    torch2onnx(img, work_dir, save_file, deploy_cfg, model_cfg, checkpoint,
               device)
    return osp.join(work_dir, save_file)


def build_torch_model(model_cfg, checkpoint: str, device: str = 'cpu',
                      deploy_form: bool = False):
    """The checkpoint's PyTorch model in eval mode, loaded under the rule of
    every mmfasternet tool (:func:`mmfasternet.models.utils.
    load_whole_model`: a file that does not hold the whole model is one
    ``CheckpointMismatchError`` before anything is exported). With
    ``deploy_form`` its backbone is switched to the inference form, which
    is what mmdeploy exports (its builder calls ``switch_to_deploy()``)."""
    from mmengine.model import revert_sync_batchnorm
    from mmengine.registry import MODELS, DefaultScope

    from mmfasternet.deploy import switch_to_deploy
    from mmfasternet.models.utils import load_whole_model
    model = copy.deepcopy(model_cfg.model)
    model.pop('pretrained', None)
    # As mmengine's Runner (and mmdeploy's builder): a top-level
    # data_preprocessor (mmpretrain's configs) is the model's.
    if model_cfg.get('data_preprocessor') is not None:
        model.setdefault('data_preprocessor',
                         copy.deepcopy(model_cfg.data_preprocessor))
    if 'init_cfg' in model.get('backbone', {}):
        model.backbone.init_cfg = None  # the checkpoint holds every weight
    with DefaultScope.overwrite_default_scope(model_cfg.default_scope):
        torch_model = MODELS.build(model)
    load_whole_model(torch_model, checkpoint)
    torch_model = revert_sync_batchnorm(torch_model).to(device).eval()
    if deploy_form:
        switch_to_deploy(torch_model)
    return torch_model


def build_backend(deploy_cfg, model_cfg, onnx_file: str,
                  device: str = 'cpu'):
    """mmdeploy's task processor and the ONNX Runtime model (mmdeploy's
    backend model, with the same data preprocessing as PyTorch's).

    Returns:
        tuple: ``(task_processor, backend_model)``.
    """
    from mmdeploy.apis.utils import build_task_processor
    task_processor = build_task_processor(model_cfg, deploy_cfg, device)
    backend_model = task_processor.build_backend_model(
        [onnx_file], task_processor.update_data_preprocessor)
    return task_processor, backend_model


def create_input(task_processor, img: str) -> dict:
    """The collated test-pipeline data of ``img`` (before the data
    preprocessor), as ``model.test_step`` takes it."""
    from mmdeploy.utils import get_input_shape
    data, _ = task_processor.create_input(
        img, get_input_shape(task_processor.deploy_cfg))
    return data


def predict(model, data: dict) -> list:
    """``model.test_step`` on a copy of ``data`` (the data samples are
    filled in place), without gradients."""
    with torch.no_grad():
        return model.test_step(copy.deepcopy(data))


def measure_latency(model, data: dict, runs: int = 10,
                    warmup: int = 2) -> float:
    """Median wall time of ``model.test_step(data)`` over ``runs`` runs after
    ``warmup`` runs, in milliseconds: preprocessing, the network and the
    post-processing into data samples (masks pasted, maps resized)."""
    if runs < 1:
        raise ValueError(f'runs must be at least 1, got {runs}.')
    for _ in range(warmup):
        predict(model, data)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        predict(model, data)
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


# --- parity -----------------------------------------------------------------

def classification_parity(torch_result: list, onnx_result: list,
                          topk: int = 5) -> dict:
    """Class scores of both models (``pred_score``: softmax over classes).

    Returns:
        dict: ``max_score_diff`` (max |difference| of the scores),
        ``max_log_score_diff`` (of their logarithms: the logits' difference
        up to one constant per image, which softmax removes),
        ``topk`` (k, at most the number of classes) and
        ``topk_equal`` (fraction of images whose k best classes are the
        same, in the same order).
    """
    torch_scores = torch.stack([r.pred_score for r in torch_result]).cpu()
    onnx_scores = torch.stack([r.pred_score for r in onnx_result]).cpu()
    k = min(topk, torch_scores.shape[1])
    log_diff = (torch_scores.clamp_min(1e-30).log()
                - onnx_scores.clamp_min(1e-30).log())
    same = (torch_scores.topk(k, dim=1).indices
            == onnx_scores.topk(k, dim=1).indices).all(dim=1)
    return dict(
        max_score_diff=(torch_scores - onnx_scores).abs().max().item(),
        max_log_score_diff=log_diff.abs().max().item(),
        topk=k,
        topk_equal=same.float().mean().item())


def segmentation_parity(torch_result: list, onnx_result: list,
                        torch_net: Optional[torch.Tensor] = None,
                        onnx_net: Optional[torch.Tensor] = None) -> dict:
    """Label maps of both models.

    Args:
        torch_result, onnx_result: ``test_step`` results (``pred_sem_seg``
            at the image's size).
        torch_net, onnx_net: The networks' label maps at the input size,
            (N, 1, h, w), before either library resizes them.

    Returns:
        dict: ``pixel_agreement`` (fraction of equal pixels at the image
        size: mmdeploy takes the argmax before resizing with nearest
        neighbours, mmseg resizes the logits bilinearly first, so the two
        differ along class borders when the image is resized), and, given
        the network maps, ``network_pixel_agreement`` at the input size.
    """
    equal = total = 0
    for a, b in zip(torch_result, onnx_result):
        a, b = a.pred_sem_seg.data.cpu(), b.pred_sem_seg.data.cpu()
        if a.shape != b.shape:
            raise ValueError(f'label maps of different sizes: {tuple(a.shape)}'
                             f' and {tuple(b.shape)}.')
        equal += (a == b).sum().item()
        total += a.numel()
    parity = dict(pixel_agreement=equal / total)
    if torch_net is not None and onnx_net is not None:
        parity['network_pixel_agreement'] = (
            (torch_net.cpu() == onnx_net.cpu()).float().mean().item())
    return parity


def segmentation_network_maps(torch_model, backend_model,
                              data: dict) -> Tuple[torch.Tensor, torch.Tensor]:
    """Both networks' label maps at the network's input size, (N, 1, h, w):
    the argmax of mmseg's ``encode_decode`` and the exported graph's output
    for the same preprocessed input."""
    with torch.no_grad():
        processed = torch_model.data_preprocessor(copy.deepcopy(data), False)
        inputs = processed['inputs']
        metas = [sample.metainfo for sample in processed['data_samples']]
        torch_net = torch_model.encode_decode(inputs, metas).argmax(
            1, keepdim=True)
        output_name = backend_model.output_names[0]
        onnx_net = backend_model.wrapper(
            {backend_model.input_name: inputs})[output_name]
    return torch_net, onnx_net.reshape(torch_net.shape).to(torch_net.dtype)


def box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """IoU of every box of ``a`` (M, 4) with every box of ``b`` (K, 4),
    xyxy, as (M, K)."""
    lt = torch.max(a[:, None, :2], b[None, :, :2])
    rb = torch.min(a[:, None, 2:], b[None, :, 2:])
    inter = (rb - lt).clamp_min(0).prod(-1)
    area_a = (a[:, 2:] - a[:, :2]).clamp_min(0).prod(-1)
    area_b = (b[:, 2:] - b[:, :2]).clamp_min(0).prod(-1)
    return inter / (area_a[:, None] + area_b[None] - inter).clamp_min(1e-9)


def detection_parity(torch_result: list, onnx_result: list,
                     iou: float = MATCH_IOU) -> dict:
    """Detections of both models, matched greedily in the PyTorch model's
    score order: a detection matches the best-overlapping unmatched one of
    the same class if their boxes overlap with IoU > ``iou``.

    Returns:
        dict: ``torch_dets`` and ``onnx_dets`` (counts), ``matched``,
        ``max_box_diff`` (pixels), ``max_score_diff``, and for models with
        masks ``mask_pixel_agreement`` (fraction of equal mask pixels over
        the matched pairs' masks at the image size).
    """
    counts = dict(torch_dets=0, onnx_dets=0, matched=0)
    box_diff = score_diff = 0.0
    mask_equal = mask_total = 0
    has_masks = False
    for ours, theirs in zip(torch_result, onnx_result):
        a, b = ours.pred_instances.cpu(), theirs.pred_instances.cpu()
        counts['torch_dets'] += len(a)
        counts['onnx_dets'] += len(b)
        if not len(a) or not len(b):
            continue
        overlaps = box_iou(a.bboxes, b.bboxes)
        overlaps[a.labels[:, None] != b.labels[None, :]] = 0
        taken = torch.zeros(len(b), dtype=torch.bool)
        has_masks = 'masks' in a and 'masks' in b
        for i in a.scores.argsort(descending=True).tolist():
            candidates = overlaps[i].masked_fill(taken, 0)
            j = int(candidates.argmax())
            if candidates[j] <= iou:
                continue
            taken[j] = True
            counts['matched'] += 1
            box_diff = max(box_diff,
                           (a.bboxes[i] - b.bboxes[j]).abs().max().item())
            score_diff = max(score_diff,
                             abs(a.scores[i].item() - b.scores[j].item()))
            if has_masks:
                mask_a, mask_b = a.masks[i].bool(), b.masks[j].bool()
                mask_equal += (mask_a == mask_b).sum().item()
                mask_total += mask_a.numel()
    parity = dict(counts, max_box_diff=box_diff, max_score_diff=score_diff)
    if has_masks and mask_total:
        parity['mask_pixel_agreement'] = mask_equal / mask_total
    return parity


def compare_on_images(task: str, task_processor, torch_model, backend_model,
                      imgs: Sequence[str], runs: int = 10) -> List[dict]:
    """Parity (see the ``*_parity`` functions) and latency
    (:func:`measure_latency`, ``torch_ms`` and ``onnx_ms``; skipped when
    ``runs`` is 0) of both models on each image.

    Returns:
        list[dict]: Per image: ``img``, ``input_shape`` (h, w of the
        resized image), for detectors whose input was padded beyond it
        ``padded_input`` (h, w of the network input), the parity figures
        and the latencies.
    """
    reports = []
    for img in imgs:
        if not osp.isfile(img):
            raise FileNotFoundError(f'image: no file {img!r}.')
        data = create_input(task_processor, img)
        torch_result = predict(torch_model, data)
        onnx_result = predict(backend_model, data)
        report = dict(img=img, input_shape=tuple(
            torch_result[0].metainfo.get('img_shape', ())))
        if task == 'classification':
            report.update(classification_parity(torch_result, onnx_result))
        elif task == 'segmentation':
            report.update(segmentation_parity(
                torch_result, onnx_result, *segmentation_network_maps(
                    torch_model, backend_model, data)))
        else:
            report.update(detection_parity(torch_result, onnx_result))
            # mmdeploy's exported detectors take the input tensor's size
            # as the image size: proposals and boxes are clipped to the
            # padded size, and detections may lie in the padding.
            report['padded_input'] = tuple(
                torch_result[0].metainfo.get('batch_input_shape', ()))
            if report['padded_input'] == report['input_shape']:
                del report['padded_input']
        if runs:
            report['torch_ms'] = measure_latency(torch_model, data, runs)
            report['onnx_ms'] = measure_latency(backend_model, data, runs)
        reports.append(report)
    return reports


def evaluate(task_processor, model, work_dir: str) -> Dict[str, float]:
    """The model config's test evaluator on its test dataloader, run with
    mmdeploy's test runner (as mmdeploy's ``tools/test.py`` does) for
    ``model``, PyTorch or backend.

    Returns:
        dict: The metrics.
    """
    runner = task_processor.build_test_runner(
        model, work_dir, log_file=osp.join(work_dir, 'test.log'))
    return runner.test()


def format_parity(task: str, report: dict) -> str:
    """One line of a parity report of :func:`compare_on_images`."""
    if task == 'classification':
        text = (f'max |score diff| {report["max_score_diff"]:.2e}, max '
                f'|log-score diff| {report["max_log_score_diff"]:.2e}, '
                f'top-{report["topk"]} equal on '
                f'{100 * report["topk_equal"]:.1f}% of images')
    elif task == 'segmentation':
        text = (f'network label map (at the input size): '
                f'{100 * report["network_pixel_agreement"]:.3f}% pixels equal;'
                f' after resizing to the image: '
                f'{100 * report["pixel_agreement"]:.3f}%')
    else:
        text = (f'{report["matched"]} of {report["torch_dets"]} PyTorch '
                f'detections matched by the {report["onnx_dets"]} ONNX ones '
                f'(same class, IoU > {MATCH_IOU}); max |box diff| '
                f'{report["max_box_diff"]:.3f} px, max |score diff| '
                f'{report["max_score_diff"]:.2e}')
        if 'mask_pixel_agreement' in report:
            text += (f', mask pixels equal '
                     f'{100 * report["mask_pixel_agreement"]:.3f}%')
        if 'padded_input' in report:
            text += (f' (input padded to {report["padded_input"]}: the '
                     f'exported model clips boxes to the padded size and '
                     f'may detect in the padding, PyTorch does not)')
    return text


def numpy_safe(value):
    """``value`` with numpy scalars turned into Python numbers (for json)."""
    if isinstance(value, dict):
        return {key: numpy_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [numpy_safe(item) for item in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
