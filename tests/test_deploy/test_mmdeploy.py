"""The mmdeploy project: round trips of the three demo models (export to
ONNX, ONNX Runtime inference, parity with PyTorch asserted, the test
evaluator's metrics of both) through
``projects/mmdeploy_fasternet/tools/deploy.py`` as a user runs it; and
``import mmfasternet`` without mmdeploy, or with a broken one.

The models have random weights (seeded, BN statistics randomised) saved to
a checkpoint, and the datasets are a few small images, so that each round
trip takes seconds. Skipped when mmdeploy is not installed
(``bash tools/setup_env.sh`` installs it).
"""
import os.path as osp
import runpy
import subprocess
import sys

import numpy as np
import pytest

from mmfasternet.testing import (
    REPO_ROOT,
    build_from_config,
    make_demo_data,
    randomize_norm_stats,
)

PROJECT = osp.join(REPO_ROOT, 'projects', 'mmdeploy_fasternet')
DEMO = dict(
    classification=('classification_onnxruntime_dynamic.py',
                    'configs/demo/fasternet_t0_shapes_demo.py', 'imagenet'),
    segmentation=('segmentation_onnxruntime_dynamic.py',
                  'configs/demo/upernet_fasternet_t0_shapes_demo.py',
                  'ade20k'),
    detection=('instance-seg_onnxruntime_dynamic.py',
               'configs/demo/maskrcnn_fasternet_t0_shapes_demo.py', 'coco'),
)


@pytest.fixture(scope='module')
def mmdeploy():
    # mmdeploy.apis imports aenum and multiprocess too; ImportError also
    # for a broken install.
    pytest.importorskip('mmdeploy.apis', exc_type=ImportError)
    from projects.mmdeploy_fasternet import mmdeploy_support
    return mmdeploy_support


def make_checkpoint(model_cfg, path):
    """A seeded random model of ``model_cfg`` saved as an mmengine
    checkpoint (what ``tools/train.py`` writes)."""
    from mmengine.runner import save_checkpoint
    model = build_from_config(
        osp.relpath(model_cfg, osp.join(REPO_ROOT, 'configs')), seed=0)
    # The libraries' own initialisation (small weights in the heads): the
    # default one gives degenerate detections (boxes a pixel high, all
    # scores within 1e-3) whose order is left to rounding.
    model.init_weights()
    randomize_norm_stats(model)
    save_checkpoint({'state_dict': model.state_dict(), 'meta': {}},
                    str(path))
    return str(path)


def other_size(img, size, path):
    """``img`` resized to ``size`` (w, h): another input shape for the
    dynamic axes."""
    from PIL import Image
    Image.open(img).convert('RGB').resize(size).save(path)
    return str(path)


def deploy(task, tmp_path, data_root, img, extra=()):
    deploy_cfg, model_cfg, _ = DEMO[task]
    checkpoint = make_checkpoint(osp.join(REPO_ROOT, model_cfg),
                                 tmp_path / 'model.pth')
    # The tool as a user runs it, its main() called in this process.
    main = runpy.run_path(osp.join(PROJECT, 'tools', 'deploy.py'))['main']
    argv = [osp.join(PROJECT, 'configs', deploy_cfg),
            osp.join(REPO_ROOT, model_cfg),
            checkpoint, img, '--work-dir', str(tmp_path / 'work'), '--runs',
            '0', '--cfg-options',
            f'test_dataloader.dataset.data_root={data_root}', *extra]
    return main(argv)


def test_classifier_round_trip_and_eval(mmdeploy, tmp_path):
    root = make_demo_data('imagenet', tmp_path / 'imagenet', 1, 6, 72)
    img = str(root / 'val' / 'ILSVRC2012_val_00000001.JPEG')
    result = deploy('classification', tmp_path, str(root), img,
                    ['--test-img', other_size(img, (90, 80),
                                              tmp_path / 'b.jpg'), '--eval'])
    assert osp.isfile(result['onnx_file'])
    for report in result['images']:
        assert report['max_score_diff'] < 1e-6, report
        assert report['max_log_score_diff'] < 1e-5, report
        assert report['topk_equal'] == 1.0, report
    metrics = result['metrics']
    assert metrics['pytorch'] and metrics['pytorch'].keys() == \
        metrics['onnxruntime'].keys()
    for key, value in metrics['pytorch'].items():
        assert metrics['onnxruntime'][key] == pytest.approx(value), key


