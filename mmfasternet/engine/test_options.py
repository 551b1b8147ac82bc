"""tools/test.py's options (--eval, --format-only, --show, --show-dir, --out,
--tta) applied to a config.

Each option is checked against what the config actually carries (the type of
its test evaluator, of its visualization hook, its model), not only against
its task, and a combination that cannot work is refused with a ValueError
that names the cause and the fix, before the Runner is built.

The library classes are recognised through their registries and their
class hierarchy, so subclasses (LVISMetric of CocoMetric,
VOCMultiLabelMetric of MultiLabelMetric, ...) are served as their parents.
"""
import copy
import inspect
import os
import os.path as osp
import re
import sys
from typing import Callable, NamedTuple, Optional, Sequence, Tuple

import mmengine.registry
from mmengine.config import Config, ConfigDict

from ..datasets.config_checks import iter_dataset_cfgs

# -- looking classes up ------------------------------------------------------


def _registered_class(cfg: Config, registry_name: str, type_name):
    """The class a config's ``type`` names, looked up in the registry of the
    config's default scope (which falls back to mmengine's); None when
    nothing is registered under that name."""
    if inspect.isclass(type_name):
        return type_name
    if not isinstance(type_name, str):
        return None
    registry = getattr(mmengine.registry, registry_name)
    return registry.get(type_name if '.' in type_name else
                        f'{cfg.default_scope}.{type_name}')


def _library_ancestor(klass, known: Sequence[Tuple[str, str]]):
    """The first (library, class name) of ``known`` that ``klass`` is or
    derives from; None if none. Compared by name so that a detection config
    does not import mmseg or mmpretrain."""
    if klass is None:
        return None
    for ancestor in inspect.getmro(klass):
        key = (ancestor.__module__.split('.')[0], ancestor.__name__)
        if key in known:
            return key
    return None


def _type_name(type_name) -> str:
    return type_name.__name__ if inspect.isclass(type_name) else str(
        type_name)


# -- the test evaluator ------------------------------------------------------


def _metric_cfgs(cfg: Config) -> list:
    """The metric configs of ``test_evaluator`` in all the forms mmengine's
    Runner accepts: one metric, a list of metrics, or an Evaluator with
    ``metrics``."""
    evaluator = cfg.get('test_evaluator')
    if not evaluator:
        raise ValueError('the config has no test_evaluator; add one (the '
                         'dataset bases of mmdet, mmseg and mmpretrain '
                         'define it) or pass --cfg-options '
                         'test_evaluator.type=...')
    if isinstance(evaluator, dict) and 'metrics' in evaluator:
        evaluator = evaluator['metrics']
    return list(evaluator) if isinstance(evaluator, (list, tuple)) else [
        evaluator
    ]


def _set_metric_cfgs(cfg: Config, metrics: list):
    evaluator = cfg.test_evaluator
    if isinstance(evaluator, dict) and 'metrics' in evaluator:
        evaluator['metrics'] = metrics
    else:
        cfg.test_evaluator = metrics[0] if len(metrics) == 1 else metrics


def has_mask_head(model_cfg) -> bool:
    """Whether a detector config predicts instance masks: a ``mask_head``
    anywhere in it (Mask R-CNN and its cascades, SOLO, CondInst, YOLACT,
    ...) or a head whose type names masks or instances (RTMDet-Ins,
    MaskFormer, Mask2Former)."""
    if isinstance(model_cfg, dict):
        for key, value in model_cfg.items():
            if key == 'mask_head' and value is not None:
                return True
            if (key == 'type' and isinstance(value, str)
                    and value.endswith('Head')
                    and re.search(r'Mask|Ins', value)):
                return True
            if has_mask_head(value):
                return True
    elif isinstance(model_cfg, (list, tuple)):
        return any(has_mask_head(item) for item in model_cfg)
    return False


class _Member(NamedTuple):
    cfg: dict
    key: Tuple[str, str]  # (library, class name) it is or derives from


def _set_detection_metric(members, names, cfg):
    for member in members:
        member.cfg['metric'] = list(names)
    return [member.cfg for member in members]


def _one_voc_metric_per_name(members, names, cfg):
    # VOCMetric computes a single metric per instance.
    metrics = []
    for member in members:
        for name in names:
            metric = copy.deepcopy(member.cfg)
            metric['metric'] = name
            metrics.append(metric)
    return metrics


