"""Checks of a config's datasets that read no image: run by tools/train.py
and tools/test.py before the Runner is built, so that a missing dataset, a
misspelt class name or a head with the wrong number of classes is one error
before any work, not a traceback (or a silently wrong model) hours later.

- Paths: ``data_root``, ``ann_file``, the ``data_prefix`` folders and an
  evaluator's ``ann_file`` exist (existence only).
- Class names: those in ``metainfo`` exist in the annotations, in the order
  the library numbers the labels (COCO-format json: its ``categories``;
  mmpretrain class folders and ``path label`` lists; mmseg datasets with
  fixed classes).
- ``num_classes`` of every classification-bearing head (and of mmpretrain's
  data preprocessor) equals the number of classes.
"""
import json
import logging
import os
import os.path as osp
from typing import Iterator, List, NamedTuple, Optional, Sequence, Tuple

from mmengine.config import Config
from mmengine.fileio import exists, get_local_path, isdir, join_path
from mmengine.logging import print_log
from mmengine.utils import is_abs

from ..utils.dataset_cfgs import iter_dataset_cfgs

SPLIT_LOADERS = dict(train='train_dataloader', val='val_dataloader',
                     test='test_dataloader')
SPLIT_EVALUATORS = dict(val='val_evaluator', test='test_evaluator')
DOCS = 'docs/datasets.md'
# Heads whose num_classes must equal the number of dataset classes.
CLASS_HEADS = ('bbox_head', 'mask_head', 'mask_iou_head', 'point_head',
               'decode_head', 'auxiliary_head', 'head')


class DatasetNotFoundError(FileNotFoundError):
    """A dataset root, annotation file or image folder a config names does
    not exist."""


class DatasetConfigError(ValueError):
    """The class names or head sizes of a config do not fit its data."""


class Problem(NamedTuple):
    """One finding: ``kind`` ('missing_path', 'class_names', 'class_order',
    'num_classes', ...), the config ``key`` it comes from, the ``path`` of
    the file concerned (or '') and the ``message``."""
    kind: str
    key: str
    path: str
    message: str


class DatasetSpec(NamedTuple):
    """An innermost dataset of a dataloader, with its paths resolved as
    mmengine's ``BaseDataset`` resolves them."""
    split: str
    key: str  # e.g. 'train_dataloader.dataset.dataset'
    cfg: dict
    data_root: str
    ann_file: str
    prefixes: dict  # data_prefix key -> resolved folder


def docs_section(dataset_cfg: dict) -> Tuple[str, str]:
    """The section of docs/datasets.md that says how to get a dataset:
    (title, anchor)."""
    type_name = _type_name(dataset_cfg.get('type'))
    data_root = str(dataset_cfg.get('data_root') or '')
    custom = (dataset_cfg.get('metainfo') or {}).get('classes') is not None
    if 'demo_' in data_root:
        return 'Demo data', 'demo-data'
    if type_name == 'CocoDataset' and not custom:
        return 'COCO', 'coco'
    if type_name == 'ADE20KDataset':
        return 'ADE20K', 'ade20k'
    if type_name == 'ImageNet':
        return 'ImageNet', 'imagenet'
    return 'Your own data', 'your-own-data'


def docs_pointer(dataset_cfg: dict) -> str:
    title, anchor = docs_section(dataset_cfg)
    return f'{DOCS}, section "{title}" ({DOCS}#{anchor})'


def _type_name(dataset_type) -> str:
    name = dataset_type if isinstance(dataset_type, str) else getattr(
        dataset_type, '__name__', '')
    return name.split('.')[-1]


def dataset_specs(cfg: Config, splits: Sequence[str]) -> List[DatasetSpec]:
    """The innermost datasets of the given splits' dataloaders (splits
    without a dataloader are left out)."""
    specs = []
    for split in splits:
        loader = cfg.get(SPLIT_LOADERS[split])
        if not loader or not loader.get('dataset'):
            continue
        for key, dataset in iter_dataset_cfgs(
                loader['dataset'], f'{SPLIT_LOADERS[split]}.dataset'):
            data_root = dataset.get('data_root') or ''
            ann_file = dataset.get('ann_file') or ''
            data_prefix = dataset.get('data_prefix') or {}
            split_name = dataset.get('split')
            if split_name and isinstance(split_name, str):
                # mmpretrain's ImageNet: folder and list named by the split
                data_prefix = data_prefix or split_name
                listed = join_path(data_root, 'meta', f'{split_name}.txt')
                if not ann_file and data_root and _exists(
                        listed, dataset.get('backend_args'), False):
                    ann_file = join_path('meta', f'{split_name}.txt')
            if ann_file and not is_abs(ann_file) and data_root:
                ann_file = join_path(data_root, ann_file)
            if isinstance(data_prefix, str):  # mmpretrain's short form
                data_prefix = dict(img_path=data_prefix)
            prefixes = {}
            for name, prefix in data_prefix.items():
                if not isinstance(prefix, str) or not prefix:
                    continue
                if not is_abs(prefix) and data_root:
                    prefix = join_path(data_root, prefix)
                prefixes[name] = prefix
            specs.append(
                DatasetSpec(split, key, dataset, data_root, ann_file,
                            prefixes))
    return specs


