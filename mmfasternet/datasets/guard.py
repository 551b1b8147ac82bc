"""Put every file-loading step of a config's pipelines under
:class:`CheckedLoading`, once for all detection, segmentation and
classification configs (tools/train.py and tools/test.py call
:func:`prepare_datasets`)."""
from typing import Sequence

from mmengine.config import Config, ConfigDict

from .config_checks import (
    SPLIT_LOADERS,
    _type_name,
    check_before_run,
    dataset_classes,
    dataset_specs,
    iter_dataset_cfgs,
)
from .transforms import ON_DAMAGED

# Loading transforms and the results keys naming the files they read.
FILE_LOADERS = dict(
    LoadImageFromFile=('img_path', ),
    LoadAnnotations=('seg_map_path', ),  # label maps (mmseg, mmdet panoptic)
    LoadPanopticAnnotations=('seg_map_path', ),
)
# Hooks that replace the training pipeline during training.
PIPELINE_HOOK_KEYS = ('train_pipeline', 'switch_pipeline')


def _checked(step, on_damaged: str, ann_file: str = None,
             label_values: dict = None):
    """``step`` wrapped in ``CheckedLoading`` if it loads files;
    ``label_values`` (``num_classes``, ``ignore_index``) for the label maps
    it loads."""
    name = _type_name(step.get('type')) if isinstance(step, dict) else ''
    if name not in FILE_LOADERS:
        return step
    return ConfigDict(type='CheckedLoading', transforms=[step],
                      file_keys=FILE_LOADERS[name], on_damaged=on_damaged,
                      ann_file=ann_file, **(label_values or {}))


def wrap_loading_steps(pipeline: list, on_damaged: str,
                       ann_file: str = None,
                       label_values: dict = None) -> list:
    """The pipeline with each top-level file-loading step wrapped in
    ``CheckedLoading`` (steps already wrapped are left as they are)."""
    return [_checked(step, on_damaged, ann_file, label_values)
            for step in pipeline]


def loading_steps(pipeline: list, on_damaged: str,
                  label_values: dict = None) -> list:
    """The top-level file-loading steps of ``pipeline``, each wrapped in
    ``CheckedLoading``."""
    wrapped = wrap_loading_steps(pipeline, on_damaged,
                                 label_values=label_values)
    return [new for new, step in zip(wrapped, pipeline) if new is not step]


def label_values(cfg: Config, dataset_cfg: dict) -> dict:
    """What the label maps of a segmentation dataset may hold:
    ``num_classes`` (when its classes are known) and ``ignore_index``;
    empty for other tasks."""
    if cfg.get('default_scope') != 'mmseg':
        return {}
    classes = dataset_classes(dataset_cfg, cfg.default_scope)
    if not isinstance(classes, tuple):
        return {}
    return dict(num_classes=len(classes),
                ignore_index=dataset_cfg.get('ignore_index', 255))


def _wrap_hook_pipelines(node, on_damaged: str):
    if isinstance(node, list):
        for item in node:
            _wrap_hook_pipelines(item, on_damaged)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key in PIPELINE_HOOK_KEYS and isinstance(value, list):
                node[key] = wrap_loading_steps(value, on_damaged)
            else:
                _wrap_hook_pipelines(value, on_damaged)


def guard_data_loading(cfg: Config, splits: Sequence[str],
                       on_damaged: str = 'skip') -> None:
    """Wrap the file-loading steps of the given splits' pipelines in
    ``CheckedLoading``, in place.

    Training pipelines (and those a hook switches to during training)
    handle damaged files as ``on_damaged`` says, and ``DamagedSampleHook``
    is added to log how many samples were skipped; evaluation pipelines
    always stop on one (skipping samples would change the metrics).

    Args:
        cfg (Config): the config as the Runner will get it.
        splits (Sequence[str]): of 'train', 'val', 'test'.
        on_damaged (str): 'skip' or 'error', for training.

    Raises:
        ValueError: for another ``on_damaged``.
    """
    if on_damaged not in ON_DAMAGED:
        raise ValueError(f'on_damaged={on_damaged!r}: choose one of '
                         f'{ON_DAMAGED}')
    specs = dataset_specs(cfg, splits)
    for split in splits:
        loader = cfg.get(SPLIT_LOADERS[split])
        if not loader or not loader.get('dataset'):
            continue
        mode = on_damaged if split == 'train' else 'error'
        for key, dataset in iter_dataset_cfgs(
                loader['dataset'], f'{SPLIT_LOADERS[split]}.dataset',
                innermost=False):
            if not isinstance(dataset.get('pipeline'), list):
                continue
            # the (first) innermost dataset the pipeline reads
            spec = next(s for s in specs if s.key.startswith(key))
            source = spec.ann_file or next(iter(spec.prefixes.values()),
                                           spec.data_root)
            dataset['pipeline'] = wrap_loading_steps(
                dataset['pipeline'], mode, source,
                label_values(cfg, spec.cfg))
    if 'train' in splits and cfg.get(SPLIT_LOADERS['train']):
        hooks = list(cfg.get('custom_hooks') or [])
        _wrap_hook_pipelines(hooks, on_damaged)
        if not any(_type_name(h.get('type')) == 'DamagedSampleHook'
                   for h in hooks):
            hooks.append(dict(type='DamagedSampleHook'))
        cfg.custom_hooks = hooks


def prepare_datasets(cfg: Config, task: str, splits: Sequence[str],
                     on_damaged: str = 'skip',
                     full_check: bool = False) -> None:
    """What tools/train.py and tools/test.py do with the datasets before
    building the Runner: the checks that read no image
    (:func:`check_before_run`), optionally the full check of every file
    (:func:`mmfasternet.datasets.check.check_datasets`), then
    :func:`guard_data_loading`.

    Args:
        cfg (Config): modified in place.
        task (str): 'detection', 'segmentation' or 'classification'.
        splits (Sequence[str]): the splits the run uses.
        on_damaged (str): 'skip' or 'error' for damaged training samples.
        full_check (bool): read every annotation and image header first.

    Raises:
        DatasetNotFoundError, DatasetConfigError: see
            :func:`check_before_run`.
        DatasetCheckError: ``full_check`` found damaged or mismatched
            files.
    """
    check_before_run(cfg, task, splits)
    if full_check:
        from .check import DatasetCheckError, check_datasets
        report = check_datasets(cfg, task, splits)
        if report.problems:
            raise DatasetCheckError(report.summary())
    guard_data_loading(cfg, splits, on_damaged)
