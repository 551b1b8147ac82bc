"""ONNX export (mmfasternet.deploy.onnx, tools/deployment/export_onnx.py):
the deploy form exports with dynamic batch/height/width, onnxruntime matches
PyTorch, and the graph stays small (no scatter/copy ops from an in-place
PConv)."""
import copy
import os.path as osp
import subprocess
import sys
from collections import OrderedDict

import pytest
import torch

from mmfasternet import FasterNet
from mmfasternet.deploy import switch_to_deploy
from tests.helpers import trained_backbone

onnx = pytest.importorskip('onnx')
pytest.importorskip('onnxruntime')

from mmfasternet.deploy.models import build_model  # noqa: E402
from mmfasternet.deploy.onnx import check_parity, export, graph_summary  # noqa: E402

# The original's in-place "slicing" PConv exports its x[:, :k] = conv(...)
# as index arithmetic plus a ScatterND per block.
INPLACE_COPY_OPS = {'ScatterND', 'ScatterElements', 'Scatter',
                    'ConstantOfShape', 'Range', 'Where', 'Expand'}
T0_BLOCKS = 1 + 2 + 8 + 2
# Two (batch, height, width) other than each other and the export example's.
SHAPES = [(1, 64, 96), (2, 96, 64)]




def assert_parity(path, model, shapes=SHAPES, channels_last=False):
    results = check_parity(str(path), model, shapes, channels_last)
    assert [r['shape'][:1] + r['shape'][2:] for r in results] == [
        tuple(s) for s in shapes]
    for result in results:
        assert result['ok'], result
        assert max(result['errors']) <= 1e-4
    return results


def test_backbone_deploy_matches_torch_at_dynamic_shapes(tmp_path):
    model = switch_to_deploy(trained_backbone())
    path = export(model, str(tmp_path / 't0.onnx'), shape=(64, 64))
    graph = onnx.load(path).graph
    assert [o.name for o in graph.output] == ['out0', 'out1', 'out2', 'out3']
    dims = [d.dim_param or d.dim_value
            for d in graph.input[0].type.tensor_type.shape.dim]
    assert dims == ['batch', 3, 'height', 'width']
    # Neither size nor batch is the 1 x 64 x 64 of the export example.
    assert_parity(path, model, SHAPES + [(3, 80, 112)])


def test_subset_of_outputs_without_norm(tmp_path):
    model = switch_to_deploy(
        trained_backbone(out_indices=(1, 3), out_norm=False))
    path = export(model, str(tmp_path / 't0.onnx'), shape=(64, 64))
    assert [o.name for o in onnx.load(path).graph.output] == ['out1', 'out3']
    summary = graph_summary(path)
    assert 'BatchNormalization' not in summary['ops']
    assert_parity(path, model)


def test_deploy_graph_is_compact(tmp_path):
    deployed = switch_to_deploy(trained_backbone())
    summary = graph_summary(
        export(deployed, str(tmp_path / 'deploy.onnx'), shape=(64, 96)))
    ops = summary['ops']
    assert not INPLACE_COPY_OPS & set(ops), ops
    # PConv's output is assembled once per block, so that the first 1x1
    # conv is one conv (onnxruntime runs it faster than two on slices)
    assert ops['Concat'] == T0_BLOCKS
    assert 'BatchNormalization' not in ops or ops['BatchNormalization'] == 4
    # Per block: 2 Slice (convolved / untouched channels), 1 Concat, 3 Conv
    # (3x3 and the two 1x1), 1 Add (the residual), GELU as Div, Erf, Add,
    # Mul, Mul: 12. Outside the blocks: stem, 3 mergings, 4 output norms: 8.
    # T0 measured 164 (307 with the Constant inputs of Slice and GELU, 11
    # per block).
    assert summary['compute_nodes'] <= 12 * T0_BLOCKS + 8
    assert summary['nodes'] <= 24 * T0_BLOCKS + 8
    assert ops['Conv'] == 3 * T0_BLOCKS + 4


def test_training_form_exports_too(tmp_path):
    model = trained_backbone()
    path = export(model, str(tmp_path / 'train.onnx'), shape=(64, 96))
    summary = graph_summary(path)
    # The exporter folds the blocks' BN into the convs; Split + Concat
    # build PConv's output (T0 measured 194 nodes, 151 without Constant).
    assert summary['ops']['Concat'] == T0_BLOCKS
    assert not INPLACE_COPY_OPS & set(summary['ops'])
    assert summary['compute_nodes'] <= 12 * T0_BLOCKS + 8
    assert_parity(path, model)


def test_channels_last_deploy_exports_the_same_compact_graph(tmp_path):
    """Whatever the traced memory format, the deploy form exports its conv
    formulation (the eager GEMM path would export as shape arithmetic)."""
    deployed = switch_to_deploy(trained_backbone())
    nchw = graph_summary(
        export(deployed, str(tmp_path / 'nchw.onnx'), shape=(64, 96)))
    model = deployed.to(memory_format=torch.channels_last)
    path = export(model, str(tmp_path / 'cl.onnx'), shape=(64, 96),
                  channels_last=True)
    summary = graph_summary(path)
    assert summary['ops'] == nchw['ops']
    assert 'Gemm' not in summary['ops'] and 'MatMul' not in summary['ops']
    assert_parity(path, model, channels_last=True)
    assert_parity(path, model, SHAPES[:1], channels_last=False)


