"""INT8 calibration on a config's training images, and the INT8 models
kept next to their checkpoint.

The calibration batches are ``num_images`` images of the config's training
set (evenly spaced over it), each run through the config's *test* pipeline
and the model's data preprocessor, so that the activation ranges are those
of test inputs while the evaluated images stay unseen.

An INT8 model is kept in ``<checkpoint>.int8/<key>.onnx`` beside
``<key>.json``, its record: the settings it was calibrated with (the
checkpoint's SHA-256, the config's model, data preprocessor and datasets,
the number of calibration images, the quantization recipe, the versions of
the packages that export, quantize and run it), the files it was calibrated
on, and per INT8 runtime whether its accuracy was accepted
(``tools/deployment/compare_runtimes.py``). ``<key>`` is a hash of the
settings: the same settings find the same file.
"""
import copy
import glob
import hashlib
import json
import os
import os.path as osp
from typing import Iterator, List, Optional, Sequence

import torch
from mmengine.config import Config

from ..utils.dataset_cfgs import iter_dataset_cfgs

__all__ = [
    'DEFAULT_CALIB_IMAGES', 'Int8ModelError', 'accepted_int8_model',
    'calibration_batches', 'calibration_dataset', 'find_int8_record',
    'int8_settings', 'record_paths', 'save_int8_record'
]

DEFAULT_CALIB_IMAGES = 300


class Int8ModelError(ValueError):
    """No INT8 model fit to use: none calibrated with these settings, or
    one whose accuracy was not accepted."""


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            digest.update(chunk)
    return digest.hexdigest()


def _plain(node):
    """A config node as JSON-ready builtins (ConfigDicts, tuples)."""
    if hasattr(node, 'to_dict'):
        node = node.to_dict()
    return json.loads(json.dumps(node, sort_keys=True, default=str))


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version
    found = {}
    for package in ('torch', 'onnx', 'onnxruntime', 'openvino',
                    'mmfasternet'):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = None
    return found


def int8_settings(cfg: Config, checkpoint: str, num_images: int) -> dict:
    """The settings an INT8 model of ``checkpoint`` under ``cfg`` is
    calibrated with, from the config as ``tools/test.py`` loads it
    (``--cfg-options`` merged, before its datasets are prepared).

    Returns:
        dict: ``checkpoint_sha256``, ``config`` (the config's model, data
        preprocessor, training and test datasets), ``calib_images``,
        ``quantization`` (:data:`~.quantize.RECIPE`), ``versions``;
        ``key``, the hash of all of them; and, for the
        reader, ``checkpoint`` (its path), ``checkpoint_mtime`` and
        ``config_file``, which the key leaves out (a copied or moved
        checkpoint keeps its INT8 models).
    """
    from .quantize import RECIPE
    settings = dict(
        checkpoint_sha256=_sha256(checkpoint),
        config=_plain(dict(
            model=cfg.model, data_preprocessor=cfg.get('data_preprocessor'),
            train_dataset=cfg.train_dataloader.dataset,
            test_dataset=cfg.test_dataloader.dataset)),
        calib_images=num_images,
        quantization=RECIPE,
        versions=_versions())
    text = json.dumps(settings, sort_keys=True)
    settings['key'] = hashlib.sha256(text.encode()).hexdigest()[:16]
    settings.update(checkpoint=osp.abspath(checkpoint),
                    checkpoint_mtime=osp.getmtime(checkpoint),
                    config_file=cfg.filename)
    return settings


def _cache_dir(checkpoint: str) -> str:
    return osp.abspath(checkpoint) + '.int8'


def record_paths(checkpoint: str, settings: dict) -> tuple:
    """(``<checkpoint>.int8/<key>.onnx``, ``<key>.json``) for
    ``settings``."""
    base = osp.join(_cache_dir(checkpoint), settings['key'])
    return base + '.onnx', base + '.json'


def find_int8_record(checkpoint: str, settings: dict) -> Optional[dict]:
    """The record of the INT8 model calibrated with ``settings``, or None
    where there is none (or its ONNX file is gone)."""
    onnx_file, json_file = record_paths(checkpoint, settings)
    if not (osp.isfile(onnx_file) and osp.isfile(json_file)):
        return None
    with open(json_file) as f:
        return json.load(f)


def save_int8_record(checkpoint: str, record: dict) -> str:
    """Write ``record`` (its settings and what was found about the model)
    beside its ONNX file; returns the JSON file's path."""
    json_file = record_paths(checkpoint, record)[1]
    os.makedirs(osp.dirname(json_file), exist_ok=True)
    with open(json_file + '.tmp', 'w') as f:
        json.dump(record, f, indent=1, sort_keys=True)
    os.replace(json_file + '.tmp', json_file)
    return json_file


