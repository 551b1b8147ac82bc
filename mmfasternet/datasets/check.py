"""Read every sample of a config's datasets the way training reads it and
list what is wrong, before a run spends hours on them
(``tools/misc/check_dataset.py``, ``tools/train.py --check-data``).

Besides the checks of :mod:`.config_checks` (paths, class names and order,
``num_classes``), each sample goes through its pipeline's loading steps
(``LoadImageFromFile``, and ``LoadAnnotations`` for label maps), so every
image and label map is decoded as training decodes it:

- a missing, empty, truncated or undecodable file is listed with the
  reason;
- detection: the image's size as loaded (after the EXIF orientation mmcv
  applies) must equal the annotation's width and height;
- segmentation: the label map must have its image's size and hold only
  classes (or the ignore index);
- classification: labels must be in ``[0, number of classes)``.
"""
import copy
import json
from typing import List, NamedTuple, Optional, Sequence

from mmengine.config import Config

from .config_checks import Problem, config_problems, dataset_specs
from .guard import label_values, loading_steps
from .transforms import DamagedFileError

__all__ = ['DatasetCheckError', 'DatasetReport', 'check_datasets']


class DatasetCheckError(ValueError):
    """A full dataset check found damaged or mismatched files."""


class SplitSummary(NamedTuple):
    split: str
    key: str
    samples: int
    same_as: Optional[str]  # the key of the dataset checked in its place


KIND_TITLES = dict(
    missing_path='Missing dataset paths',
    class_names='Class names not in the annotations',
    class_order='Class names in another order than the annotations',
    num_classes='Heads with another number of classes',
    damaged_file='Missing, empty, truncated or unreadable files',
    size_mismatch='Image sizes that differ from the annotations',
    label_range='Labels and label maps that are no class',
)


class DatasetReport:
    """What :func:`check_datasets` found: ``problems`` (config checks
    first) and ``splits`` (per dataset, the samples checked)."""

    def __init__(self):
        self.problems: List[Problem] = []
        self.splits: List[SplitSummary] = []

    def summary(self, limit: int = 10) -> str:
        """Per dataset what was checked, then the problems grouped by kind,
        ``limit`` of each kind."""
        lines = [
            f'{s.split}: {s.key} is the dataset of {s.same_as}, checked '
            'there' if s.same_as else f'{s.split}: {s.key}: {s.samples} '
            'samples' for s in self.splits
        ]
        if not self.problems:
            return '\n'.join(lines + ['No problems found.'])
        lines.append(f'{len(self.problems)} problem(s):')
        kinds = {}
        for problem in self.problems:
            kinds.setdefault(problem.kind, []).append(problem)
        for kind, problems in kinds.items():
            lines.append(f'{KIND_TITLES.get(kind, kind)}: {len(problems)}')
            lines += [f'  - {p.message}' for p in problems[:limit]]
            if len(problems) > limit:
                lines.append(f'  ... and {len(problems) - limit} more '
                             '(--out FILE.json lists them all)')
        return '\n'.join(lines)

    def write(self, path: str) -> None:
        """Write the whole report to ``path`` as json."""
        with open(path, 'w') as f:
            json.dump(dict(splits=[s._asdict() for s in self.splits],
                           problems=[p._asdict() for p in self.problems]),
                      f, indent=1)


# What the worker processes read (set before the pool forks them).
_dataset = _loading = None


def _sample_problems(index: int) -> List[tuple]:
    """(kind, path, message) of each problem of sample ``index``."""
    info = _dataset.get_data_info(index)
    img_path = info['img_path']
    try:
        results = _loading(copy.deepcopy(info))
    except DamagedFileError as error:
        return [(error.kind, error.path, f'{error.path}: {error.reason}')]
    problems = []
    height, width = results.get('ori_shape', (None, None))
    if 'width' in info and height is not None and \
            (width, height) != (info['width'], info['height']):
        from PIL import Image
        with Image.open(img_path) as image:
            stored = image.size
        turned = (f' after its EXIF orientation (stored as {stored[0]}x'
                  f'{stored[1]})' if stored != (width, height) else '')
        problems.append(('size_mismatch', img_path,
                         f'{img_path}: {width}x{height} (width x height)'
                         f'{turned}, but the annotation says {info["width"]}'
                         f'x{info["height"]}'))
    label_map = results.get('gt_seg_map')
    if label_map is not None:
        problems += _label_map_problems(info, results, label_map)
    classes = _dataset.metainfo.get('classes') or ()
    if 'gt_label' in info and classes:
        label = int(info['gt_label'])
        if not 0 <= label < len(classes):
            problems.append(('label_range', img_path,
                             f'{img_path}: label {label} outside [0, '
                             f'{len(classes)}) for {len(classes)} classes'))
    return problems