def original_release(path, seed=1):
    """An original-layout ImageNet T0 checkpoint: backbone without output
    norms, the pre-head 1x1 conv and the linear head."""
    model = trained_backbone(out_norm=False)
    generator = torch.Generator().manual_seed(seed)
    state = OrderedDict((k, v.clone()) for k, v in model.state_dict().items()
                        if not k.startswith('norm'))
    state['avgpool_pre_head.1.weight'] = torch.randn(
        1280, 320, 1, 1, generator=generator) * 0.05
    state['head.weight'] = torch.randn(1000, 1280, generator=generator) * .05
    state['head.bias'] = torch.randn(1000, generator=generator)
    torch.save(state, path)
    return state


def test_classifier_logits_match(tmp_path):
    from mmpretrain.models import ImageClassifier
    model = build_model('t0', what='classifier')
    assert isinstance(model, ImageClassifier)
    assert isinstance(model.head.avgpool_pre_head[2], torch.nn.GELU)
    path = export(model, str(tmp_path / 'cls.onnx'), shape=(64, 64),
                  batch=2)
    assert [o.name for o in onnx.load(path).graph.output] == ['logits']
    results = assert_parity(path, model)
    assert results  # logits (N, 1000) at both shapes
    assert isinstance(
        build_model('s', what='classifier', deploy=False)
        .head.avgpool_pre_head[2], torch.nn.ReLU)


def test_classifier_loads_original_checkpoint(tmp_path):
    ckpt = tmp_path / 'fasternet_t0.pth'
    state = original_release(ckpt)
    model = build_model('t0', what='classifier', checkpoint=str(ckpt))
    torch.testing.assert_close(model.head.fc.weight, state['head.weight'])
    torch.testing.assert_close(model.head.fc.bias, state['head.bias'])
    torch.testing.assert_close(model.head.avgpool_pre_head[1].weight,
                               state['avgpool_pre_head.1.weight'])
    # An independent reference: the training-form backbone loaded from the
    # same file, with the head computed by hand.
    backbone = FasterNet(arch='t0', out_indices=(3, ), out_norm=False,
                         init_cfg=dict(type='Pretrained',
                                       checkpoint=str(ckpt)))
    backbone.init_weights()
    backbone.eval()
    x = torch.randn(2, 3, 64, 96)
    with torch.no_grad():
        pooled = backbone(x)[0].mean((2, 3))
        hidden = torch.nn.functional.gelu(
            pooled @ state['avgpool_pre_head.1.weight'].flatten(1).t())
        expected = hidden @ state['head.weight'].t() + state['head.bias']
        got = model(x)
    assert (got - expected).abs().max() <= 1e-4 * expected.abs().max()

    path = export(model, str(tmp_path / 'cls.onnx'), shape=(64, 64))
    assert_parity(path, model)
    import onnxruntime as ort
    session = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
    logits = torch.from_numpy(session.run(None, {'input': x.numpy()})[0])
    assert (logits - expected).abs().max() <= 1e-4 * expected.abs().max()


def test_classifier_needs_a_head_in_the_checkpoint(tmp_path):
    ckpt = tmp_path / 'backbone_only.pth'
    torch.save(trained_backbone(out_norm=False).state_dict(), ckpt)
    with pytest.raises(ValueError, match='classification head'):
        build_model('t0', what='classifier', checkpoint=str(ckpt))
    # The arch is inferred from the checkpoint when not given.
    assert build_model(checkpoint=str(ckpt)).arch['name'] == 't0'


def test_check_parity_reports_a_mismatch(tmp_path):
    model = switch_to_deploy(trained_backbone())
    path = export(model, str(tmp_path / 't0.onnx'), shape=(64, 64))
    other = copy.deepcopy(model)
    with torch.no_grad():
        other.stages[0].blocks[0].mlp_out_weight.mul_(1.5)
    results = check_parity(path, other, SHAPES[:1])
    assert not results[0]['ok']
    assert results[0]['errors'][0] > 1e-3


def test_cli_end_to_end(tmp_path, repo_root):
    out = tmp_path / 'sub' / 't0.onnx'
    result = subprocess.run(
        [sys.executable,
         osp.join(repo_root, 'tools', 'deployment', 'export_onnx.py'),
         '--arch', 't0', '--shape', '64', '64', '--check', str(out)],
        cwd=repo_root, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert out.is_file()
    assert 'opset 17' in result.stdout
    assert result.stdout.count('(ok,') == 2, result.stdout
    assert '(2, 3, 96, 32)' in result.stdout  # the second, dynamic shape


@pytest.mark.parametrize('deploy', [False, True])
def test_classifier_matches_timm_logits(tmp_path, deploy):
    """Random weights in timm's fasternet_t0, saved in timm's layout, give
    the same logits through mmfasternet's backbone + the original head."""
    timm = pytest.importorskip('timm')
    from tests.helpers import randomize_norm_stats
    torch.manual_seed(0)
    reference = randomize_norm_stats(
        timm.create_model('fasternet_t0', pretrained=False)).eval()
    path = tmp_path / 'timm_t0.pth'
    torch.save(reference.state_dict(), path)
    model = build_model('t0', what='classifier', checkpoint=str(path),
                        deploy=deploy)
    x = torch.randn(2, 3, 96, 96)
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(x), rtol=1e-5,
                                   atol=1e-5)