def test_upernet_round_trip_and_eval(mmdeploy, tmp_path):
    root = make_demo_data('ade20k', tmp_path / 'ADEChallengeData2016', 1,
                          2, 128)
    img = str(sorted((root / 'images' / 'validation').iterdir())[0])
    # A size whose feature maps are no multiple of the pyramid's 6 cells:
    # the exact adaptive pooling must hold at any size.
    result = deploy('segmentation', tmp_path, str(root), img,
                    ['--test-img', other_size(img, (300, 200),
                                              tmp_path / 'b.jpg'), '--eval'])
    shapes = {tuple(report['input_shape']) for report in result['images']}
    assert len(shapes) == 2, shapes
    for report in result['images']:
        assert report['network_pixel_agreement'] == 1.0, report
        # mmdeploy resizes the label map, mmseg the logits: they differ
        # along class borders only.
        assert report['pixel_agreement'] > 0.9, report
    metrics = result['metrics']
    assert metrics['pytorch'].keys() == metrics['onnxruntime'].keys()
    assert np.isfinite(metrics['onnxruntime']['mIoU'])


def test_mask_rcnn_round_trip(mmdeploy, tmp_path):
    root = make_demo_data('coco', tmp_path / 'coco', 1, 2, 256)
    img = str(sorted((root / 'val2017').iterdir())[0])
    # 256x192 stays at that size, a multiple of 32: no padding. 200x300
    # is resized to 171x256 and padded to 192x256: the exported model then
    # takes the padding for image (mmdeploy's design), which is reported.
    result = deploy('detection', tmp_path, str(root), img, [
        '--test-img', other_size(img, (256, 192), tmp_path / 'b.jpg'),
        other_size(img, (200, 300), tmp_path / 'c.jpg')])
    *unpadded, padded = result['images']
    assert padded['padded_input'] == (256, 192), padded
    assert [report['input_shape'] for report in unpadded] == [
        (256, 256), (192, 256)]
    for report in unpadded:
        assert 'padded_input' not in report
        assert report['torch_dets'] > 0, report
        assert report['matched'] >= 0.95 * report['torch_dets'], report
        assert report['mask_pixel_agreement'] > 0.99, report


def test_import_mmfasternet_without_mmdeploy(repo_root):
    """mmdeploy unimportable (not installed): ``import mmfasternet`` works
    and the project's package names the install command."""
    code = '''
import sys
class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name == 'mmdeploy' or name.startswith('mmdeploy.'):
            raise ModuleNotFoundError('No module named ' + repr(name))
sys.meta_path.insert(0, Blocker())
import mmfasternet
from mmfasternet.deploy import switch_to_deploy
assert 'mmdeploy' not in sys.modules
try:
    from projects.mmdeploy_fasternet import mmdeploy_support
except ImportError as error:
    assert 'pip install --no-deps mmdeploy==' in str(error), error
else:
    raise AssertionError('mmdeploy_support imported without mmdeploy')
print('ok')
'''
    result = subprocess.run([sys.executable, '-c', code], cwd=repo_root,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith('ok')


def test_import_mmfasternet_with_a_broken_mmdeploy(repo_root):
    """An mmdeploy that is loaded but unusable (another version, a package
    it imports missing): ``import mmfasternet`` leaves it alone, without a
    word; importing the project fails and names the install command."""
    code = '''
import sys, types, warnings
sys.modules['mmdeploy'] = types.ModuleType('mmdeploy')  # no apis, no version
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter('always')
    import mmfasternet
assert not any('mmdeploy' in str(w.message) for w in caught), caught
assert not any(name.startswith('projects') for name in sys.modules)
try:
    from projects.mmdeploy_fasternet import mmdeploy_support
except ImportError as error:
    assert 'pip install --no-deps mmdeploy==' in str(error), error
else:
    raise AssertionError('mmdeploy_support imported with a broken mmdeploy')
print('ok')
'''
    result = subprocess.run([sys.executable, '-c', code], cwd=repo_root,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith('ok')


def test_mmdeploy_pins_agree(repo_root):
    """requirements/mmdeploy.txt (what tools/setup_env.sh installs with
    --no-deps) pins the mmdeploy the project was made for, and stays out of
    requirements.txt (a plain pip install would apply mmdeploy's pins)."""
    import re
    pins = {}
    for line in open(osp.join(repo_root, 'requirements', 'mmdeploy.txt')):
        line = line.split('#')[0].strip()
        if line:
            name, version = line.split('==')
            pins[name] = version
    assert set(pins) == {'mmdeploy', 'aenum', 'multiprocess', 'dill'}
    support = open(osp.join(PROJECT, 'mmdeploy_support', 'patches.py')).read()
    assert re.search(r"MMDEPLOY_VERSION = '([\d.]+)'",
                     support).group(1) == pins['mmdeploy']
    assert 'mmdeploy' not in open(osp.join(repo_root,
                                           'requirements.txt')).read()
    setup_env = open(osp.join(repo_root, 'tools', 'setup_env.sh')).read()
    assert '--no-deps -r "$REPO_ROOT/requirements/mmdeploy.txt"' in setup_env