def _label_map_problems(info, results, label_map) -> List[tuple]:
    seg_path = info['seg_map_path']
    height, width = results['ori_shape']
    if label_map.shape[:2] != (height, width):
        return [('size_mismatch', seg_path,
                 f'{seg_path}: label map {label_map.shape[1]}x'
                 f'{label_map.shape[0]}, image {width}x{height}')]
    return []


def _build_dataset(dataset_cfg: dict, scope: str):
    """The dataset without its pipeline, built as the Runner builds it."""
    from mmengine.registry import DATASETS, DefaultScope
    cfg = copy.deepcopy(dataset_cfg)
    cfg['pipeline'] = []
    with DefaultScope.overwrite_default_scope(scope):
        return DATASETS.build(cfg)


def check_datasets(cfg: Config, task: str,
                   splits: Sequence[str] = ('train', 'val', 'test'),
                   nproc: int = 1, progress: bool = False) -> DatasetReport:
    """Check the datasets of a config's splits (see the module docstring).

    Args:
        cfg (Config): a loaded config (its ``custom_imports`` done).
        task (str): 'detection', 'segmentation' or 'classification'.
        splits (Sequence[str]): of 'train', 'val', 'test'; a split without
            a dataloader is passed over, one whose dataset another split
            uses is checked once.
        nproc (int): processes reading the files.
        progress (bool): show mmengine's progress bar.
    """
    global _dataset, _loading
    report = DatasetReport()
    report.problems += config_problems(cfg, task, splits)
    if any(p.kind == 'missing_path' for p in report.problems):
        return report
    seen = {}
    for spec in dataset_specs(cfg, splits):
        identity = json.dumps({key: spec.cfg.get(key) for key in (
            'type', 'ann_file', 'data_root', 'data_prefix', 'test_mode',
            'filter_cfg', 'split')}, sort_keys=True, default=str)
        if identity in seen:
            report.splits.append(
                SplitSummary(spec.split, spec.key, 0, seen[identity]))
            continue
        seen[identity] = spec.key
        from mmcv.transforms import Compose
        _dataset = _build_dataset(spec.cfg, cfg.default_scope)
        with _scope(cfg.default_scope):
            _loading = Compose(loading_steps(spec.cfg.get('pipeline') or [],
                                             'error',
                                             label_values(cfg, spec.cfg)))
        indices = range(len(_dataset))
        report.problems += [
            Problem(kind, spec.key, path, message)
            for found in _run(indices, nproc, progress)
            for kind, path, message in found
        ]
        report.splits.append(
            SplitSummary(spec.split, spec.key, len(_dataset), None))
    unique = {}  # a file that several datasets share is reported once
    for problem in report.problems:
        unique.setdefault((problem.kind, problem.path, problem.message),
                          problem)
    report.problems = list(unique.values())
    return report


def _scope(scope: str):
    from mmengine.registry import DefaultScope
    return DefaultScope.overwrite_default_scope(scope)


def _run(indices, nproc: int, progress: bool) -> List[List[tuple]]:
    from mmengine.utils import track_parallel_progress, track_progress
    if progress:
        if nproc > 1:
            return track_parallel_progress(_sample_problems, list(indices),
                                           nproc, chunksize=16)
        return track_progress(_sample_problems, list(indices))
    if nproc > 1:
        from multiprocessing import Pool
        with Pool(nproc) as pool:
            return pool.map(_sample_problems, indices, chunksize=16)
    return [_sample_problems(index) for index in indices]