def _set_iou_metrics(members, names, cfg):
    for member in members:
        member.cfg['iou_metrics'] = list(names)
    return [member.cfg for member in members]


# mmcls 2.x names -> mmpretrain's ``items``
_ITEMS = dict(precision='precision', recall='recall', f1_score='f1-score',
              support='support')


def _first(members, name, default):
    for member in members:
        if member.key[1] == name:
            return copy.deepcopy(member.cfg)
    return ConfigDict(default)


def _single_label_metrics(members, names, cfg):
    metrics = []
    if 'accuracy' in names:
        metrics.append(_first(members, 'Accuracy', dict(type='Accuracy')))
    items = [_ITEMS[name] for name in _ITEMS if name in names]
    if items:
        metric = _first(members, 'SingleLabelMetric',
                        dict(type='SingleLabelMetric'))
        metric['items'] = items
        metrics.append(metric)
    return metrics


# mmcls 2.x multi-label names: C* average over classes, O* over all
# predictions (mmpretrain's average='macro' / 'micro').
_MULTI_LABEL = dict(CP=('macro', 'precision'), CR=('macro', 'recall'),
                    CF1=('macro', 'f1-score'), OP=('micro', 'precision'),
                    OR=('micro', 'recall'), OF1=('micro', 'f1-score'))


def _multi_label_metrics(members, names, cfg):
    metrics = []
    if 'mAP' in names:
        metrics.append(
            _first(members, 'AveragePrecision',
                   dict(type='AveragePrecision')))
    configured = [m.cfg for m in members if m.key[1] == 'MultiLabelMetric']
    template = configured[0] if configured else ConfigDict(
        type='MultiLabelMetric')
    # plain precision/recall/... keep the configured average
    plain_average = template.get('average', 'macro')
    items = {}
    for name in names:
        if name in _MULTI_LABEL:
            average, item = _MULTI_LABEL[name]
        elif name in _ITEMS:
            average, item = plain_average, _ITEMS[name]
        else:
            continue
        items.setdefault(average, [])
        if item not in items[average]:
            items[average].append(item)
    for average, wanted in items.items():
        same = [m for m in configured if m.get('average', 'macro') == average]
        metric = copy.deepcopy(same[0] if same else template)
        metric['average'] = average
        metric['items'] = [item for item in _ITEMS.values()
                           if item in wanted]
        metrics.append(metric)
    return metrics


class _EvaluatorKind(NamedTuple):
    title: str
    classes: Tuple[Tuple[str, str], ...]
    names: Tuple[str, ...]
    apply: Callable
    # {name: why} for the names this kind cannot take on a given config
    unavailable: Callable = lambda cfg: {}


def _coco_unavailable(cfg):
    if has_mask_head(cfg.model):
        return {}
    return dict(segm='segm scores instance masks: this model has no mask '
                'head')


def _voc_unavailable(cfg):
    import numpy as np
    if np.lib.NumpyVersion(np.__version__) < '1.24.0':
        return {}
    # mmdet's eval_recalls stacks the per-image IoU arrays, whose numbers
    # of boxes differ, into one np.array
    return dict(recall='VOCMetric\'s recall (mmdet.evaluation.'
                'eval_recalls) builds a ragged numpy array, which numpy '
                f'{np.__version__} refuses; CocoMetric\'s proposal or '
                'proposal_fast score recall')


EVALUATOR_KINDS = (
    _EvaluatorKind('CocoMetric/LVISMetric', (('mmdet', 'CocoMetric'), ),
                   ('bbox', 'segm', 'proposal', 'proposal_fast'),
                   _set_detection_metric, _coco_unavailable),
    _EvaluatorKind('VOCMetric', (('mmdet', 'VOCMetric'), ),
                   ('mAP', 'recall'), _one_voc_metric_per_name,
                   _voc_unavailable),
    _EvaluatorKind('IoUMetric', (('mmseg', 'IoUMetric'), ),
                   ('mIoU', 'mDice', 'mFscore'), _set_iou_metrics),
    _EvaluatorKind('Accuracy/SingleLabelMetric',
                   (('mmpretrain', 'Accuracy'),
                    ('mmpretrain', 'SingleLabelMetric')),
                   ('accuracy', 'precision', 'recall', 'f1_score',
                    'support'), _single_label_metrics),
    _EvaluatorKind('MultiLabelMetric/AveragePrecision',
                   (('mmpretrain', 'MultiLabelMetric'),
                    ('mmpretrain', 'AveragePrecision')),
                   ('mAP', 'CP', 'CR', 'CF1', 'OP', 'OR', 'OF1',
                    'precision', 'recall', 'f1_score', 'support'),
                   _multi_label_metrics),
)
_SCOPE_KINDS = dict(
    detection=EVALUATOR_KINDS[:2], segmentation=EVALUATOR_KINDS[2:3],
    classification=EVALUATOR_KINDS[3:])

