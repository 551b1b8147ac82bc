"""Every script path and benchmark command that the README, the docs, the
Makefile, the scripts, the configs, the library and the projects name
exists (tools/ is grouped into OpenMMLab's analysis_tools/, deployment/,
model_converters/ and misc/; the measurement code is benchmarks/, outside
the package; a project under projects/ names its own tools/ and configs/
relative to its folder), and the package and the tools never import the
benchmarks."""
import glob
import os
import os.path as osp
import re

from tests.helpers import REPO_ROOT

TOOL_PATH = re.compile(
    r'(?<![\w/.])(?:tools|benchmarks)/[\w./-]+\.(?:py|sh|md)\b')
PROJECT_PATH = re.compile(r'(?<![\w/.])projects/[\w./-]+\.(?:py|md)\b')
# ``python -m benchmarks.benchmark ...``: benchmarks/benchmark.py
BENCHMARK_MODULE = re.compile(r'-m (benchmarks\.\w+)')
SOURCES = ('README.md', 'Makefile', 'docs/*.md', 'tools/**/*.py',
           'tools/**/*.sh', 'configs/**/*.py', 'mmfasternet/**/*.py',
           'tests/**/*.py', '.ci/*', 'benchmarks/*.py', 'benchmarks/*.sh',
           'benchmarks/*.md', 'projects/**/*.py', 'projects/**/*.md')


def project_of(path):
    """The folder of the project under projects/ that holds ``path``, or
    None."""
    parts = osp.relpath(path, REPO_ROOT).split(os.sep)
    if len(parts) > 2 and parts[0] == 'projects':
        return osp.join(REPO_ROOT, *parts[:2])
    return None


def test_every_named_tool_exists():
    named, missing = set(), []
    for pattern in SOURCES:
        for path in glob.glob(osp.join(REPO_ROOT, pattern), recursive=True):
            roots = [REPO_ROOT] + [
                folder for folder in [project_of(path)] if folder]
            with open(path, encoding='utf-8') as f:
                for line_number, line in enumerate(f, 1):
                    tools = TOOL_PATH.findall(line) + PROJECT_PATH.findall(
                        line) + [module.replace('.', '/') + '.py'
                                 for module in BENCHMARK_MODULE.findall(line)]
                    for tool in tools:
                        named.add(tool)
                        if not any(osp.isfile(osp.join(root, tool))
                                   for root in roots):
                            missing.append(
                                f'{osp.relpath(path, REPO_ROOT)}:'
                                f'{line_number}: {tool}')
    assert not missing, '\n'.join(missing)
    assert {'tools/train.py', 'tools/misc/make_demo_data.py',
            'tools/analysis_tools/get_flops.py',
            'tools/deployment/export_onnx.py',
            'tools/model_converters/convert_checkpoint.py',
            'projects/mmdeploy_fasternet/tools/deploy.py',
            'projects/mmdeploy_fasternet/README.md',
            'benchmarks/benchmark.py', 'benchmarks/operators.py',
            'benchmarks/traffic.py', 'benchmarks/plot_speed_accuracy.py',
            'benchmarks/gpu_benchmarks.sh'} <= named


def test_package_and_tools_do_not_import_the_benchmarks():
    """benchmarks/ is not installed: neither mmfasternet nor the tools that
    users run from an installed package may import it."""
    importing = re.compile(r'^\s*(?:from|import)\s+benchmarks\b', re.M)
    offenders = [
        osp.relpath(path, REPO_ROOT)
        for folder in ('mmfasternet', 'tools')
        for path in glob.glob(osp.join(REPO_ROOT, folder, '**', '*.py'),
                              recursive=True)
        if importing.search(open(path, encoding='utf-8').read())]
    assert not offenders


