"""The user tools of tools/analysis_tools/ run as a user runs them:
get_flops.py counts the model zoo's params and FLOPs, demo_backbone.py is
``make demo-backbone``."""
import os.path as osp
import sys

from tests.helpers import REPO_ROOT, load_tool, run

ANALYSIS_TOOLS = osp.join('tools', 'analysis_tools')


def run_tool(*args):
    return run([sys.executable, *args], cwd=REPO_ROOT)


def count_flops(*args, **kwargs):
    return load_tool('analysis_tools/get_flops').count_flops(*args, **kwargs)


def test_flops_of_the_documented_classifier():
    """The README's T0 classifier: 3,905,500 parameters, 0.34 GFLOPs at
    the default 224x224."""
    result = count_flops(
        osp.join(REPO_ROOT, 'configs', 'fasternet_t0_imagenet.py'))
    assert result['task'] == 'classification'
    assert result['shape'] == (224, 224)
    assert result['params'] == 3905500
    assert round(result['flops'] / 1e9, 2) == 0.34
    assert 0 < result['backbone_flops'] < result['flops']
    assert result['proposals'] is None


def test_flops_of_a_detector_follow_the_proposals():
    """The RPN keeps exactly the asked number of proposals: more proposals,
    more head FLOPs, the same backbone FLOPs."""
    path = osp.join(REPO_ROOT, 'configs', 'maskrcnn_fasternet_t0_coco.py')
    few, more = (count_flops(path, (64, 64), proposals)
                 for proposals in (5, 20))
    assert few['params'] == more['params']
    assert round(few['params'] / 1e6, 2) == 22.27  # the README's table
    assert few['backbone_flops'] == more['backbone_flops']
    assert few['flops'] < more['flops']
    assert (few['proposals'], more['proposals']) == (5, 20)


def test_get_flops_takes_installed_library_configs():
    """The README's reference row, mmdet's ResNet-50 Mask R-CNN named as
    ``mmdet::...``: 44.40 M parameters."""
    log = run_tool(osp.join(ANALYSIS_TOOLS, 'get_flops.py'),
                   'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py',
                   '--shape', '64', '--proposals', '10')
    assert '(detection)' in log and 'input:    1x3x64x64' in log
    assert 'params:   44.40 M' in log
    assert 'counted with 10 RPN proposals per image' in log


def test_demo_backbone():
    """``make demo-backbone``, tiny: the README's backbone parameter counts
    and an identical round trip through the original layout."""
    log = run_tool(osp.join(ANALYSIS_TOOLS, 'demo_backbone.py'), '--size',
                   '32', '--repeats', '1', '--threads', '1')
    params = {line.split()[0]: line.split()[1] for line in log.splitlines()
              if line.split() and line.split()[0] in
              ('t0', 't1', 't2', 's', 'm', 'l')}
    assert params == dict(t0='2,214,900', t1='5,659,008', t2='12,718,848',
                          s='28,589,312', m='50,765,904', l='90,218,112')
    assert 'outputs identical: True' in log