def eval_metrics_help() -> str:
    """What ``--eval`` takes, evaluator by evaluator, for the --help text."""
    return '; '.join(f'{kind.title}: {" ".join(kind.names)}'
                     for kind in EVALUATOR_KINDS)


def _set_metrics_hint(task: str) -> str:
    return ('leave --eval out and set the metrics in the config or with '
            '--cfg-options test_evaluator.<argument>=...; --eval knows '
            + ', '.join(kind.title for kind in _SCOPE_KINDS.get(
                task, EVALUATOR_KINDS)) + ' (and subclasses)')


def apply_eval_metrics(cfg: Config, task: str, metrics: Sequence[str]):
    """Point the test evaluator at the 2.x-style ``--eval`` metrics.

    The names are checked against the type of each metric of
    ``cfg.test_evaluator`` (see ``EVALUATOR_KINDS``) and set on it: CocoMetric
    and LVISMetric take ``bbox segm proposal proposal_fast`` (``segm`` only
    for a model with a mask head), VOCMetric ``mAP recall`` (one VOCMetric
    per name; ``recall`` is refused under numpy >= 1.24, where mmdet
    3.3's eval_recalls fails), IoUMetric ``mIoU mDice mFscore``;
    mmpretrain's single-label
    metrics become Accuracy (``accuracy``) and SingleLabelMetric
    (``precision recall f1_score support``), the multi-label ones
    AveragePrecision (``mAP``) and MultiLabelMetric with average macro
    (``CP CR CF1``) and micro (``OP OR OF1``). Metrics of types that are
    not known are left as configured.

    Raises:
        ValueError: a name no metric of the evaluator takes, or an evaluator
            none of whose metrics is of a known type.
    """
    names = list(dict.fromkeys(metrics))
    configured = _metric_cfgs(cfg)
    kind_of = []  # the kind of each configured metric, None if unknown
    members = {}  # kind title -> [_Member]
    unknown = []
    for metric in configured:
        type_name = metric.get('type')
        klass = _registered_class(cfg, 'METRICS', type_name)
        kind_of.append(None)
        for kind in EVALUATOR_KINDS:
            key = _library_ancestor(klass, kind.classes)
            if key is not None:
                members.setdefault(kind.title, []).append(
                    _Member(metric, key))
                kind_of[-1] = kind
                break
        else:
            unknown.append(_type_name(type_name) + (
                '' if klass else ' (not registered)'))
    if not members:
        raise ValueError(
            f'--eval: tools/test.py cannot set metrics on this config\'s '
            f'test evaluator {", ".join(unknown)}; ' + _set_metrics_hint(task))

    kinds = [kind for kind in EVALUATOR_KINDS if kind.title in members]
    unavailable = {}
    offered = {}
    for kind in kinds:
        reasons = kind.unavailable(cfg)
        unavailable.update(reasons)
        offered[kind.title] = tuple(n for n in kind.names
                                    if n not in reasons)
    refused = [n for n in names if not any(n in offered[k] for k in offered)]
    if refused:
        types = ', '.join(
            dict.fromkeys(_type_name(m.cfg.get('type'))
                          for kind in kinds for m in members[kind.title]))
        choices = ' or '.join(
            f'{", ".join(offered[kind.title])} ({kind.title})'
            if len(kinds) > 1 else ', '.join(offered[kind.title])
            for kind in kinds)
        reason = ''.join(f' ({unavailable[n]})' for n in refused
                         if n in unavailable)
        others = (f'; metrics of {", ".join(unknown)} stay as configured'
                  if unknown else '')
        raise ValueError(
            f'--eval {" ".join(refused)}: not a metric of this config\'s '
            f'test evaluator {types}{reason}; choose from {choices}{others}')

    rebuilt = []
    for metric, kind in zip(configured, kind_of):
        if kind is None:
            rebuilt.append(metric)
        elif metric is members[kind.title][0].cfg:  # each kind once
            wanted = [n for n in names if n in offered[kind.title]]
            rebuilt += (kind.apply(members[kind.title], wanted, cfg)
                        if wanted else [m.cfg for m in members[kind.title]])
    _set_metric_cfgs(cfg, rebuilt)


