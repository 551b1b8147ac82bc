"""The mmdeploy project: round trips of the three demo models (export to
ONNX, ONNX Runtime inference, parity with PyTorch asserted, the test
evaluator's metrics of both) through
``projects/mmdeploy_fasternet/tools/deploy.py`` as a user runs it; each of
its patches shown to act; mmdeploy's worker processes getting it from the
deploy config alone; and ``import mmfasternet`` without mmdeploy, with a
broken one, or with one loaded, which it leaves alone.

The models have random weights (seeded, BN statistics randomised) saved to
a checkpoint, and the datasets are a few small images, so that each round
trip takes seconds. Skipped when mmdeploy is not installed
(``bash tools/setup_env.sh`` installs it).
"""
import json
import os.path as osp
import runpy
import subprocess
import sys

import numpy as np
import pytest

from tests.helpers import (
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


def boxes_around_points(detector):
    """RTMDet's regression biases raised by 2 (distances of 2 strides to
    each side): the random head's boxes then have a width and a height, as
    a trained detector's do, and some cross the image's border. (Random
    distances are half negative: mmdet drops such boxes.)"""
    import torch
    with torch.no_grad():
        for conv in detector.bbox_head.rtm_reg:
            conv.bias += 2.0


def scores_over_threshold(detector):
    """RetinaNet's classification biases raised by 3: the random head
    then scores its anchors about 0.17 (the prior of 0.01 it is
    initialised with is under the test score threshold of 0.05, and the
    test image would have no detection), with each anchor's 80 scores
    spread as the random weights make them."""
    import torch
    with torch.no_grad():
        detector.bbox_head.retina_cls.bias += 3.0


def three_classes_per_roi(detector):
    """Classes 0 to 2 raised by 4 over the other 77, each then about 0.2 of
    a RoI's probability (with 80 classes the random box head scores each
    about 1/81, under the test score threshold of 0.05); class 0 scored
    just under class 2 and regressed with weights of its own, as in
    :func:`two_classes_per_roi` but smaller (0.01): larger ones push boxes
    out of a 96-pixel image, clipped there to no width, which no IoU
    matches."""
    import torch
    head = detector.roi_head.bbox_head
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        head.fc_cls.bias[:3] += 4.0
        head.fc_cls.weight[0] = head.fc_cls.weight[2]
        head.fc_cls.bias[0] = head.fc_cls.bias[2] - 1e-3
        head.fc_reg.weight[:4] = 0.01 * torch.randn(
            head.fc_reg.weight[:4].shape, generator=generator)


# Box detectors: name -> (deploy config, model config, the change of its
# random model that gives it detections worth comparing (or None), the
# --cfg-options making its test images 96x96). One line per detector.
BOX_DETECTORS = dict(
    rtmdet=('detection_onnxruntime_dynamic.py',
            'configs/demo/rtmdet_fasternet_t0_shapes_demo.py',
            boxes_around_points,
            ['test_pipeline.1.scale=(96,96)', 'test_pipeline.2.size=(96,96)']),
    retinanet=('detection_onnxruntime_dynamic.py',
               'configs/retinanet_fasternet_t0_coco.py',
               scores_over_threshold, ['test_pipeline.1.scale=(96,96)']),
    faster_rcnn=('detection_onnxruntime_dynamic.py',
                 'configs/fasterrcnn_fasternet_s_coco.py',
                 three_classes_per_roi, ['test_pipeline.1.scale=(96,96)']),
)


@pytest.fixture(scope='module')
def mmdeploy():
    # mmdeploy.apis imports aenum and multiprocess too; ImportError also
    # for a broken install.
    pytest.importorskip('mmdeploy.apis', exc_type=ImportError)
    from projects.mmdeploy_fasternet import mmdeploy_support
    return mmdeploy_support


# Importing the project without a usable mmdeploy: an ImportError that names
# the install command.
PROJECT_NEEDS_MMDEPLOY = '''
try:
    from projects.mmdeploy_fasternet import mmdeploy_support
except ImportError as error:
    assert 'pip install --no-deps mmdeploy==' in str(error), error
else:
    raise AssertionError('the project imported without a usable mmdeploy')
'''


def run_python(code, cwd, timeout=300):
    """Run ``code`` in a fresh interpreter in ``cwd`` and check that it
    ran to its end."""
    result = subprocess.run([sys.executable, '-c', code + "\nprint('ok')\n"],
                            cwd=cwd, capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith('ok')


def make_checkpoint(model_cfg, path, change=None):
    """A seeded random model of ``model_cfg`` saved as an mmengine
    checkpoint (what ``tools/train.py`` writes), after ``change(model)``
    when given."""
    from mmengine.runner import save_checkpoint
    model = build_from_config(
        osp.relpath(model_cfg, osp.join(REPO_ROOT, 'configs')), seed=0)
    # The libraries' own initialisation (small weights in the heads): the
    # default one gives degenerate detections (boxes a pixel high, all
    # scores within 1e-3) whose order is left to rounding.
    model.init_weights()
    randomize_norm_stats(model)
    if change is not None:
        change(model)
    save_checkpoint({'state_dict': model.state_dict(), 'meta': {}},
                    str(path))
    return str(path)


def two_classes_per_roi(detector):
    """Class 0 scored just under class 2 on every RoI (the same weights, a
    bias 1e-3 lower) and regressed with weights of its own: the detections
    kept then take both classes from the same RoIs with other boxes, as a
    trained detector's do. (The random box head otherwise gives every RoI
    about the same scores, and its 20 best detections are all of one
    class.) mmdeploy's own box head rewrite would give class 0 the boxes
    of class 2."""
    import torch
    head = detector.roi_head.bbox_head
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        head.fc_cls.weight[0] = head.fc_cls.weight[2]
        head.fc_cls.bias[0] = head.fc_cls.bias[2] - 1e-3
        head.fc_reg.weight[:4] = 0.05 * torch.randn(
            head.fc_reg.weight[:4].shape, generator=generator)


def other_size(img, size, path):
    """``img`` resized to ``size`` (w, h): another input shape for the
    dynamic axes."""
    from PIL import Image
    Image.open(img).convert('RGB').resize(size).save(path)
    return str(path)


def deploy(task, tmp_path, data_root, img, extra=(), change=None,
           configs=None):
    """The project's deploy tool on a seeded random checkpoint of the demo
    config of ``task`` (or of ``configs``: deploy and model config)."""
    deploy_cfg, model_cfg = configs or DEMO[task][:2]
    checkpoint = make_checkpoint(osp.join(REPO_ROOT, model_cfg),
                                 tmp_path / 'model.pth', change)
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
                                              tmp_path / 'b.jpg'), '--eval',
                     '--dump-info'])
    assert osp.isfile(result['onnx_file'])
    # --dump-info: mmdeploy-runtime knows LinearClsHead, not FasterNetClsHead
    # (the project's fasternet_cls_head_sdk patch).
    with open(tmp_path / 'work' / 'pipeline.json') as f:
        postprocess = json.load(f)['pipeline']['tasks'][-1]
    assert postprocess['component'] == 'LinearClsHead', postprocess
    assert postprocess['params'] == dict(topk=1), postprocess
    for report in result['images']:
        assert report['max_score_diff'] < 1e-6, report
        assert report['max_log_score_diff'] < 1e-5, report
        assert report['topk_equal'] == 1.0, report
    metrics = result['metrics']
    assert metrics['pytorch'] and metrics['pytorch'].keys() == \
        metrics['onnxruntime'].keys()
    for key, value in metrics['pytorch'].items():
        assert metrics['onnxruntime'][key] == pytest.approx(value), key


