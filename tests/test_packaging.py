"""Installing into an existing OpenMMLab environment leaves it as it is:
mmfasternet asks only for what ``import mmfasternet`` needs, in ranges the
tested versions satisfy, and the pinned lists agree with setup.py. The
wheel and the sdist are complete OpenMMLab packages: a wheel installed
outside the checkout lists the model zoo, gives the path of a shipped
config, and a user config that inherits it trains with the installed
tools; an editable checkout reads its own configs through
``mmfasternet/.mim``."""
import ast
import importlib.util
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
import tarfile
import textwrap
import zipfile

import pytest

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


SOURCES = ('mmfasternet', 'configs', 'tools', 'projects', 'setup.py',
           'README.md', 'MANIFEST.in', 'model-index.yml')


def copy_sources(dest):
    """The files of the checkout a build reads (a build in the checkout
    itself would leave build/ and *.egg-info there)."""
    ignore = shutil.ignore_patterns('__pycache__', '*.pyc', '*.egg-info',
                                    '.mim')
    for name in SOURCES:
        source = osp.join(REPO, name)
        if osp.isdir(source):
            shutil.copytree(source, dest / name, ignore=ignore)
        else:
            shutil.copy(source, dest / name)
    return dest


def run(args, cwd, env=None):
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, (
        f'{args}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}')
    return result.stdout


@pytest.fixture(scope='module')
def dists(tmp_path_factory):
    """The sdist and the wheel ``python -m build`` makes (the wheel from
    the sdist, as PyPI users get it)."""
    base = tmp_path_factory.mktemp('dist')
    source = copy_sources(base / 'source')
    run([sys.executable, '-m', 'build', '--no-isolation', '--outdir',
         str(base / 'dist'), str(source)], cwd=base)
    sdist, = (base / 'dist').glob('mmfasternet-*.tar.gz')
    wheel, = (base / 'dist').glob('mmfasternet-*.whl')
    return sdist, wheel


@pytest.fixture(scope='module')
def installed(dists, tmp_path_factory):
    """The wheel installed with ``pip install --target``: its folder, and
    the environment that puts it first on the path (and not the
    checkout)."""
    target = tmp_path_factory.mktemp('site')
    run([sys.executable, '-m', 'pip', 'install', '--no-deps', '--no-index',
         '--target', str(target), str(dists[1])], cwd=target)
    env = dict(os.environ, PYTHONPATH=str(target), OMP_NUM_THREADS='1')
    return target, env


def shipped_configs():
    """Every file under configs/ and tools/ a package must carry."""
    names = []
    for folder in ('configs', 'tools'):
        for root, _, files in os.walk(osp.join(REPO, folder)):
            names += [osp.relpath(osp.join(root, name), REPO).replace(
                os.sep, '/') for name in files
                if name.endswith(('.py', '.yml', '.sh'))]
    return sorted(names)


def test_wheel_and_sdist_carry_the_mim_files(dists):
    """Both hold configs/, tools/ and model-index.yml as regular files
    under mmfasternet/.mim/; the wheel holds nothing else outside the
    package (no opt-in projects, no tests), and twine accepts both."""
    sdist, wheel = dists
    wanted = {f'mmfasternet/.mim/{name}'
              for name in shipped_configs() + ['model-index.yml']}
    names = set(zipfile.ZipFile(wheel).namelist())
    assert wanted <= names
    assert {name.split('/')[0] for name in names} == {
        'mmfasternet', wheel.name.split('-py')[0] + '.dist-info'}
    assert 'mmfasternet/models/backbones/fasternet.py' in names
    assert not [name for name in names
                if 'mmdeploy' in name or '__pycache__' in name]
    with tarfile.open(sdist) as archive:
        members = {member.name.split('/', 1)[1]: member
                   for member in archive.getmembers() if '/' in member.name}
    assert wanted <= set(members)
    assert all(members[name].isfile() for name in wanted)
    output = run([sys.executable, '-m', 'twine', 'check', '--strict',
                  str(sdist), str(wheel)], cwd=REPO)
    assert output.count('PASSED') == 2, output