def apply_format_only(cfg: Config, task: str, out_dir: str):
    """Have every metric of the test evaluator write its results in the
    benchmark's submission format under ``out_dir`` instead of scoring them:
    the metrics with a ``format_only`` argument and an ``outfile_prefix``
    (CocoMetric, LVISMetric, CocoPanopticMetric, CityScapesMetric: json files
    ``out_dir/results.*``) or an ``output_dir`` (IoUMetric,
    CityscapesMetric: png label maps).

    Raises:
        ValueError: a metric without a format-only mode.
    """
    out_dir = osp.abspath(osp.expanduser(out_dir))
    plans = []
    unsupported = []
    for metric in _metric_cfgs(cfg):
        klass = _registered_class(cfg, 'METRICS', metric.get('type'))
        arguments = inspect.signature(
            klass.__init__).parameters if klass else {}
        target = next((name for name in ('outfile_prefix', 'output_dir')
                       if name in arguments), None)
        if 'format_only' in arguments and target:
            plans.append((metric, target, 'keep_results' in arguments))
        else:
            unsupported.append(_type_name(metric.get('type')))
    if unsupported:
        raise ValueError(
            f'--format-only: {", ".join(unsupported)} of this {task} '
            f'config\'s test evaluator has no format-only mode (metrics '
            f'with one: CocoMetric, LVISMetric, CocoPanopticMetric, '
            f'IoUMetric, CityscapesMetric); use --out FILE.pkl to save the '
            f'raw predictions instead')
    for metric, target, has_keep_results in plans:
        metric['format_only'] = True
        metric[target] = (osp.join(out_dir, 'results')
                          if target == 'outfile_prefix' else out_dir)
        if has_keep_results:  # mmseg's CityscapesMetric deletes them else
            metric['keep_results'] = True
    return out_dir


def result_dump_metric(task: str, out: str):
    """An evaluator metric that pickles the raw predictions to ``out``."""
    if task == 'detection':
        from mmdet.evaluation import DumpDetResults
        return DumpDetResults(out_file_path=out)
    from mmengine.evaluator import DumpResults
    return DumpResults(out_file_path=out)


# -- the visualization hook --------------------------------------------------

_DET_HOOK = ('mmdet', 'DetVisualizationHook')
_SEG_HOOK = ('mmseg', 'SegVisualizationHook')
_CLS_HOOK = ('mmpretrain', 'VisualizationHook')
_KNOWN_HOOKS = (_DET_HOOK, _SEG_HOOK, _CLS_HOOK)


def resolve_show_dir(cfg: Config, show_dir: str) -> str:
    """Where ``--show-dir`` draws: an absolute path as given, a relative one
    under the work dir (``<work_dir>/<show_dir>``), whatever the current
    directory is."""
    show_dir = osp.expanduser(show_dir)
    return show_dir if osp.isabs(show_dir) else osp.abspath(
        osp.join(cfg.work_dir, show_dir))


def _visualization_hook(cfg: Config, task: str):
    hooks = cfg.get('default_hooks') or {}
    hook = hooks.get('visualization')
    if not hook:
        raise ValueError('--show/--show-dir need a visualization hook in '
                         'default_hooks; the mmdet/mmseg/mmpretrain '
                         'default_runtime bases define one.')
    key = _library_ancestor(
        _registered_class(cfg, 'HOOKS', hook.get('type')), _KNOWN_HOOKS)
    if key is None:
        raise ValueError(
            f'--show/--show-dir: tools/test.py does not know the '
            f'visualization hook {_type_name(hook.get("type"))} of this '
            f'{task} config (it knows mmdet\'s DetVisualizationHook, mmseg\'s '
            f'SegVisualizationHook, mmpretrain\'s VisualizationHook and '
            f'their subclasses); set its options in the config or with '
            f'--cfg-options default_hooks.visualization.<option>=...')
    return hook, key