def test_a_checkpoint_of_another_model_is_refused_before_export(
        mmdeploy, tmp_path):
    """A 5-class classifier's checkpoint for the 3-class demo config: the
    error tools/test.py gives, before anything is exported (an export
    would hold a randomly initialised head)."""
    from mmfasternet.models.utils import CheckpointMismatchError
    root = make_demo_data('imagenet', tmp_path / 'imagenet', 1, 2, 40)
    img = str(root / 'val' / 'ILSVRC2012_val_00000001.JPEG')

    def five_classes(model):
        import torch
        model.head.fc = torch.nn.Linear(model.head.fc.in_features, 5)

    with pytest.raises(CheckpointMismatchError) as error:
        deploy('classification', tmp_path, str(root), img,
               change=five_classes)
    message = str(error.value)
    assert 'does not hold this config\'s model' in message
    assert 'head.fc.weight: (5, 1280) in the file vs (3, 1280)' in message
    assert not (tmp_path / 'work' / 'end2end.onnx').exists()


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
        other_size(img, (200, 300), tmp_path / 'c.jpg')],
        change=two_classes_per_roi)
    *unpadded, padded = result['images']
    assert padded['padded_input'] == (256, 192), padded
    assert [report['input_shape'] for report in unpadded] == [
        (256, 256), (192, 256)]
    for report in unpadded:
        assert 'padded_input' not in report
        assert report['torch_dets'] > 0, report
        assert report['matched'] >= 0.95 * report['torch_dets'], report
        assert report['mask_pixel_agreement'] > 0.99, report