def _exists(path: str, backend_args, directory: bool) -> bool:
    try:
        if directory:
            return isdir(path, backend_args=backend_args)
        return exists(path, backend_args=backend_args)
    except NotImplementedError:  # a backend that cannot tell (http)
        return True


def path_problems(cfg: Config, splits: Sequence[str]) -> List[Problem]:
    """Missing dataset roots, annotation files, data_prefix folders and
    evaluator annotation files of the given splits: one problem per missing
    path, naming every config key that leads to it."""
    missing = {}  # path -> [what, keys, docs pointer]

    def add(path, what, key, dataset_cfg):
        entry = missing.setdefault(path, [what, [], docs_pointer(dataset_cfg)])
        entry[1].append(key)

    for spec in dataset_specs(cfg, splits):
        backend_args = spec.cfg.get('backend_args')
        if spec.data_root and not _exists(spec.data_root, backend_args,
                                          True):
            add(spec.data_root, 'no such directory', f'{spec.key}.data_root',
                spec.cfg)
            continue
        if spec.ann_file and not _exists(spec.ann_file, backend_args, False):
            add(spec.ann_file, 'no such file', f'{spec.key}.ann_file',
                spec.cfg)
        for name, folder in spec.prefixes.items():
            if not _exists(folder, backend_args, True):
                add(folder, 'no such directory',
                    f'{spec.key}.data_prefix.{name}', spec.cfg)
    for split in splits:
        evaluators = cfg.get(SPLIT_EVALUATORS.get(split, ''))
        loader = cfg.get(SPLIT_LOADERS[split])
        if not evaluators or not loader or not loader.get('dataset'):
            continue
        if not isinstance(evaluators, (list, tuple)):
            evaluators = [evaluators]
        dataset = next(iter_dataset_cfgs(loader['dataset'], ''))[1]
        for index, evaluator in enumerate(evaluators):
            ann_file = evaluator.get('ann_file')
            if not isinstance(ann_file, str) or not ann_file:
                continue
            key = SPLIT_EVALUATORS[split] + (f'.{index}'
                                             if len(evaluators) > 1 else '')
            if not _exists(ann_file, evaluator.get('backend_args'), False):
                add(ann_file, 'no such file', f'{key}.ann_file', dataset)
    return [
        Problem('missing_path', ', '.join(keys), path,
                f'{path!r}: {what} (from {", ".join(keys)}). How to get '
                f'it: {pointer}.')
        for path, (what, keys, pointer) in missing.items()
    ]


# -- class names -------------------------------------------------------------

def dataset_class(dataset_cfg: dict, scope: str):
    """The dataset class a config's ``type`` names in ``scope`` (None when
    the registry does not know it: the Runner will say so)."""
    from mmengine.registry import DATASETS
    dataset_type = dataset_cfg.get('type')
    if not isinstance(dataset_type, str):
        return dataset_type
    return DATASETS.get(dataset_type if '.' in dataset_type else
                        f'{scope}.{dataset_type}')


def dataset_classes(dataset_cfg: dict, scope: str) -> Optional[tuple]:
    """The class names the dataset will use: its ``metainfo`` (or
    mmpretrain's ``classes``) over the dataset type's ``METAINFO``, a
    string naming a file read as a file of names (any other string is
    returned as it is). None when unknown."""
    cls = dataset_class(dataset_cfg, scope)
    if cls is None:
        return None
    classes = (dataset_cfg.get('metainfo') or {}).get('classes')
    if classes is None:
        classes = dataset_cfg.get('classes')
    if classes is None:
        classes = (getattr(cls, 'METAINFO', None) or {}).get('classes')
    if isinstance(classes, str):
        if not osp.isfile(osp.expanduser(classes)):
            return classes  # a name where a tuple of names was meant
        from mmengine import list_from_file
        classes = list_from_file(osp.expanduser(classes))
    return tuple(classes) if classes is not None else None


