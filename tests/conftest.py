import os
import os.path as osp

import pytest
import torch

from tests.helpers import REPO_ROOT

# The tools and the tests use this checkout's mmfasternet, installed or not
# (even where `pip install -e` points at another checkout): pytest.ini's
# ``pythonpath`` for this process, PYTHONPATH for every tool run as a
# subprocess, as the README's `PYTHONPATH=. python tools/...` does.
os.environ['PYTHONPATH'] = os.pathsep.join(
    [REPO_ROOT] + [path for path in
                   os.environ.get('PYTHONPATH', '').split(os.pathsep)
                   if path and osp.abspath(path) != REPO_ROOT])

# The two cores of CI machines: more threads only add contention. Under
# pytest-xdist (`make test` runs two workers) each worker, and every tool it
# starts, takes one thread.
if os.environ.get('PYTEST_XDIST_WORKER'):
    os.environ['OMP_NUM_THREADS'] = '1'
    torch.set_num_threads(1)
else:
    torch.set_num_threads(min(2, torch.get_num_threads()))


# The modules whose tests start the tools (trainings, tests, several
# processes) run for minutes each, longest first. `make test` hands whole
# modules to its workers (``--dist loadfile``): given out first, the long
# ones end before the many short modules do, and the workers finish
# together rather than one waiting on a long module handed out last.
LONG_RUNNING = (
    'tests/test_tasks/test_detection.py',
    'tests/test_tasks/test_rtmdet.py',
    'tests/test_tasks/test_classification.py',
    'tests/test_engine/test_resume.py',
    'tests/test_engine/test_crash_safety.py',
    'tests/test_tasks/test_segmentation.py',
    'tests/test_tasks/test_realdata.py',
    'tests/test_engine/test_distributed.py',
    'tests/test_engine/test_test_options.py',
    'tests/test_datasets/test_dataset_checks.py',
    'tests/test_packaging.py',
    'tests/test_tasks/test_detector_families.py',
    'tests/test_benchmarks/test_detector_heads.py',
    'tests/test_deploy/test_mmdeploy.py',
)


def pytest_configure(config):
    # pytest-xdist would otherwise hand out the modules with the most
    # tests first, whatever their length (the long ones have few tests).
    if hasattr(config.option, 'loadscopereorder'):
        config.option.loadscopereorder = False


def pytest_collection_modifyitems(config, items):
    """The LONG_RUNNING modules first, in that order; the others after, in
    the order collected."""
    first = {name: index for index, name in enumerate(LONG_RUNNING)}

    def rank(item):
        path = osp.relpath(str(item.path), REPO_ROOT).replace(os.sep, '/')
        return first.get(path, len(first))

    items.sort(key=rank)


@pytest.fixture
def repo_root():
    return REPO_ROOT


@pytest.fixture
def release_weights_cached(tmp_path, monkeypatch):
    """A torch hub cache (``TORCH_HOME``) that holds a file for each URL the
    shipped configs' ``init_cfg`` names, as after a first online run, so
    that the tools' checks after the weights' download are reached
    offline. The files are empty: a test that loads one fails loudly."""
    from mmfasternet.model_zoo import original_checkpoints
    cache = tmp_path / 'torch_home' / 'hub' / 'checkpoints'
    cache.mkdir(parents=True)
    for name in original_checkpoints().values():
        (cache / name).touch()
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
