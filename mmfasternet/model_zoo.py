"""The model zoo: one record per shipped config, read from the OpenMMLab
metafile ``configs/metafile.yml`` (listed by ``model-index.yml`` at the
repository root; mmpretrain's schema: ``Collections`` and ``Models`` with
``Name``, ``In Collection``, ``Config``, ``Metadata``, ``Results``,
``Weights``).

The metafile is the one source of the published figures (top-1, box and
mask AP of the original), the parameter and FLOP counts the README tables
give, and the file names of the original ImageNet checkpoints. The tests
check the configs against it and it against ``REFERENCE.md``'s figures.

It is read from the repository (an editable install); a plain ``pip
install`` does not ship ``configs/``.
"""
import os.path as osp
import re
from typing import Dict, List, NamedTuple, Optional

__all__ = [
    'METAFILE_INDEX', 'ModelRecord', 'find_model', 'load_model_zoo',
    'original_checkpoints', 'published_top1'
]

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
METAFILE_INDEX = osp.join(REPO_ROOT, 'model-index.yml')


class ModelRecord(NamedTuple):
    """One ``Models`` entry of the metafile.

    ``config`` is relative to the repository root; ``arch`` is the FasterNet
    variant (``'t0'`` ... ``'l'``) its ``Metadata.Architecture`` names;
    ``results`` maps each task to its metrics (e.g. ``{'Object Detection':
    {'box AP': 39.9}}``), None when nobody trained the config; ``weights``
    is None when no checkpoint of the whole model exists.
    """
    name: str
    collection: str
    config: str
    arch: str
    metadata: dict
    results: Optional[Dict[str, Dict[str, float]]]
    weights: Optional[str]


def _load_yaml(path: str):
    import yaml
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'{path!r} not found: the model zoo is read from the repository '
            f'(install mmfasternet with pip install -e . from a clone).')
    with open(path) as f:
        return yaml.safe_load(f)


def _record(entry: dict, source: str) -> ModelRecord:
    name = entry.get('Name', '?')
    missing = [key for key in ('Name', 'In Collection', 'Config', 'Metadata')
               if not entry.get(key)]
    metadata = entry.get('Metadata') or {}
    missing += [f'Metadata.{key}' for key in ('Architecture', 'Parameters',
                                              'FLOPs')
                if key not in metadata]
    if missing:
        raise ValueError(f'{source}: model {name!r} lacks {missing}.')
    archs = [a for a in metadata['Architecture']
             if re.fullmatch(r'FasterNet-(T0|T1|T2|S|M|L)', str(a))]
    if len(archs) != 1:
        raise ValueError(f'{source}: model {name!r} must name one FasterNet '
                         f'variant in Metadata.Architecture, got '
                         f'{metadata["Architecture"]}.')
    results = entry.get('Results')
    if results is not None:
        if isinstance(results, dict):  # mmseg writes a single result so
            results = [results]
        results = {result['Task']: dict(result['Metrics'])
                   for result in results}
    return ModelRecord(name, entry['In Collection'], entry['Config'],
                       archs[0][len('FasterNet-'):].lower(), metadata,
                       results, entry.get('Weights'))


def load_model_zoo(index: str = METAFILE_INDEX) -> List[ModelRecord]:
    """Every model of the metafiles ``index`` (a ``model-index.yml``)
    imports, in file order.

    Raises:
        FileNotFoundError: ``index`` or a metafile it names is missing.
        ValueError: a record lacks a field the tests and tools read, names
            a collection the metafile does not define, or a name twice.
    """
    records = []
    root = osp.dirname(osp.abspath(index))
    for metafile in _load_yaml(index)['Import']:
        path = osp.join(root, metafile)
        content = _load_yaml(path)
        collections = {c['Name'] for c in content.get('Collections') or []}
        for entry in content['Models']:
            record = _record(entry, path)
            if record.collection not in collections:
                raise ValueError(f'{path}: model {record.name!r} is in '
                                 f'collection {record.collection!r}, which '
                                 f'is not among {sorted(collections)}.')
            records.append(record)
    names = [record.name for record in records]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f'{index}: model names listed twice: {repeated}.')
    return records


def find_model(config: str, index: str = METAFILE_INDEX) -> ModelRecord:
    """The record of ``config`` (a path ending in the config's name under
    ``configs/``, e.g. ``'configs/maskrcnn_fasternet_s_coco.py'``).

    Raises:
        KeyError: no record has that config.
    """
    wanted = osp.normpath(config).replace(osp.sep, '/')
    for record in load_model_zoo(index):
        if wanted == record.config or wanted.endswith('/' + record.config):
            return record
    raise KeyError(f'{config!r} is not in the model zoo ({index}).')


def _classifiers(index: str) -> List[ModelRecord]:
    return [record for record in load_model_zoo(index)
            if 'Image Classification' in (record.results or {})]


def original_checkpoints(index: str = METAFILE_INDEX) -> Dict[str, str]:
    """File names of the original ImageNet release (v1.0 of
    github.com/JierunChen/FasterNet), by arch (``'t0'`` ... ``'l'``): the
    ``Weights`` (release URLs) of the ImageNet classification records,
    which the configs' ``init_cfg`` names (the tests check it).

    Raises:
        FileNotFoundError, ValueError: as :func:`load_model_zoo`.

    Example:
        >>> from mmfasternet.model_zoo import original_checkpoints
        >>> original_checkpoints()['t0']
        'fasternet_t0-epoch.281-val_acc1.71.9180.pth'
    """
    return {record.arch: record.weights.rsplit('/', 1)[-1]
            for record in _classifiers(index) if record.weights}


def published_top1(index: str = METAFILE_INDEX) -> Dict[str, float]:
    """ImageNet top-1 (%, the FasterNet paper's, one decimal) of the
    original release, by arch (``'t0'`` ... ``'l'``).

    Raises:
        FileNotFoundError, ValueError: as :func:`load_model_zoo`.
    """
    return {
        record.arch:
        record.results['Image Classification']['Top 1 Accuracy']
        for record in _classifiers(index)
    }