def _differences(settings: dict, other: dict) -> List[str]:
    names = []
    for name in ('checkpoint_sha256', 'config', 'calib_images',
                 'quantization', 'versions'):
        if settings.get(name) != other.get(name):
            names.append(f'{name} ({other.get(name)!r} there)' if name in (
                'calib_images', 'versions') else name)
    return names


def accepted_int8_model(cfg: Config, checkpoint: str, num_images: int,
                        runtime: str, command: str) -> str:
    """The INT8 ONNX file of ``checkpoint`` calibrated with ``num_images``
    images under ``cfg`` whose accuracy in ``runtime`` was accepted.

    Args:
        command: the command that calibrates and checks one, for the
            error messages.

    Raises:
        Int8ModelError: none calibrated with these settings (naming what
            differs in those that were), or not checked or not accepted in
            ``runtime``.
    """
    settings = int8_settings(cfg, checkpoint, num_images)
    record = find_int8_record(checkpoint, settings)
    if record is None:
        others = []
        for path in sorted(glob.glob(osp.join(_cache_dir(checkpoint),
                                              '*.json'))):
            with open(path) as f:
                others.append(_differences(settings, json.load(f)))
        where = (f'; {_cache_dir(checkpoint)} holds INT8 models calibrated '
                 f'with other settings (differing in: '
                 f'{"; ".join(", ".join(o) for o in others)})'
                 if others else '')
        raise Int8ModelError(
            f'no INT8 model of this checkpoint was calibrated with '
            f'{num_images} images under this config{where}. Calibrate and '
            f'check one first: {command}')
    evaluation = record.get('evaluations', {}).get(runtime)
    if evaluation is None:
        raise Int8ModelError(
            f'the INT8 model {record_paths(checkpoint, settings)[0]} was '
            f'not checked for accuracy in {runtime}. Check it first: '
            f'{command}')
    if not evaluation['accepted']:
        drops = ', '.join(f'{name} {drop:+.2f}'
                          for name, drop in evaluation['drops'].items())
        raise Int8ModelError(
            f'the INT8 model {record_paths(checkpoint, settings)[0]} lost '
            f'more accuracy in {runtime} than allowed (drops in points: '
            f'{drops}; --max-drop {evaluation["max_drop"]}): use an fp32 or '
            f'bf16 runtime, or accept a larger drop with {command} '
            f'--max-drop DROP')
    return record_paths(checkpoint, settings)[0]


def _test_pipeline(cfg: Config):
    dataset_cfg = next(iter_dataset_cfgs(cfg.test_dataloader.dataset, ''))[1]
    pipeline = dataset_cfg.get('pipeline', cfg.get('test_pipeline'))
    if pipeline is None:
        raise ValueError('the config\'s test dataset has no pipeline to run '
                         'the calibration images through.')
    return pipeline


def calibration_dataset(cfg: Config, num_images: int,
                        evaluated: Sequence[str] = ()):
    """The config's training set with its test pipeline, and the
    ``num_images`` indices of it to calibrate on (evenly spaced over the
    set; all of it where it is smaller).

    Args:
        evaluated: the image paths of the evaluated set, none of which may
            be among the calibration images.

    Returns:
        tuple: (dataset, indices, image paths).

    Raises:
        ValueError: an empty training set, ``num_images`` < 1, or
            calibration images that are also in ``evaluated``.
    """
    import numpy as np
    from mmengine.registry import DATASETS, DefaultScope
    if num_images < 1:
        raise ValueError(f'--calib-images must be at least 1, got '
                         f'{num_images}.')
    dataset_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    pipeline = _test_pipeline(cfg)
    for _, inner in iter_dataset_cfgs(dataset_cfg, ''):
        inner['pipeline'] = copy.deepcopy(pipeline)
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        dataset = DATASETS.build(dataset_cfg)
    if len(dataset) == 0:
        raise ValueError('the config\'s training set is empty: no images to '
                         'calibrate on.')
    count = min(num_images, len(dataset))
    indices = sorted({int(i) for i in np.linspace(
        0, len(dataset) - 1, count).round()})
    paths = [dataset.get_data_info(i)['img_path'] for i in indices]
    shared = sorted(set(map(osp.abspath, paths)) &
                    set(map(osp.abspath, evaluated)))
    if shared:
        raise ValueError(
            f'{len(shared)} of the calibration images (the config\'s '
            f'training set) are also in the evaluated set, e.g. '
            f'{shared[0]}: calibrate on a training set without them '
            f'(train_dataloader.dataset).')
    return dataset, indices, paths


def calibration_batches(dataset, indices: Sequence[int],
                        data_preprocessor) -> Iterator[torch.Tensor]:
    """One (1, 3, H, W) batch per index of ``dataset``, as the model
    receives it in testing: the dataset's pipeline, then
    ``data_preprocessor`` (normalisation, padding)."""
    from mmengine.dataset import pseudo_collate
    for index in indices:
        with torch.no_grad():
            data = data_preprocessor(pseudo_collate([dataset[index]]),
                                     False)
        yield data['inputs']