def test_installed_wheel_works_outside_the_checkout(installed, tmp_path):
    """From another folder, with the wheel first on the path: the model
    zoo lists every model of the checkout's metafile, ``config NAME``
    names the installed config, ``--copy`` writes a config that loads and
    builds, and a user config inheriting the installed demo config trains
    one iteration with the installed tools/train.py."""
    from mmfasternet.engine.tasks import build_model_from_config
    from mmfasternet.model_zoo import REPO_INDEX, load_model_zoo
    target, env = installed
    mim = target / 'mmfasternet' / '.mim'
    zoo = [sys.executable, '-m', 'mmfasternet.model_zoo']
    records = load_model_zoo(REPO_INDEX)
    rows = run(zoo + ['list'], tmp_path, env).splitlines()
    assert rows[0].split()[:2] == ['name', 'config']
    assert sorted(row.split()[0] for row in rows[1:]) == sorted(
        record.name for record in records)
    assert 'not trained here' in '\n'.join(rows)
    path = run(zoo + ['config', 'fasternet_t0_imagenet'], tmp_path,
               env).strip()
    assert path == str(mim / 'configs' / 'fasternet_t0_imagenet.py')
    # the package's attributes and --copy, in one process (each start
    # imports torch)
    loaded = run([sys.executable, '-c', textwrap.dedent(f"""
        import mmfasternet
        from mmfasternet.model_zoo import main
        print(mmfasternet.__file__)
        print(sorted(mmfasternet.ORIGINAL_CHECKPOINTS))
        main(['config', 'fasternet_t0_imagenet', '--copy', {str(tmp_path)!r}])
        """)], tmp_path, env).splitlines()
    copy = str(tmp_path / 'fasternet_t0_imagenet.py')
    assert loaded == [str(target / 'mmfasternet' / '__init__.py'),
                      str(sorted(['t0', 't1', 't2', 's', 'm', 'l'])), copy]
    assert '_base_' not in open(copy).read()
    model = build_model_from_config(copy, revert_sync_bn=True)
    assert type(model.backbone).__name__ == 'FasterNet'
    assert model.backbone.arch['name'] == 't0'

    data = tmp_path / 'data'
    run([sys.executable, str(mim / 'tools' / 'misc' / 'make_demo_data.py'),
         'imagenet', str(data), '--train', '2', '--val', '2', '--size', '32',
         '32'], tmp_path, env)
    config = tmp_path / 'my_config.py'
    demo = osp.join(osp.dirname(path), 'demo', 'fasternet_t0_shapes_demo.py')
    config.write_text(textwrap.dedent(f"""
        _base_ = {demo!r}
        loader = dict(batch_size=2, num_workers=0, persistent_workers=False,
                      dataset=dict(data_root={str(data)!r}))
        train_dataloader = loader
        val_dataloader = loader
        test_dataloader = loader
        train_cfg = dict(max_epochs=1, val_interval=10)
        default_hooks = dict(logger=dict(interval=1))
        """))
    log = run([sys.executable, str(mim / 'tools' / 'train.py'), str(config),
               '--work-dir', str(tmp_path / 'work')], tmp_path, env)
    assert 'Epoch(train) [1][1/1]' in log, log[-3000:]
    assert (tmp_path / 'work' / 'epoch_1.pth').is_file()


def test_unknown_model_names_the_close_ones(capsys):
    from mmfasternet.model_zoo import main
    assert main(['config', 'fasternet_t0_imagenett']) == 1
    assert 'did you mean fasternet_t0_imagenet' in capsys.readouterr().err
    assert main(['config', 'maskrcnn_fasternet_s_coco', '--copy',
                 'config.txt']) == 1
    assert 'name a .py file or a folder' in capsys.readouterr().err


def test_editable_checkout_reads_its_own_files(tmp_path):
    """setup.py links mmfasternet/.mim/{configs,tools,model-index.yml} to
    the checkout's own files when pip builds the editable install (PEP
    660's build_editable, which ``pip install -e .`` calls), and the model
    zoo of that checkout reads its index through them; without the links
    it reads the repository's."""
    from mmfasternet import model_zoo
    source = copy_sources(tmp_path / 'source')
    run([sys.executable, '-c', 'from setuptools import build_meta; '
         'build_meta.build_editable(".")'], source)
    for name in ('configs', 'tools', 'model-index.yml'):
        link = source / 'mmfasternet' / '.mim' / name
        assert link.is_symlink()
        assert osp.samefile(link, source / name)
    # the copy's model_zoo.py, loaded alone (it imports no torch)
    spec = importlib.util.spec_from_file_location(
        'copied_model_zoo', source / 'mmfasternet' / 'model_zoo.py')
    copied = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(copied)
    mim = source / 'mmfasternet' / '.mim'
    assert copied.METAFILE_INDEX == str(mim / 'model-index.yml')
    assert copied.config_path(copied.get_model('fasternet_s_imagenet')) == \
        str(mim / 'configs' / 'fasternet_s_imagenet.py')
    # this checkout, whether it was installed editable or not
    assert osp.samefile(model_zoo.METAFILE_INDEX,
                        osp.join(REPO, 'model-index.yml'))
    mim = osp.join(REPO, 'mmfasternet', '.mim')
    if osp.isdir(mim):
        assert osp.samefile(osp.join(mim, 'configs'),
                            osp.join(REPO, 'configs'))
