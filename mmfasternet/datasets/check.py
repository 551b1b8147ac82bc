"""Read every annotation and image header of a config's datasets once and
report what is wrong, before a run spends hours on them
(``tools/misc/check_dataset.py``, ``tools/train.py --check-data``).

Besides the checks of :mod:`.config_checks` (paths, class names and order,
num_classes), for every sample the training would use:

- each image (and label map) exists, is not empty, is not truncated and has
  a header Pillow can read; with ``decode=True`` it also decodes;
- detection: the image size (after EXIF orientation, as mmcv loads it)
  equals the annotation's width and height;
- segmentation: the label map has the image's size; with ``decode=True``
  its values are classes (or the ignore index);
- classification: labels are in ``[0, number of classes)``.

No image is decoded by default: headers and the last KiB of each file.
"""
import copy
import json
import time
from typing import Dict, List, NamedTuple, Optional, Sequence

from mmengine.config import Config
from mmengine.fileio import LocalBackend, get_file_backend

from .config_checks import Problem, _type_name, config_problems, dataset_specs
from .integrity import ImageFileInfo, inspect_image


class DatasetCheckError(ValueError):
    """A full dataset check found damaged or mismatched files."""


class SplitSummary(NamedTuple):
    split: str
    key: str
    samples: int
    files: int  # files read here
    reused: int  # samples whose files an earlier dataset had read
    build_seconds: float  # building the dataset (parsing annotations)
    seconds: float  # checking the files
    same_as: Optional[str]


class DatasetReport:
    """What :func:`check_datasets` found.

    Attributes:
        problems (list[Problem]): every finding, config checks first.
        splits (list[SplitSummary]): per dataset: samples and files checked
            and the time it took.
    """

    def __init__(self):
        self.problems: List[Problem] = []
        self.splits: List[SplitSummary] = []

    def summary(self, limit: int = 10) -> str:
        """A text report: per dataset what was checked, then the problems
        grouped by kind, ``limit`` of each kind."""
        lines = []
        for s in self.splits:
            if s.same_as:
                lines.append(f'{s.split}: {s.key} is the dataset of '
                             f'{s.same_as}, checked there')
                continue
            rate = s.files / s.seconds if s.seconds else float('inf')
            lines.append(f'{s.split}: {s.key}: {s.samples} samples '
                         f'(annotations read in {s.build_seconds:.1f} s), '
                         f'{s.files} files read in {s.seconds:.2f} s '
                         f'({rate:.0f} files/s)' +
                         (f'; those of {s.reused} samples checked above'
                          if s.reused else ''))
        if not self.problems:
            lines.append('No problems found.')
            return '\n'.join(lines)
        by_kind: Dict[str, List[Problem]] = {}
        for problem in self.problems:
            by_kind.setdefault(problem.kind, []).append(problem)
        lines.append(f'{len(self.problems)} problem(s):')
        for kind, problems in by_kind.items():
            lines.append(f'{KIND_TITLES.get(kind, kind)}: {len(problems)}')
            lines += [f'  - {p.message}' for p in problems[:limit]]
            if len(problems) > limit:
                lines.append(f'  ... and {len(problems) - limit} more '
                             '(--out FILE.json lists them all)')
        return '\n'.join(lines)

    def to_dict(self) -> dict:
        return dict(
            splits=[s._asdict() for s in self.splits],
            problems=[p._asdict() for p in self.problems])


KIND_TITLES = dict(
    missing_path='Missing dataset paths',
    class_names='Class names not in the annotations',
    class_order='Class names in another order than the annotations',
    num_classes='Heads with another number of classes',
    damaged_file='Missing, empty, truncated or unreadable files',
    size_mismatch='Image sizes that differ from the annotations',
    label_range='Labels out of range',
)


