"""tools/misc/check_env.py in the environment the suite runs in, and in
three broken ones, each a folder of packages put first on PYTHONPATH: an
mmcv without its compiled ops (the installed mmcv without ``mmcv/_ext*``,
as a pure-Python mmcv is), an mmcv too new for mmdet 3.3 (the same
with ``__version__ = '2.2.0'``) and an ``ftfy`` that cannot be imported
(mmseg imports it without declaring it). In each broken one the check
names the problem and prints the command that fixes it, and
tools/train.py on a demo config stops with the check's report instead of
a traceback."""
import fnmatch
import json
import os
import os.path as osp
import re
import runpy
import subprocess
import sys
from importlib import metadata
from importlib.util import find_spec

import pytest

from tests.helpers import REPO_ROOT, make_demo_data

CHECK_ENV = osp.join(REPO_ROOT, 'tools', 'misc', 'check_env.py')
TRAIN = osp.join(REPO_ROOT, 'tools', 'train.py')
DETECTION_DEMO = osp.join(REPO_ROOT, 'configs', 'demo',
                          'maskrcnn_fasternet_t0_shapes_demo.py')
SEGMENTATION_DEMO = osp.join(REPO_ROOT, 'configs', 'demo',
                             'fpn_fasternet_t0_shapes_demo.py')
MMCV_FIX = ('pip uninstall -y mmcv mmcv-lite && pip install -U openmim && '
            'mim install "mmcv==2.1.0"')
MMCV = metadata.version('mmcv')


def link_tree(source, target, replace):
    """``target``: the folders of ``source`` with links to its files, but
    for the files matching a pattern of ``replace``, whose value is the new
    text (None: the file is left out)."""
    for folder, folders, files in os.walk(source):
        folders[:] = [name for name in folders if name != '__pycache__']
        into = osp.join(target, osp.relpath(folder, source))
        os.makedirs(into)
        for name in files:
            pattern = next((pattern for pattern in replace
                            if fnmatch.fnmatch(name, pattern)), None)
            if pattern is None:
                os.symlink(osp.join(folder, name), osp.join(into, name))
            elif replace[pattern] is not None:
                with open(osp.join(folder, name)) as f:
                    text = f.read()
                with open(osp.join(into, name), 'w') as f:
                    f.write(replace[pattern](text))


def broken_environments(root):
    """{name: PYTHONPATH folder} of the three broken environments."""
    mmcv = osp.dirname(find_spec('mmcv').origin)
    folders = {name: osp.join(root, name)
               for name in ('mmcv without ops', 'mmcv 2.2', 'no ftfy')}
    link_tree(mmcv, osp.join(folders['mmcv without ops'], 'mmcv'),
              {'_ext*': None})
    link_tree(mmcv, osp.join(folders['mmcv 2.2'], 'mmcv'), {
        'version.py': lambda text: re.sub(
            r"__version__ = '[^']*'", "__version__ = '2.2.0'", text)})
    os.makedirs(osp.join(folders['no ftfy'], 'ftfy'))
    with open(osp.join(folders['no ftfy'], 'ftfy', '__init__.py'), 'w') as f:
        f.write('raise ModuleNotFoundError("No module named \'ftfy\'", '
                'name=\'ftfy\')\n')
    return folders


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    """{(environment, 'check' or 'train'): (exit status, output)}. All the
    runs start at once: each is a new Python process importing torch and
    the OpenMMLab packages, on one thread."""
    root = str(tmp_path_factory.mktemp('check_env'))
    make_demo_data('coco', osp.join(root, 'data', 'demo_coco'), 2, 1, 32)
    make_demo_data('ade20k', osp.join(root, 'data', 'demo_ade',
                                      'ADEChallengeData2016'), 2, 1, 32)
    paths = dict(broken_environments(osp.join(root, 'shims')), healthy=None)
    commands = {('healthy', 'check'): [CHECK_ENV, '--json']}
    # --need: the broken environments' checks leave out the packages that
    # are not the point, to save time
    for name, config, need in (
            ('mmcv without ops', DETECTION_DEMO, 'mmdet'),
            ('mmcv 2.2', DETECTION_DEMO, 'mmdet'),
            ('no ftfy', SEGMENTATION_DEMO, 'mmseg')):
        commands[name, 'check'] = [CHECK_ENV, '--need', need]
        commands[name, 'train'] = [
            TRAIN, config, '--work-dir', osp.join(root, 'work_dirs', name)]
    processes = {}
    for (name, what), args in commands.items():
        pythonpath = os.pathsep.join(
            [path for path in (paths[name], os.environ['PYTHONPATH'])
             if path])
        log = open(osp.join(root, f'{name} {what}.log'), 'w+')
        processes[name, what] = log, subprocess.Popen(
            [sys.executable, *args], cwd=root, stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(os.environ, PYTHONPATH=pythonpath, OMP_NUM_THREADS='1'))
    results = {}
    for key, (log, process) in processes.items():
        status = process.wait(timeout=600)
        log.seek(0)
        results[key] = status, log.read()
        log.close()
    return results