def read_coco_categories(ann_file: str,
                         backend_args: Optional[dict] = None) -> list:
    """The ``categories`` list of a COCO-format json, without parsing the
    rest of it.

    COCO's own files keep ``categories`` after the images and annotations,
    other writers often first: the key is looked for in the first MiB, then
    from the end backwards, 1 MiB at a time; each match is decoded as a
    list of ``{"id", "name"}`` dicts, and one that is not such a list (the
    word inside some other value) is passed over. The worst case (the key
    in the middle) reads the file once without parsing it.

    Returns:
        list[dict]: the categories, in file order.

    Raises:
        DatasetConfigError: the file has no such list.
    """
    key = b'"categories"'
    block_size = 1 << 20
    with get_local_path(ann_file, backend_args=backend_args) as local_path:
        with open(local_path, 'rb') as f:
            head = f.read(block_size)
            found = head.find(key)
            while found >= 0:
                categories = _decode_list_at(f, found + len(key))
                if categories is not None:
                    return categories
                found = head.find(key, found + 1)
            end = os.fstat(f.fileno()).st_size
            while end > 0:
                start = max(0, end - block_size)
                f.seek(start)
                block = f.read(end - start + len(key) - 1)
                found = len(block)
                while True:
                    found = block.rfind(key, 0, found)
                    if found < 0:
                        break
                    categories = _decode_list_at(f, start + found + len(key))
                    if categories is not None:
                        return categories
                end = start
    raise DatasetConfigError(
        f'{ann_file} has no "categories" list of {{"id", "name"}} dicts, '
        'which a COCO-format annotation file needs to name its classes.')


def _decode_list_at(f, offset: int) -> Optional[list]:
    """Decode ``: [...]`` at ``offset`` if it is a list of categories."""
    decoder = json.JSONDecoder()
    size = 1 << 16
    while True:
        f.seek(offset)
        raw = f.read(size)
        text = raw.decode('utf-8', errors='ignore')
        stripped = text.lstrip()
        if not stripped.startswith(':'):
            return None
        body = stripped[1:].lstrip()
        if not body.startswith('['):
            return None
        try:
            value, _ = decoder.raw_decode(body)
        except json.JSONDecodeError:
            if len(raw) < size or size >= 1 << 26:  # end of file, or 64 MiB
                return None
            size *= 4
            continue
        if all(isinstance(c, dict) and 'id' in c and 'name' in c
               for c in value):
            return value
        return None


def coco_class_problems(spec: DatasetSpec,
                        classes: Sequence[str]) -> List[Problem]:
    """Class names of ``metainfo`` against a COCO json's ``categories``.

    mmdet's ``CocoDataset`` keeps the categories whose names are in
    ``classes`` and numbers them in the file's order; it silently drops
    names the file lacks and the annotations of categories not named.
    """
    try:
        categories = read_coco_categories(spec.ann_file,
                                          spec.cfg.get('backend_args'))
    except DatasetConfigError as error:
        return [Problem('class_names', f'{spec.key}.ann_file', spec.ann_file,
                        str(error))]
    names = [c['name'] for c in categories]
    key = f'{spec.key}.metainfo.classes'
    problems = []
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        problems.append(
            Problem('class_names', key, spec.ann_file,
                    f'{spec.ann_file} names several categories '
                    f'{", ".join(map(repr, repeated))}: mmdet would give '
                    'one class name several labels. Make category names '
                    'unique.'))
    missing = [c for c in classes if c not in names]
    if missing:
        problems.append(
            Problem('class_names', key, spec.ann_file,
                    f'{key}: {", ".join(map(repr, missing))} not in the '
                    f'categories of {spec.ann_file}, which are '
                    f'{tuple(names)}. mmdet would silently drop '
                    f'{"this name" if len(missing) == 1 else "these names"} '
                    'and give the next names the wrong labels. Spell the '
                    'classes as the file does.'))
    elif len(set(classes)) != len(classes):
        problems.append(
            Problem('class_names', key, spec.ann_file,
                    f'{key}: {tuple(classes)} names a class twice.'))
    else:
        in_file_order = [n for n in names if n in classes]
        if in_file_order != list(classes):
            problems.append(
                Problem('class_order', key, spec.ann_file,
                        f'{key}: {tuple(classes)} is not the order of the '
                        f'categories in {spec.ann_file}: '
                        f'{tuple(in_file_order)}. mmdet numbers the labels '
                        'in the file\'s order, so the class names would be '
                        'swapped. Use classes='
                        f'{tuple(in_file_order)}.'))
    left_out = [n for n in names if n not in classes]
    if not problems and left_out:
        print_log(
            f'{spec.key}: {len(left_out)} of the {len(names)} categories of '
            f'{spec.ann_file} are not in metainfo classes; their annotations '
            f'are ignored: {", ".join(left_out[:20])}'
            f'{" ..." if len(left_out) > 20 else ""}',
            logger='current', level=logging.WARNING)
    return problems