def _inspect_file(path: str, backend_args, apply_orientation: bool,
                  decode: bool) -> ImageFileInfo:
    backend = get_file_backend(path, backend_args=backend_args,
                               enable_singleton=True)
    if isinstance(backend, LocalBackend):
        return inspect_image(path, apply_orientation, decode)
    try:
        data = backend.get(path)
    except Exception as error:
        return ImageFileInfo(None, None, f'cannot be read ({error})')
    return inspect_image(data, apply_orientation, decode)


def _label_values(path: str, backend_args) -> Optional[list]:
    import io

    import numpy as np
    from mmengine import fileio
    from PIL import Image
    with Image.open(io.BytesIO(fileio.get(path, backend_args))) as label:
        return np.unique(np.asarray(label)).tolist()


def _inspect_sample(task):
    """One sample's files (a process pool runs this)."""
    (img_path, seg_path, backend_args, apply_orientation, decode) = task
    image = _inspect_file(img_path, backend_args, apply_orientation, decode)
    seg = values = None
    if seg_path:
        seg = _inspect_file(seg_path, backend_args, False, decode)
        if decode and seg.problem is None:
            values = _label_values(seg_path, backend_args)
    return image, seg, values


def _loader_orientation(dataset_cfg: dict) -> bool:
    """Whether the pipeline's LoadImageFromFile applies EXIF orientation
    (mmcv does for color_type 'color' and 'grayscale', the default)."""
    for step in dataset_cfg.get('pipeline') or []:
        if isinstance(step, dict) and _type_name(
                step.get('type')) == 'LoadImageFromFile':
            return step.get('color_type', 'color') in ('color', 'grayscale')
    return True


def _build_dataset(dataset_cfg: dict, scope: str):
    """The dataset without its pipeline, built as the Runner would."""
    import importlib

    from mmengine.registry import DefaultScope
    cfg = copy.deepcopy(dataset_cfg)
    cfg['pipeline'] = []
    registry = importlib.import_module(f'{scope}.registry').DATASETS
    with DefaultScope.overwrite_default_scope(scope):
        return registry.build(cfg)


def check_datasets(cfg: Config, task: str,
                   splits: Sequence[str] = ('train', 'val', 'test'),
                   decode: bool = False, nproc: int = 1,
                   progress: bool = False) -> DatasetReport:
    """Check the datasets of a config's splits (see the module docstring).

    Args:
        cfg (Config): a loaded config (its ``custom_imports`` done).
        task (str): 'detection', 'segmentation' or 'classification'.
        splits (Sequence[str]): of 'train', 'val', 'test'; a split without
            a dataloader is passed over, one whose dataset another split
            uses is checked once.
        decode (bool): also decode every image and label map (20-50 times
            slower; finds damage inside a file's data).
        nproc (int): processes reading the files.
        progress (bool): show mmengine's progress bar.

    Returns:
        DatasetReport
    """
    report = DatasetReport()
    report.problems += config_problems(cfg, task, splits)
    if any(p.kind == 'missing_path' for p in report.problems):
        return report
    seen = {}
    inspected = {}  # (img_path, seg_map_path) -> result, across datasets
    for spec in dataset_specs(cfg, splits):
        identity = (_type_name(spec.cfg.get('type')), spec.ann_file,
                    tuple(sorted(spec.prefixes.items())), spec.data_root,
                    bool(spec.cfg.get('test_mode')),
                    repr(spec.cfg.get('filter_cfg')))
        if identity in seen:
            report.splits.append(
                SplitSummary(spec.split, spec.key, 0, 0, 0, 0., 0.,
                             seen[identity]))
            continue
        seen[identity] = spec.key
        start = time.perf_counter()
        dataset = _build_dataset(spec.cfg, cfg.default_scope)
        built = time.perf_counter()
        backend_args = spec.cfg.get('backend_args')
        orientation = _loader_orientation(spec.cfg)
        infos = [dataset.get_data_info(i) for i in range(len(dataset))]
        tasks = [(info['img_path'], info.get('seg_map_path'), backend_args,
                  orientation, decode) for info in infos]
        new_tasks = list({t[:2]: t for t in tasks
                          if t[:2] not in inspected}.values())
        inspected.update(
            zip((t[:2] for t in new_tasks), _run(new_tasks, nproc,
                                                  progress)))
        results = [inspected[t[:2]] for t in tasks]
        classes = dataset.metainfo.get('classes')
        for info, (image, seg, values) in zip(infos, results):
            report.problems += _sample_problems(spec.key, task, info, image,
                                                seg, values, classes,
                                                dataset)
        files = len(new_tasks) + sum(1 for t in new_tasks if t[1])
        report.splits.append(
            SplitSummary(spec.split, spec.key, len(tasks), files,
                         len(tasks) - len(new_tasks), built - start,
                         time.perf_counter() - built, None))
    # a file shared by several datasets is reported once
    unique = {}
    for problem in report.problems:
        unique.setdefault((problem.kind, problem.path, problem.message),
                          problem)
    report.problems = list(unique.values())
    return report