def test_healthy_environment(runs):
    status, output = runs['healthy', 'check']
    assert status == 0, output
    report = json.loads(output[output.index('{\n'):])
    assert report['problems'] == []
    rows = {row['name']: row for row in report['packages']}
    assert rows['mmcv'] == dict(name='mmcv', version=MMCV, state='ok',
                                detail='compiled ops: nms runs')
    for name in ('torch', 'torchvision', 'mmengine', 'mmfasternet', 'mmdet',
                 'mmseg', 'mmpretrain'):
        assert rows[name]['state'] == 'ok', rows[name]
    assert {row['state'] for row in rows.values()} <= {'ok', 'not installed'}
    assert report['environment']['PyTorch'] == rows['torch']['version']


# environment: (problems the check names, the command that fixes them)
BROKEN = {
    'mmcv without ops': ([
        f'mmcv {MMCV} has no compiled ops: import mmcv.ops fails: '
        "ModuleNotFoundError: No module named 'mmcv._ext'",
        'mmdet 3.3.0: import mmdet.models fails: ModuleNotFoundError: No '
        "module named 'mmcv._ext'"], MMCV_FIX),
    'mmcv 2.2': ([
        'mmcv 2.2.0 is outside >=2.0.0,<2.2.0 (mmdet 3.3 and mmseg 1.2 '
        'refuse mmcv 2.2)',
        'mmdet 3.3.0: import mmdet fails: AssertionError: MMCV==2.2.0 is '
        'used but incompatible. Please install mmcv>=2.0.0rc4, <2.2.0.'],
        MMCV_FIX),
    'no ftfy': ([
        "mmseg 1.2.2: import mmseg.models fails: ModuleNotFoundError: No "
        "module named 'ftfy'"], 'pip install ftfy regex'),
}


@pytest.mark.parametrize('environment', sorted(BROKEN))
def test_check_names_the_problem_and_its_fix(runs, environment):
    status, output = runs[environment, 'check']
    problems, fix = BROKEN[environment]
    assert status == 1, output
    for problem in problems:
        assert f'\n  {problem}\n    fix: {fix}\n' in output, output


@pytest.mark.parametrize('environment', sorted(BROKEN))
def test_train_stops_with_the_check_report(runs, environment):
    status, output = runs[environment, 'train']
    problems, fix = BROKEN[environment]
    assert status == 1, output
    assert 'Traceback' not in output, output
    assert re.search(r'^train\.py: stopped by \w+Error: ', output, re.M)
    for problem in problems:
        assert f'\n  {problem}\n    fix: {fix}\n' in output, output


def test_fixes_install_the_tested_versions():
    """The check's table pins what requirements/*.txt and
    tools/setup_env.sh (torch, torchvision, mmcv) install."""
    pinned = {}
    for name in os.listdir(osp.join(REPO_ROOT, 'requirements')):
        with open(osp.join(REPO_ROOT, 'requirements', name)) as f:
            pinned.update(re.findall(r'^([\w-]+)==(\S+)', f.read(), re.M))
    with open(osp.join(REPO_ROOT, 'tools', 'setup_env.sh')) as f:
        setup_env = f.read()
    pinned.update(re.findall(r'\b(torch|torchvision)==([\d.]+)', setup_env))
    pinned['mmcv'] = re.search(r'MMCV_VERSION="([\d.]+)"', setup_env)[1]
    in_fixes = {name: version
                for package in runpy.run_path(CHECK_ENV)['PACKAGES']
                for name, version in re.findall(r'"([\w-]+)==([^"]+)"',
                                                package.fix)}
    assert len(in_fixes) == 8
    assert {name: pinned.get(name) for name in in_fixes} == in_fixes
