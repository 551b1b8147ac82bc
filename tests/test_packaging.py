"""Installing into an existing OpenMMLab environment leaves it as it is:
mmfasternet asks only for what ``import mmfasternet`` needs, in ranges the
tested versions satisfy, and the pinned lists agree with setup.py."""
import ast
import json
import os.path as osp
import shutil
import subprocess
import sys
import zipfile

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def test_pip_install_changes_nothing_but_mmfasternet(tmp_path):
    """A dry run without any package index: every requirement must already
    be satisfied by the environment (torch, mmcv, mmengine untouched)."""
    report = tmp_path / 'report.json'
    result = subprocess.run(
        [sys.executable, '-m', 'pip', 'install', '--dry-run',
         '--no-build-isolation', '--no-index', '--report', str(report), '-e',
         REPO], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr
    installed = [item['metadata']['name']
                 for item in json.loads(report.read_text())['install']]
    assert installed == ['mmfasternet']


def setup_py_extras():
    """setup.py's ``EXTRAS`` literal, read without running setup()."""
    tree = ast.parse(open(osp.join(REPO, 'setup.py')).read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(
                node.targets[0], 'id', None) == 'EXTRAS':
            return {keyword.arg: ast.literal_eval(keyword.value)
                    for keyword in node.value.keywords}
    raise AssertionError('setup.py has no EXTRAS = dict(...)')


def test_pinned_requirements_fall_in_the_ranges_of_setup_py():
    from packaging.requirements import Requirement
    ranges = {}
    for name, requirements in setup_py_extras().items():
        for requirement in map(Requirement, requirements):
            ranges[requirement.name.lower()] = requirement.specifier
    for name in ('det', 'seg', 'cls', 'deploy', 'tests'):
        for line in open(osp.join(REPO, 'requirements', f'{name}.txt')):
            line = line.split('#')[0].strip()
            if not line:
                continue
            pinned = Requirement(line)
            version = str(pinned.specifier).lstrip('=')
            assert pinned.name.lower() in ranges, (name, pinned.name)
            assert ranges[pinned.name.lower()].contains(version), (
                name, pinned.name, version)


def test_the_wheel_holds_the_package_alone(tmp_path):
    """``pip wheel`` ships ``mmfasternet`` and its metadata: not the opt-in
    projects (the mmdeploy add-on under projects/), the tools or the
    configs. Built from a copy, so that the checkout gets no build/."""
    source = tmp_path / 'source'
    ignore = shutil.ignore_patterns('__pycache__', '*.pyc', '*.egg-info')
    for name in ('mmfasternet', 'projects', 'tools', 'configs'):
        shutil.copytree(osp.join(REPO, name), source / name, ignore=ignore)
    for name in ('setup.py', 'README.md'):
        shutil.copy(osp.join(REPO, name), source / name)
    result = subprocess.run(
        [sys.executable, '-m', 'pip', 'wheel', '--no-deps',
         '--no-build-isolation', '--no-index', '-w', str(tmp_path / 'dist'),
         str(source)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr
    wheel, = (tmp_path / 'dist').glob('mmfasternet-*.whl')
    names = zipfile.ZipFile(wheel).namelist()
    assert {name.split('/')[0] for name in names} == {
        'mmfasternet', wheel.name.split('-py')[0] + '.dist-info'}
    assert 'mmfasternet/models/backbones/fasternet.py' in names
    assert not [name for name in names if 'mmdeploy' in name]