def _point_local_backend_at(cfg: Config, img_save_dir: str):
    """Have the visualizer's LocalVisBackend write images into
    ``img_save_dir`` (an absolute ``img_save_dir`` replaces the
    backend's ``<save_dir>/vis_image``); config and scalars stay in the
    run's log dir."""
    from mmengine.registry import VISBACKENDS
    from mmengine.visualization import LocalVisBackend
    visualizer = cfg.get('visualizer')
    if not visualizer:
        raise ValueError('--show-dir: the config has no visualizer; '
                         'mmseg::_base_/default_runtime.py defines '
                         'SegLocalVisualizer')
    backends = list(visualizer.get('vis_backends') or [])
    local = []
    for backend in backends:
        klass = backend.get('type')
        klass = VISBACKENDS.get(klass) if isinstance(klass, str) else klass
        if inspect.isclass(klass) and issubclass(klass, LocalVisBackend):
            local.append(backend)
    if not local:
        local = [ConfigDict(type='LocalVisBackend')]
        backends += local
    for backend in local:
        backend['img_save_dir'] = img_save_dir
    visualizer['vis_backends'] = backends


def apply_visualization(cfg: Config, task: str, show_dir: Optional[str],
                        show: bool = False, wait_time: float = 2.):
    """Draw the prediction of every test image, show it (``show``) and/or
    save it into ``show_dir`` (see :func:`resolve_show_dir`), through the
    config's own visualization hook: mmdet's DetVisualizationHook
    (``<basename of the image>``), mmseg's SegVisualizationHook
    (``test_<basename>_0.png``) or mmpretrain's VisualizationHook
    (``<basename>_0.png``). Returns the absolute ``show_dir``, or None.

    Raises:
        ValueError: no visualization hook, one of an unknown type, or
            ``show`` with ``show_dir`` for SegVisualizationHook (which stops
            saving while it shows).
    """
    hook, key = _visualization_hook(cfg, task)
    if show and show_dir and key == _SEG_HOOK:
        raise ValueError('--show with --show-dir: mmseg\'s '
                         'SegVisualizationHook saves nothing while it shows '
                         'the images; run with one of the two at a time')
    out_dir = resolve_show_dir(cfg, show_dir) if show_dir else None
    if key == _CLS_HOOK:
        hook['enable'] = True
        hook['interval'] = 1  # per sample, 5000 by default
        if out_dir:
            hook['out_dir'] = out_dir
    else:
        hook['draw'] = True
    if key == _DET_HOOK and out_dir:
        # an absolute test_out_dir is kept as it is (a relative one goes
        # under <work_dir>/<timestamp>/)
        hook['test_out_dir'] = out_dir
    if key == _SEG_HOOK:
        hook['interval'] = 1  # per batch, 50 by default
        if out_dir:
            _point_local_backend_at(cfg, out_dir)
    if show:
        hook['show'] = True
        hook['wait_time'] = wait_time
    return out_dir


def check_tta_with_visualization(cfg: Config, task: str):
    """Refuse ``--tta`` with ``--show``/``--show-dir`` where the hook cannot
    draw test-time augmented batches (mmpretrain's VisualizationHook draws
    ``data_batch['inputs']``, which TTA turns into lists of views)."""
    _, key = _visualization_hook(cfg, task)
    if key == _CLS_HOOK:
        raise ValueError('--tta with --show/--show-dir: mmpretrain\'s '
                         'VisualizationHook draws single-view batches only; '
                         'run the two separately')


def display_problem() -> Optional[str]:
    """Why no window can be shown here, or None. Every visualizer of mmdet,
    mmseg and mmpretrain shows through matplotlib; its non-interactive
    backends (agg, chosen where there is no display) show nothing and make
    ``--show`` sleep ``--wait-time`` per image, or forever with 0."""
    import matplotlib
    backend = matplotlib.get_backend()
    try:
        from matplotlib.backends import BackendFilter, backend_registry
        non_interactive = backend_registry.list_builtin(
            BackendFilter.NON_INTERACTIVE)
    except ImportError:  # matplotlib < 3.9
        from matplotlib.rcsetup import non_interactive_bk as non_interactive
    if backend.lower() not in {name.lower() for name in non_interactive}:
        return None
    reason = f'matplotlib\'s backend here is {backend!r}, which opens no ' \
        'window'
    if sys.platform.startswith('linux') and not (
            os.environ.get('DISPLAY') or os.environ.get('WAYLAND_DISPLAY')):
        reason += ' (no DISPLAY or WAYLAND_DISPLAY is set)'
    return reason