@pytest.mark.parametrize('name', sorted(BOX_DETECTORS))
def test_box_detector_round_trip(mmdeploy, tmp_path, name):
    """The exported box detector (mmdeploy's NMS, with the project's
    rewriter where it has one) gives PyTorch's detections: at least 95%
    matched at IoU > 0.99, on a 96x96 image and a 96x64 one."""
    deploy_cfg, model_cfg, change, size_options = BOX_DETECTORS[name]
    root = make_demo_data('coco', tmp_path / 'coco', 1, 1, 96)
    img = str(sorted((root / 'val2017').iterdir())[0])
    result = deploy(name, tmp_path, str(root), img, [
        *size_options, '--test-img',
        other_size(img, (96, 64), tmp_path / 'b.jpg')], change=change,
        configs=(deploy_cfg, model_cfg))
    assert len(result['images']) == 2
    for report in result['images']:
        assert report['torch_dets'] > 20, report
        assert report['onnx_dets'] == report['torch_dets'], report
        assert report['matched'] >= 0.95 * report['torch_dets'], report
        assert report['max_score_diff'] < 1e-5, report


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
''' + PROJECT_NEEDS_MMDEPLOY
    run_python(code, repo_root)


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
''' + PROJECT_NEEDS_MMDEPLOY
    run_python(code, repo_root)


def test_only_the_project_changes_mmdeploy_and_only_once(mmdeploy,
                                                         repo_root):
    """With mmdeploy loaded, ``import mmfasternet`` (and its deploy module)
    changes nothing in mmdeploy or torch; importing the project applies
    every patch and registers every rewriter; applying them again changes
    nothing more."""
    code = '''
import sys
import mmdeploy.apis
import torch.onnx.symbolic_opset9 as opset9
from mmdeploy.codebase.mmpretrain.deploy.classification import Classification

def state():
    return (Classification.get_postprocess,
            getattr(opset9, '_cast_Long', None))

before = state()
import mmfasternet
from mmfasternet.deploy import switch_to_deploy
from mmfasternet.models.heads import fasternet_head
assert state() == before, (state(), before)
assert before[1] is None  # torch removed it; the project puts it back
assert not any(name.startswith('projects') for name in sys.modules)

from projects.mmdeploy_fasternet import mmdeploy_support
after = state()
assert after[0] is not before[0] and after[1] is not None, after
assert mmdeploy_support.apply_patches() == ()
assert mmdeploy_support.register_rewriters() == ()
assert state() == after, (state(), after)
'''
    run_python(code, repo_root)


