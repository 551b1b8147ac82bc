"""Check that this Python environment can run mmfasternet, and name the fix.

    python tools/misc/check_env.py
    python tools/misc/check_env.py --json
    python tools/misc/check_env.py --need mmseg

Prints the platform (mmengine's ``collect_env``), the version of each
package of the version matrix (``PACKAGES``), whether mmcv has its compiled
ops (``import mmcv.ops``, then ``nms`` on two boxes) and whether mmdet,
mmseg, mmpretrain, mmdeploy, onnxruntime and openvino work: the module a
run needs is really imported (``mmdet.models``, not only ``mmdet``) and a
failure is traced to the package that causes it. Then each problem with
the one command that fixes it. Exit status: 0 when no problem is found, 1
otherwise.

A problem is: a package mmfasternet needs (torch, torchvision, mmengine,
mmcv with its ops, mmfasternet itself) missing; a package named by
``--need`` missing; an installed package outside its version range, or
failing to import. An optional package that is not installed is listed
with the command that installs it.

tools/train.py, tools/test.py and tools/deployment/export_onnx.py take
:func:`excepthook` as ``sys.excepthook``: a run that stops on a failed
import ends with this check's report instead of the traceback.
"""
import argparse
import importlib
import json
import os
import os.path as osp
import re
import subprocess
import sys
from importlib import metadata
from importlib.util import find_spec
from typing import NamedTuple, Optional, Tuple

TORCH_FIX = 'pip install "torch==2.14.1" "torchvision==0.29.1"'
# PyPI has no mmcv wheels; mim finds OpenMMLab's (or builds one where there
# is none for the installed torch: docs/installation.md). Uninstalling first
# also replaces an mmcv of the right version built without its ops.
MMCV_FIX = ('pip uninstall -y mmcv mmcv-lite && pip install -U openmim && '
            'mim install "mmcv==2.1.0"')
MMDEPLOY_FIX = 'pip install --no-deps -r requirements/mmdeploy.txt'
DEPLOY_FIX = 'pip install -r requirements/deploy.txt'


class Package(NamedTuple):
    """A row of the version matrix (README.md, "Installation")."""
    name: str  # the import name
    # 'required' (mmfasternet needs it), 'optional', or 'undeclared': a
    # module another package imports without declaring it, which pip
    # therefore does not install
    role: str
    # the one command that installs a working version: the tested one of
    # requirements/*.txt (paths relative to the repository root)
    fix: str
    minimum: Optional[str] = None  # setup.py's range: minimum <= v < below
    below: Optional[str] = None
    probe: Optional[str] = None  # the module a run imports, if not `name`
    why: str = ''  # the reason for the range
    # imported in a child process with its usage telemetry off: importing
    # openvino sends telemetry from a thread that forks, which now and then
    # hangs the process importing it
    in_child: bool = False


PACKAGES = (
    Package('torch', 'required', TORCH_FIX, minimum='2.5'),
    Package('torchvision', 'required', TORCH_FIX, probe='torchvision.ops'),
    Package('mmengine', 'required', 'pip install "mmengine==0.10.7"',
            minimum='0.10.0', below='1.0'),
    Package('mmcv', 'required', MMCV_FIX, minimum='2.0.0', below='2.2.0',
            probe='mmcv.ops', why='mmdet 3.3 and mmseg 1.2 refuse mmcv 2.2'),
    Package('mmfasternet', 'required', 'pip install -e .'),
    Package('mmdet', 'optional', 'pip install "mmdet==3.3.0"',
            minimum='3.0.0', below='4.0.0', probe='mmdet.models'),
    Package('mmseg', 'optional',
            'pip install "mmsegmentation==1.2.2" ftfy regex',
            minimum='1.0.0', below='2.0.0', probe='mmseg.models'),
    Package('mmpretrain', 'optional', 'pip install "mmpretrain==1.2.0"',
            minimum='1.0.0', below='2.0.0', probe='mmpretrain.models'),
    Package('mmdeploy', 'optional', MMDEPLOY_FIX, probe='mmdeploy.apis'),
    Package('timm', 'optional', 'pip install "timm==1.0.31"',
            minimum='1.0.16'),
    Package('onnx', 'optional', DEPLOY_FIX),
    Package('onnxruntime', 'optional', DEPLOY_FIX),
    Package('openvino', 'optional', 'pip install openvino', in_child=True),
    # mmseg 1.2 imports ftfy and regex without declaring them
    Package('ftfy', 'undeclared', 'pip install ftfy regex'),
    Package('regex', 'undeclared', 'pip install ftfy regex'),
    # mmdeploy 1.3.1 is installed with --no-deps (its pins would downgrade
    # onnx and protobuf): what it imports comes from the same file
    Package('aenum', 'undeclared', MMDEPLOY_FIX),
    Package('multiprocess', 'undeclared', MMDEPLOY_FIX),
    Package('dill', 'undeclared', MMDEPLOY_FIX),
)
ROWS = {package.name: package for package in PACKAGES}
CHECKED = [package.name for package in PACKAGES
           if package.role != 'undeclared']

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def command(fix: str) -> str:
    """``fix`` with its ``requirements/`` paths valid from the current
    folder."""
    root = osp.relpath(REPO_ROOT)
    return fix if root == '.' else fix.replace(
        'requirements/', osp.join(root, 'requirements', ''))