def _run(tasks, nproc, progress):
    if nproc > 1:
        from mmengine.utils import track_parallel_progress
        if progress:
            return track_parallel_progress(_inspect_sample, tasks, nproc,
                                           chunksize=16)
        from multiprocessing import Pool
        with Pool(nproc) as pool:
            return pool.map(_inspect_sample, tasks, chunksize=16)
    if progress:
        from mmengine.utils import track_progress
        return track_progress(_inspect_sample, tasks)
    return [_inspect_sample(t) for t in tasks]


def _sample_problems(key, task, info, image, seg, values, classes,
                     dataset) -> List[Problem]:
    problems = []
    img_path = info['img_path']
    if image.problem:
        problems.append(Problem('damaged_file', key, img_path,
                                f'{img_path}: {image.problem}'))
    if task == 'detection' and image.size and 'width' in info:
        expected = (info['width'], info['height'])
        if image.size != expected:
            turned = (' after its EXIF orientation (stored as '
                      f'{image.raw_size[0]}x{image.raw_size[1]})'
                      if image.size != image.raw_size else '')
            problems.append(
                Problem('size_mismatch', key, img_path,
                        f'{img_path}: {image.size[0]}x{image.size[1]} '
                        f'(width x height){turned}, but the annotation '
                        f'says {expected[0]}x{expected[1]}'))
    if seg is not None:
        seg_path = info['seg_map_path']
        if seg.problem:
            problems.append(Problem('damaged_file', key, seg_path,
                                    f'{seg_path}: {seg.problem}'))
        elif image.size and seg.size != image.size:
            problems.append(
                Problem('size_mismatch', key, seg_path,
                        f'{seg_path}: label map {seg.size[0]}x'
                        f'{seg.size[1]}, image {image.size[0]}x'
                        f'{image.size[1]}'))
        if values is not None and classes is not None and info.get(
                'label_map') is None:
            highest = len(classes) - (0 if info.get('reduce_zero_label')
                                      else 1)
            ignore = getattr(dataset, 'ignore_index', 255)
            outside = [v for v in values if v > highest and v != ignore]
            if outside:
                problems.append(
                    Problem('label_range', key, seg_path,
                            f'{seg_path}: values {outside} beyond the '
                            f'{len(classes)} classes (highest valid: '
                            f'{highest}, ignore: {ignore})'))
    if task == 'classification' and 'gt_label' in info and classes:
        label = int(info['gt_label'])
        if not 0 <= label < len(classes):
            problems.append(
                Problem('label_range', key, img_path,
                        f'{img_path}: label {label} outside [0, '
                        f'{len(classes)}) for {len(classes)} classes'))
    return problems


def write_report(report: DatasetReport, path: str) -> None:
    with open(path, 'w') as f:
        json.dump(report.to_dict(), f, indent=1)