def test_scripts_and_tests_leave_tools_off_sys_path():
    """No script edits sys.path (the repo root is importable by
    installation or PYTHONPATH, README "Train and test"), and the tests
    load tools by path: ``import test`` cannot find tools/test.py."""
    import importlib.util
    edits = [
        osp.relpath(path, REPO_ROOT)
        for folder in ('tools', 'benchmarks')
        for path in glob.glob(osp.join(REPO_ROOT, folder, '**', '*.py'),
                              recursive=True)
        if 'sys.path' in open(path, encoding='utf-8').read()]
    assert not edits
    tools = osp.join(REPO_ROOT, 'tools')
    for name in ('test', 'train', 'benchmark', 'get_flops'):
        spec = importlib.util.find_spec(name)
        assert spec is None or not (spec.origin or '').startswith(tools), (
            name, spec.origin)


def test_a_tool_runs_with_the_documented_pythonpath(tmp_path):
    """``PYTHONPATH=. python tools/...`` from the repo root imports this
    checkout's mmfasternet, whether or not (or from where) it is installed:
    a script outside the repo, like a tool, has only its own folder on
    sys.path besides PYTHONPATH and the installed packages."""
    import subprocess
    import sys
    env = dict(os.environ, PYTHONPATH='.')
    script = tmp_path / 'where.py'
    script.write_text('import mmfasternet\nprint(mmfasternet.__file__)\n')
    where = subprocess.run([sys.executable, str(script)], capture_output=True,
                           text=True, cwd=REPO_ROOT, env=env, timeout=300)
    assert where.returncode == 0, where.stderr[-3000:]
    assert osp.realpath(where.stdout.strip()) == osp.realpath(
        osp.join(REPO_ROOT, 'mmfasternet', '__init__.py'))
    result = subprocess.run(
        [sys.executable, 'tools/analysis_tools/get_flops.py', '--help'],
        capture_output=True, text=True, cwd=REPO_ROOT, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'mmdet::PATH' in result.stdout


def _imported_modules(path, package):
    """The absolute names of the modules ``path`` (a module of ``package``,
    dotted) imports, relative imports resolved."""
    import ast
    tree = ast.parse(open(path, encoding='utf-8').read())
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ''
            if node.level:
                parent = package.split('.')
                parent = parent[:len(parent) - node.level + 1]
                base = '.'.join(parent + ([base] if base else []))
            names += [f'{base}.{alias.name}' for alias in node.names]
    return names


# What each part of the package may import of mmfasternet.
LAYERS = {
    'mmfasternet.utils': ('mmfasternet.utils', ),
    'mmfasternet.models': ('mmfasternet.models', 'mmfasternet.utils'),
    'mmfasternet.deploy': ('mmfasternet.deploy', 'mmfasternet.models',
                           'mmfasternet.utils'),
    'mmfasternet.datasets': ('mmfasternet.datasets', 'mmfasternet.utils'),
    'mmfasternet.model_zoo': (),
}


def test_imports_run_one_way():
    """models/ and utils/ at the bottom, deploy/ and datasets/ above them,
    engine/ above those; nothing in the package imports the tools, the
    benchmarks, the projects or the tests."""
    wrong = []
    for path in glob.glob(osp.join(REPO_ROOT, 'mmfasternet', '**', '*.py'),
                          recursive=True):
        relative = osp.relpath(path, REPO_ROOT)[:-3].replace(os.sep, '.')
        package = relative[:-len('.__init__')] if relative.endswith(
            '__init__') else relative.rsplit('.', 1)[0]
        allowed = next((layers for part, layers in LAYERS.items()
                        if relative == part
                        or relative.startswith(part + '.')), None)
        for name in _imported_modules(path, package):
            top = name.split('.')[0]
            if top in ('benchmarks', 'projects', 'tests', 'tools'):
                wrong.append(f'{relative} imports {name}')
            elif top == 'mmfasternet' and allowed is not None and not any(
                    name == layer or name.startswith(layer + '.')
                    for layer in allowed):
                wrong.append(f'{relative} imports {name}')
    assert not wrong, '\n'.join(sorted(wrong))