def test_mmcv_roi_align_exports_through_mmdeploy(mmdeploy, tmp_path):
    """mmcv's RoIAlign (Mask R-CNN's RoI heads) exported by mmdeploy at
    opset 17 runs in ONNX Runtime and computes what mmcv computes. Needs two
    of the project's patches on torch >= 2.9: ``torchscript_exporter``
    (the dynamo exporter ignores mmdeploy's RoIAlign symbolic and fails,
    ``TorchExportError``) and ``cast_long_helper`` (that symbolic imports
    ``_cast_Long``, which torch removed: ``ImportError``)."""
    # mmdet.models: mmdeploy's rewriter context imports the functions it
    # rewrites (mmdet, and with it torchvision) on entry, and on this torch
    # its exit fails on the torch.fx wrappers those imports add; building
    # any model imports them first, so does this test.
    import mmdet.models  # noqa: F401
    import onnx
    import onnxruntime
    import torch
    from mmcv.ops import RoIAlign
    from mmdeploy.apis.onnx import export
    from mmdeploy.utils import load_config

    class RoIs(torch.nn.Module):

        def __init__(self):
            super().__init__()
            self.op = RoIAlign((3, 3), 0.5, sampling_ratio=0, aligned=True)

        def forward(self, features, rois):
            return self.op(features, rois)

    deploy_cfg = load_config(osp.join(
        PROJECT, 'configs', 'instance-seg_onnxruntime_dynamic.py'))[0]
    features = torch.randn(2, 4, 16, 16)
    rois = torch.tensor([[0, 1.0, 1.5, 20.0, 14.0], [1, 0.0, 3.0, 6.5, 30.0],
                         [1, 2.5, 2.5, 3.0, 3.0]])
    export(RoIs(), (features, rois), str(tmp_path / 'roi_align'),
           backend='onnxruntime', context_info=dict(deploy_cfg=deploy_cfg),
           input_names=['features', 'rois'], output_names=['output'],
           opset_version=17)
    graph = onnx.load(str(tmp_path / 'roi_align.onnx')).graph
    assert 'RoiAlign' in {node.op_type for node in graph.node}
    session = onnxruntime.InferenceSession(
        str(tmp_path / 'roi_align.onnx'),
        providers=['CPUExecutionProvider'])
    output, = session.run(None, dict(features=features.numpy(),
                                     rois=rois.numpy()))
    np.testing.assert_allclose(output, RoIs()(features, rois).numpy(),
                               rtol=1e-5, atol=1e-6)


def test_mmdeploy_worker_processes_load_the_project(mmdeploy, tmp_path,
                                                    repo_root):
    """mmdeploy's own tools export in a spawned worker process
    (``PIPELINE_MANAGER.enable_multiprocess``) that is handed the configs'
    paths: the deploy config's ``custom_imports`` alone give that process
    the project. Here the parent never imports it, and UperNet's export
    there succeeds (the TorchScript exporter) with the exact adaptive
    pooling (MatMul, no fixed-kernel AveragePool)."""
    deploy_cfg, model_cfg, _ = DEMO['segmentation']
    root = make_demo_data('ade20k', tmp_path / 'ADEChallengeData2016', 1, 1,
                          128)
    img = str(sorted((root / 'images' / 'validation').iterdir())[0])
    checkpoint = make_checkpoint(osp.join(REPO_ROOT, model_cfg),
                                 tmp_path / 'model.pth')
    code = f'''
import sys
import torch.multiprocessing as mp
from mmdeploy.apis import torch2onnx
from mmdeploy.apis.core import PIPELINE_MANAGER

mp.set_start_method('spawn', force=True)  # as mmdeploy's own deploy script
PIPELINE_MANAGER.enable_multiprocess(True, [torch2onnx])
torch2onnx({img!r}, {str(tmp_path)!r}, 'end2end.onnx',
           {osp.join(PROJECT, 'configs', deploy_cfg)!r},
           {osp.join(REPO_ROOT, model_cfg)!r}, {checkpoint!r}, 'cpu')
assert not any(name.startswith('projects') for name in sys.modules)
'''
    run_python(code, repo_root, timeout=600)
    import onnx
    ops = {node.op_type
           for node in onnx.load(str(tmp_path / 'end2end.onnx')).graph.node}
    assert 'MatMul' in ops and 'AveragePool' not in ops, ops


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