def folder_class_problems(spec: DatasetSpec,
                          classes: Sequence[str]) -> List[Problem]:
    """mmpretrain datasets read from class folders (no ``ann_file``) number
    the labels by the sorted folder names. Class names that are folder
    names must be all of them, in that order."""
    from mmpretrain.datasets.custom import find_folders
    folder = spec.prefixes.get('img_path') or spec.data_root
    if not folder:
        return []
    folders, _ = find_folders(folder)
    if not set(classes) & set(folders):
        return []  # display names (ImageNet's), not folder names
    key = f'{spec.key}.metainfo.classes'
    missing = [c for c in classes if c not in folders]
    if missing:
        return [Problem('class_names', key, folder,
                        f'{key}: {", ".join(map(repr, missing))} not among '
                        f'the class folders of {folder}: {tuple(folders)}.')]
    if list(classes) != folders:
        return [Problem('class_order', key, folder,
                        f'{key}: {tuple(classes)} is not the sorted order of '
                        f'the class folders of {folder}, by which mmpretrain '
                        f'numbers the labels: {tuple(folders)}. Use '
                        f'classes={tuple(folders)}.')]
    return []


def list_class_problems(spec: DatasetSpec, classes: Sequence[str],
                        probe_lines: int = 1000) -> List[Problem]:
    """An mmpretrain ``path label`` list whose paths start with a class
    folder (``circle/0001.jpg 0``) must give each folder the label of its
    name in ``classes``. A list none of whose first ``probe_lines`` paths
    starts with a class name (ImageNet's WordNet-id folders) is not read
    further."""
    index = {name: i for i, name in enumerate(classes)}
    mismatched = {}
    matched = False
    with get_local_path(spec.ann_file,
                        backend_args=spec.cfg.get('backend_args')) as local:
        with open(local, encoding='utf-8') as f:
            for number, line in enumerate(f):
                if number == probe_lines and not matched:
                    return []
                parts = line.strip().rsplit(' ', 1)
                if len(parts) != 2 or '/' not in parts[0]:
                    continue
                folder = parts[0].split('/', 1)[0]
                if folder not in index:
                    continue
                matched = True
                label = parts[1]
                if label.lstrip('-').isdigit() and int(label) != index[folder]:
                    mismatched.setdefault(folder, int(label))
    if not mismatched:
        return []
    key = f'{spec.key}.metainfo.classes'
    pairs = ', '.join(f'{folder}/ has label {label} (classes[{label}] = '
                      f'{classes[label]!r})' if 0 <= label < len(classes) else
                      f'{folder}/ has label {label}'
                      for folder, label in sorted(mismatched.items()))
    return [Problem('class_order', key, spec.ann_file,
                    f'{key}: {tuple(classes)} does not follow the labels of '
                    f'{spec.ann_file}: {pairs}. Order the class names by '
                    'their labels.')]


def class_problems(cfg: Config, task: str,
                   splits: Sequence[str]) -> List[Problem]:
    """Class names of each split's datasets against their annotations."""
    scope = cfg.default_scope
    problems = []
    for spec in dataset_specs(cfg, splits):
        classes = dataset_classes(spec.cfg, scope)
        if classes is None:
            continue
        if isinstance(classes, str):
            key = spec.key + ('.metainfo.classes' if (
                spec.cfg.get('metainfo') or {}).get('classes') is not None
                else '.classes')
            problems.append(Problem(
                'class_names', key, '',
                f'{key} is the string {classes!r}, not a tuple of class '
                f'names (parentheses alone do not make a tuple): write '
                f'classes = ({classes!r},), with the comma.'))
            continue
        cls = dataset_class(spec.cfg, scope)
        if task == 'detection':
            from mmdet.datasets import CocoDataset
            if issubclass(cls, CocoDataset) and spec.ann_file:
                problems += coco_class_problems(spec, classes)
        elif task == 'segmentation':
            fixed = (getattr(cls, 'METAINFO', None) or {}).get('classes')
            missing = [c for c in classes if fixed and c not in fixed]
            if missing:
                key = f'{spec.key}.metainfo.classes'
                problems.append(
                    Problem('class_names', key, '',
                            f'{key}: {", ".join(map(repr, missing))} not '
                            f'classes of {cls.__name__}, which has '
                            f'{len(fixed)}: {tuple(fixed)}. Name a subset of '
                            'them, or use BaseSegDataset for other '
                            'classes.'))
        else:
            from mmpretrain.datasets import CustomDataset
            if not issubclass(cls, CustomDataset):
                continue
            if spec.ann_file:
                problems += list_class_problems(spec, classes)
            else:
                problems += folder_class_problems(spec, classes)
    return problems