def release(version: str) -> Tuple[int, ...]:
    """(2, 1, 0) for '2.1.0', '2.1.0rc1' or '2.1.0+cu121'."""
    return tuple(int(part) for part in
                 re.match(r'\d+(\.\d+)*', version).group().split('.'))


def first_line(error: BaseException) -> str:
    """'ModuleNotFoundError: No module named 'ftfy'': the type and the
    first line of the message."""
    lines = str(error).strip().splitlines()
    return f'{type(error).__name__}: {lines[0]}' if lines else \
        type(error).__name__


def environment() -> dict:
    """mmengine's ``collect_env`` without torch's build details, or only
    the platform and Python when mmengine (or torch) does not import."""
    try:
        from mmengine.utils.dl_utils import collect_env
        env = collect_env()
    except Exception as error:  # reported in the package rows
        env = {'sys.platform': sys.platform,
               'Python': sys.version.replace('\n', ''),
               'collect_env': f'unavailable ({first_line(error)})'}
    env.pop('PyTorch compiling details', None)
    env.pop('numpy_random_seed', None)
    return {key: str(value) for key, value in env.items()}


def culprit(package: Package, error: BaseException,
            problems: list) -> Package:
    """The row whose fix cures ``error``, raised when ``package`` was
    imported: the missing module's package (``mmcv._ext``: mmcv's ops;
    ``ftfy``: mmseg's undeclared dependency), else a package already found
    broken that the message names (mmdet's assertion on the mmcv version),
    else ``package`` itself."""
    missing = (getattr(error, 'name', None) or '').split('.')[0]
    if missing in ROWS and missing != package.name:
        return ROWS[missing]
    for problem in problems:
        if re.search(rf'\b{problem["package"]}\b', str(error).lower()):
            return ROWS[problem['package']]
    return package


def outside_range(package: Package, version: str) -> str:
    """'' when ``version`` is within the range of ``package``, else
    what is wrong, e.g. 'is outside >=2.0.0,<2.2.0 (the reason)'."""
    low, high = package.minimum, package.below
    if not ((low and release(version) < release(low))
            or (high and release(version) >= release(high))):
        return ''
    wanted = ','.join(bound for bound in (low and f'>={low}',
                                          high and f'<{high}') if bound)
    why = f' ({package.why})' if package.why else ''
    return f'is outside {wanted}{why}'


def nms_on_two_boxes() -> None:
    """Run mmcv's compiled nms on the CPU: of two boxes overlapping by
    81%, the second is suppressed."""
    import torch
    from mmcv.ops import nms
    boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.]])
    _, kept = nms(boxes, torch.tensor([0.9, 0.8]), iou_threshold=0.5)
    if kept.tolist() != [0]:
        raise RuntimeError(f'nms kept boxes {kept.tolist()}, not [0]')


def check_package(package: Package, needed: bool, problems: list) -> dict:
    """Import ``package``, check its version and import its probe module
    (for mmcv, also run nms). Returns its row of the report (name,
    version, state: 'ok', 'not installed' or 'problem', detail); a problem
    found is also appended to ``problems``, with its fix."""
    row = dict(name=package.name, version=None, state='ok', detail='')

    def problem(text, error=None):
        cause = package
        if error is not None:
            cause = culprit(package, error, problems)
            text += f': {first_line(error)}'
        row.update(state='problem', detail=text)
        problems.append(dict(package=package.name, problem=text,
                             fix=command(cause.fix)))
        return row

    if find_spec(package.name) is None:
        if package.role == 'required' or needed:
            return problem(f'{package.name} is not installed')
        row.update(state='not installed',
                   detail=f'optional; install: {command(package.fix)}')
        return row
    if package.in_child:
        row['version'] = installed_version(package.name)
        error = import_in_child(package.name)
        if error:
            return problem(f'{package.name} {row["version"]}: import '
                           f'{package.name} fails: {error}')
        return row
    try:
        module = importlib.import_module(package.name)
    except Exception as error:
        row['version'] = installed_version(package.name)
        return problem(f'{package.name} {row["version"]}: import '
                       f'{package.name} fails', error)

    row['version'] = module_version(module, package.name)
    name = f'{package.name} {row["version"]}'
    wrong = row['version'] and outside_range(package, row['version'])
    if wrong:
        return problem(f'{name} {wrong}')
    if package.name == 'mmfasternet':
        row['detail'] = f'from {osp.dirname(osp.dirname(module.__file__))}'

    if package.probe:
        try:
            importlib.import_module(package.probe)
        except Exception as error:
            if package.name == 'mmcv' and 'mmcv._ext' in str(error):
                name += ' has no compiled ops'
            return problem(f'{name}: import {package.probe} fails', error)
    if package.name == 'mmcv':
        try:
            nms_on_two_boxes()
        except Exception as error:
            return problem(f'{name}: its ops import, but nms fails', error)
        row['detail'] = 'compiled ops: nms runs'
    return row