# -- test-time augmentation --------------------------------------------------


_TTA_MODELS = dict(
    detection=dict(type='DetTTAModel',
                   tta_cfg=dict(nms=dict(type='nms', iou_threshold=0.5),
                                max_per_img=100)),
    segmentation=dict(type='SegTTAModel'),
    classification=dict(type='mmpretrain.AverageClsScoreTTA'))


def apply_tta(cfg: Config, task: str):
    """Wrap the model for test-time augmentation, as each library's own
    test.py does: the config's ``tta_model`` and ``tta_pipeline`` where it
    has them (mmseg's bases do), else the task's TTA model (DetTTAModel,
    SegTTAModel, AverageClsScoreTTA) over a horizontal flip of the test
    pipeline.

    Raises:
        ValueError: a detector with a mask head (DetTTAModel merges boxes
            only).
    """
    if task == 'detection' and has_mask_head(cfg.model):
        raise ValueError('--tta: mmdet\'s DetTTAModel does not support '
                         'instance segmentation (it refuses mask heads); use '
                         '--tta with box-only detectors.')
    test_dataset = next(iter_dataset_cfgs(cfg.test_dataloader.dataset,
                                          ''))[1]
    if cfg.get('tta_model') is None:
        cfg.tta_model = copy.deepcopy(_TTA_MODELS[task])
    if cfg.get('tta_pipeline') is None:
        pipeline = copy.deepcopy(test_dataset.pipeline)
        pack = copy.deepcopy(pipeline[-1])
        if task == 'detection':
            pack['meta_keys'] = ('img_id', 'img_path', 'ori_shape',
                                 'img_shape', 'scale_factor', 'flip',
                                 'flip_direction')
        pipeline[-1] = dict(
            type='TestTimeAug',
            transforms=[[
                dict(type='RandomFlip', prob=1.),
                dict(type='RandomFlip', prob=0.)
            ], [pack]])
        cfg.tta_pipeline = pipeline
    cfg.model = ConfigDict(**cfg.tta_model, module=cfg.model)
    test_dataset.pipeline = cfg.tta_pipeline


def check_out_file(out: str):
    """``--out`` pickles the predictions (mmengine's DumpResults)."""
    if not out.endswith(('.pkl', '.pickle')):
        raise ValueError(f'--out {out}: the predictions are pickled; name a '
                         f'.pkl file')


def apply_test_options(cfg: Config, task: str, *, eval_metrics=None,
                       format_only: bool = False, show: bool = False,
                       show_dir: Optional[str] = None, wait_time: float = 2.,
                       tta: bool = False, out: Optional[str] = None) -> dict:
    """Apply tools/test.py's options to ``cfg``, all checks first.

    Returns where the outputs go: ``dict(show_dir=..., format_only=...)``
    (absolute paths, None for options not given).

    Raises:
        ValueError: an option this config cannot serve, with the reason and
            what to do instead.
    """
    if eval_metrics and format_only:
        raise ValueError('--eval with --format-only: --format-only writes '
                         'the results without scoring them; give one of '
                         'the two')
    if out is not None:
        check_out_file(out)
    if show:
        problem = display_problem()
        if problem:
            raise ValueError(f'--show: {problem}; use --show-dir DIR to '
                             f'save the drawn images instead')
    outputs = dict(show_dir=None, format_only=None)
    if eval_metrics:
        apply_eval_metrics(cfg, task, eval_metrics)
    if format_only:
        outputs['format_only'] = apply_format_only(
            cfg, task, osp.join(cfg.work_dir, 'format_only'))
    if show or show_dir:
        if tta:
            check_tta_with_visualization(cfg, task)
        outputs['show_dir'] = apply_visualization(cfg, task, show_dir, show,
                                                  wait_time)
    if tta:
        apply_tta(cfg, task)
    return outputs