# -- num_classes -------------------------------------------------------------

def _class_heads(node, key: str) -> Iterator[Tuple[str, int]]:
    """(config key, num_classes) of the heads under a model config."""
    if isinstance(node, (list, tuple)):
        for index, child in enumerate(node):
            yield from _class_heads(child, f'{key}.{index}')
        return
    if not isinstance(node, dict):
        return
    for name, child in node.items():
        if name in CLASS_HEADS:
            heads = child if isinstance(child, (list, tuple)) else [child]
            for index, head in enumerate(heads):
                head_key = f'{key}.{name}' + (
                    f'.{index}' if isinstance(child, (list, tuple)) else '')
                if isinstance(head, dict) and 'num_classes' in head:
                    yield f'{head_key}.num_classes', head['num_classes']
        elif isinstance(child, (dict, list, tuple)):
            yield from _class_heads(child, f'{key}.{name}')


def num_classes_problems(cfg: Config, split: str) -> List[Problem]:
    """Heads (and mmpretrain's data preprocessor) whose ``num_classes``
    differs from the number of classes of ``split``'s first dataset."""
    specs = dataset_specs(cfg, [split])
    if not specs or 'model' not in cfg:
        return []
    classes = dataset_classes(specs[0].cfg, cfg.default_scope)
    if classes is None or isinstance(classes, str):
        return []  # no classes known, or a string: class_problems says so
    found = list(_class_heads(cfg.model, 'model'))
    preprocessor = cfg.model.get('data_preprocessor') or cfg.get(
        'data_preprocessor')
    if isinstance(preprocessor, dict) and preprocessor.get(
            'num_classes') is not None:
        key = ('model.data_preprocessor' if cfg.model.get('data_preprocessor')
               else 'data_preprocessor')
        found.append((f'{key}.num_classes', preprocessor['num_classes']))
    wrong = [(key, value) for key, value in found if value != len(classes)]
    if not wrong:
        return []
    listed = ', '.join(f'{key} = {value}' for key, value in wrong)
    shown = (f'{tuple(classes)}' if len(classes) <= 20 else
             f'{tuple(classes[:20])[:-1]}, ...)')
    return [Problem('num_classes', ', '.join(k for k, _ in wrong), '',
                    f'{listed}, but {specs[0].key} has {len(classes)} '
                    f'classes {shown}. Set num_classes={len(classes)} there '
                    '(num_classes=len(classes) keeps them in step).')]


def config_problems(cfg: Config, task: str,
                    splits: Sequence[str]) -> List[Problem]:
    """All problems found without reading images: missing paths first (the
    other checks need the files)."""
    problems = path_problems(cfg, splits)
    if problems:
        return problems
    problems = class_problems(cfg, task, splits)
    first = next((s for s in splits if dataset_specs(cfg, [s])), None)
    if first is not None:
        problems += num_classes_problems(cfg, first)
    return problems


def check_before_run(cfg: Config, task: str, splits: Sequence[str]) -> None:
    """Raise one error listing every problem :func:`config_problems` finds.

    Costs existence checks, one ``categories`` read per COCO json (not the
    whole file), a listing of class folders and a read of mmpretrain's
    ``path label`` lists whose folders are classes.

    Raises:
        DatasetNotFoundError: a dataset path does not exist.
        DatasetConfigError: class names, their order or a head's
            num_classes do not fit the data.
    """
    problems = config_problems(cfg, task, splits)
    if not problems:
        return
    lines = '\n'.join(f'  - {p.message}' for p in problems)
    if problems[0].kind == 'missing_path':
        raise DatasetNotFoundError(
            f'The dataset files this config names are not there:\n{lines}\n'
            'Put the data there, or point the config elsewhere, e.g. '
            '--cfg-options train_dataloader.dataset.data_root=DIR '
            '(and the same for val_dataloader, test_dataloader and an '
            'evaluator\'s ann_file).')
    raise DatasetConfigError(
        f'The config does not fit its data:\n{lines}')
