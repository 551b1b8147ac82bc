"""The model zoo: one record per shipped config, read from the OpenMMLab
metafile ``configs/metafile.yml`` (listed by ``model-index.yml``;
mmpretrain's schema: ``Collections`` and ``Models`` with ``Name``,
``In Collection``, ``Config``, ``Metadata``, ``Results``, ``Weights``).

The metafile is the one source of the published figures (top-1, box and
mask AP of the original), the parameter and FLOP counts the README tables
give, and the file names of the original ImageNet checkpoints. The tests
check the configs against it and it against ``REFERENCE.md``'s figures.

The installed package carries the model index, the configs and the tools
under ``mmfasternet/.mim/`` (where OpenMMLab's mim looks for them); in a
checkout with an editable install those are links to the repository's own
files. :data:`METAFILE_INDEX` is ``mmfasternet/.mim/model-index.yml`` where
it exists, else the repository root's ``model-index.yml``. Record configs
are relative to the folder of the index (``configs/...``);
:func:`config_path` gives a record's config as an absolute path, to put in
a config's ``_base_``.

From the command line::

    python -m mmfasternet.model_zoo list
    python -m mmfasternet.model_zoo config maskrcnn_fasternet_s_coco
    python -m mmfasternet.model_zoo config maskrcnn_fasternet_s_coco \
        --copy my_config.py

``list`` prints every model with its config, FasterNet variant, parameters,
FLOPs and published results; ``config`` prints the absolute path of a
model's config, or with ``--copy DEST`` writes the config with its bases
merged into one file (DEST, or DEST/NAME.py where DEST is a folder).
"""
import argparse
import difflib
import os.path as osp
import re
import sys
from typing import Dict, List, NamedTuple, Optional

__all__ = [
    'METAFILE_INDEX', 'ModelRecord', 'config_path', 'find_model',
    'get_model', 'load_model_zoo', 'original_checkpoints', 'published_top1'
]

PACKAGE_DIR = osp.dirname(osp.abspath(__file__))
INSTALLED_INDEX = osp.join(PACKAGE_DIR, '.mim', 'model-index.yml')
REPO_INDEX = osp.join(osp.dirname(PACKAGE_DIR), 'model-index.yml')
METAFILE_INDEX = INSTALLED_INDEX if osp.isfile(INSTALLED_INDEX) else REPO_INDEX


class ModelRecord(NamedTuple):
    """One ``Models`` entry of the metafile.

    ``config`` is relative to the folder of the model index (e.g.
    ``'configs/maskrcnn_fasternet_s_coco.py'``, see :func:`config_path`
    for its absolute path); ``arch`` is the FasterNet
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
            f'{path!r} not found: the model zoo is read from the installed '
            f'package\'s mmfasternet/.mim/ or from the repository; reinstall '
            f'mmfasternet (pip install mmfasternet, or pip install -e . in '
            f'a clone).')
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


def get_model(name: str, index: str = METAFILE_INDEX) -> ModelRecord:
    """The record named ``name`` (e.g. ``'maskrcnn_fasternet_s_coco'``).

    Raises:
        KeyError: no record has that name; the message names the closest
            ones.
    """
    records = load_model_zoo(index)
    for record in records:
        if record.name == name:
            return record
    names = [record.name for record in records]
    close = difflib.get_close_matches(name, names, n=5, cutoff=0.5)
    hint = (f'did you mean {", ".join(close)}?' if close else
            'python -m mmfasternet.model_zoo list shows them all.')
    raise KeyError(f'{name!r} is not in the model zoo ({index}): {hint}')


def config_path(record: ModelRecord, index: str = METAFILE_INDEX) -> str:
    """The absolute path of ``record``'s config: under the installed
    package's ``mmfasternet/.mim/`` for the default index of an installed
    mmfasternet, a path a config's ``_base_`` can name."""
    return osp.join(osp.dirname(osp.abspath(index)), record.config)


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


def _results_text(record: ModelRecord) -> str:
    if not record.results:
        return 'not trained here'
    return ', '.join(f'{metric} {value}'
                     for metrics in record.results.values()
                     for metric, value in metrics.items())


def _print_table(records: List[ModelRecord]) -> None:
    header = ('name', 'config', 'arch', 'params (M)', 'FLOPs (G)',
              'published results')
    rows = [(record.name, record.config, record.arch,
             f'{record.metadata["Parameters"] / 1e6:.2f}',
             f'{record.metadata["FLOPs"] / 1e9:.2f}', _results_text(record))
            for record in records]
    widths = [max(len(row[column]) for row in [header, *rows])
              for column in range(len(header))]
    for row in [header, *rows]:
        print('  '.join(cell.ljust(width)
                        for cell, width in zip(row, widths)).rstrip())


def _copy_config(source: str, dest: str, name: str) -> str:
    """Write ``source`` with its bases merged into ``dest`` (or
    ``dest/<name>.py`` where ``dest`` is a folder); refuses to overwrite."""
    from mmengine.config import Config
    if osp.isdir(dest):
        dest = osp.join(dest, f'{name}.py')
    if not dest.endswith('.py'):
        raise ValueError(f'--copy {dest!r}: name a .py file or a folder.')
    if osp.exists(dest):
        raise FileExistsError(f'--copy {dest!r}: the file exists; remove it '
                              f'or name another.')
    Config.fromfile(source).dump(dest)
    return dest


def main(argv: Optional[List[str]] = None) -> int:
    """The command line of ``python -m mmfasternet.model_zoo`` (see the
    module docstring); returns the exit status."""
    parser = argparse.ArgumentParser(
        prog='python -m mmfasternet.model_zoo',
        description='The mmfasternet model zoo: list its models, or give '
        'the config of one to start from.')
    commands = parser.add_subparsers(dest='command', required=True)
    commands.add_parser(
        'list', help='every model: name, config, FasterNet variant, '
        'parameters, FLOPs and published results')
    config = commands.add_parser(
        'config', help='print the absolute path of a model\'s config (for '
        'the _base_ of your config)')
    config.add_argument('name', help='a model name, as `list` shows it')
    config.add_argument(
        '--copy', metavar='DEST', help='instead write the config, its bases '
        'merged in, to DEST (a .py file, or a folder to write NAME.py into)')
    args = parser.parse_args(argv)

    if args.command == 'list':
        _print_table(load_model_zoo())
        return 0
    try:
        record = get_model(args.name)
        path = config_path(record)
        if args.copy:
            path = _copy_config(path, args.copy, record.name)
    except (KeyError, ValueError, FileExistsError) as error:
        # KeyError's str() quotes its message
        message = error.args[0] if error.args else str(error)
        print(f'error: {message}', file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == '__main__':
    sys.exit(main())