def import_in_child(name: str) -> str:
    """'' when ``import name`` succeeds in a new Python process (with
    CI=true, by which openvino's telemetry knows a CI job and stays off),
    else the error's last line."""
    try:
        result = subprocess.run(
            [sys.executable, '-c', f'import {name}'], capture_output=True,
            text=True, timeout=120, env=dict(os.environ, CI='true'))
    except subprocess.TimeoutExpired:
        return 'the import did not end in 120 s'
    lines = result.stderr.strip().splitlines() or ['no message']
    return '' if result.returncode == 0 else lines[-1]


def module_version(module, name: str) -> Optional[str]:
    """The imported ``module``'s ``__version__`` (a package found before
    the installed one, e.g. through PYTHONPATH, is the one that runs,
    whatever pip's metadata says), else pip's; without openvino's build
    after a '-'."""
    version = getattr(module, '__version__', None) or installed_version(name)
    return version.split('-')[0] if version else None


def installed_version(name: str) -> Optional[str]:
    """The version pip's metadata gives, or None."""
    dist = 'mmsegmentation' if name == 'mmseg' else name
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def check(need=()) -> dict:
    """The report: ``environment`` (see :func:`environment`),
    ``packages`` (a row per package checked) and ``problems`` (each with
    its ``fix``). With ``need``, only the required packages and those of
    ``need`` are checked, and those of ``need`` must be installed."""
    names = [name for name in CHECKED
             if not need or name in need or ROWS[name].role == 'required']
    problems = []
    packages = [check_package(ROWS[name], name in need, problems)
                for name in names]
    return dict(environment=environment(), packages=packages,
                problems=problems)


def format_report(report: dict) -> str:
    """The report of :func:`check` as text: the environment, a line per
    package (name, version, state), then the problems with their fixes."""
    lines = ['Environment:']
    lines += [f'  {key}: {value}'
              for key, value in report['environment'].items()]
    lines.append('Packages:')
    for row in report['packages']:
        if row['state'] == 'problem':
            state = 'PROBLEM (below)'
        else:
            state = row['state'] + (f' ({row["detail"]})'
                                    if row['detail'] else '')
        lines.append(f'  {row["name"]:<12} {row["version"] or "-":<13} '
                     f'{state}')
    problems = report['problems']
    if not problems:
        lines.append('No problem found.')
    else:
        lines.append('1 problem, with the command that fixes it:'
                     if len(problems) == 1 else
                     f'{len(problems)} problems, each with the command that '
                     f'fixes it:')
        for problem in problems:
            lines += [f'  {problem["problem"]}',
                      f'    fix: {problem["fix"]}']
    return '\n'.join(lines)


def excepthook(error_type, error, traceback_) -> None:
    """``sys.excepthook`` of the tools. An exception raised while a module
    was being imported (an ImportError, or mmdet's AssertionError on the
    mmcv version) runs this check, in this process, on the required
    packages and those the traceback went through; when it finds problems,
    its report is printed to stderr in place of the traceback. Otherwise,
    or for any other exception, the traceback is printed as usual."""
    frames, tb = [], traceback_
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    importing = isinstance(error, ImportError) or any(
        frame.f_code.co_filename.startswith('<frozen importlib')
        for frame in frames)
    if importing:
        tops = {frame.f_globals.get('__name__', '').split('.')[0]
                for frame in frames}
        tops.add((getattr(error, 'name', None) or '').split('.')[0])
        report = check([name for name in CHECKED if name in tops])
        if report['problems']:
            tool = osp.basename(sys.argv[0])
            print(f'{tool}: stopped by {first_line(error)}\n'
                  f'{tool}: the environment check '
                  f'(python tools/misc/check_env.py) finds:\n'
                  f'{format_report(report)}', file=sys.stderr)
            return
    sys.__excepthook__(error_type, error, traceback_)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--json', action='store_true',
                        help='print the report as JSON')
    parser.add_argument(
        '--need', nargs='*', default=[], choices=CHECKED, metavar='PACKAGE',
        help='check only these packages (besides the required ones), and '
        'count them as problems when missing; of: ' + ' '.join(CHECKED))
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    report = check(args.need)
    print(json.dumps(report, indent=2) if args.json
          else format_report(report))
    return 1 if report['problems'] else 0


if __name__ == '__main__':
    sys.exit(main())
