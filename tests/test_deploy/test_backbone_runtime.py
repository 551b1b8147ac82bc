"""The backbone runtimes of ``tools/test.py --deploy``: onnxruntime and
auto agree with eager PyTorch, their choice and cost are reported, and a
runtime that disagrees or cannot run is an error, never a silent switch."""
import pytest
import torch
import torch.nn as nn

from mmfasternet import FasterNet
from mmfasternet.deploy import switch_to_deploy
from mmfasternet.deploy.onnx import PARITY_TOLERANCE
from mmfasternet.deploy.runtime import (
    AUTO_MARGIN,
    BackboneRuntime,
    describe_report,
    use_backbone_runtime,
)

pytest.importorskip('onnxruntime')


def deploy_t0():
    torch.manual_seed(0)
    return switch_to_deploy(FasterNet(arch='t0'))


def relative_error(got, expected):
    return max(float((a - b).abs().max()) / float(b.abs().max())
               for a, b in zip(got, expected))


def test_onnxruntime_backbone_matches_eager_at_every_input_size():
    backbone = deploy_t0()
    runtime = BackboneRuntime(backbone, 'onnxruntime')
    generator = torch.Generator().manual_seed(1)
    # the first batch exports; the others need the graph's dynamic sizes
    for shape in ((2, 3, 96, 128), (1, 3, 160, 96), (3, 3, 64, 64)):
        x = torch.randn(*shape, generator=generator)
        with torch.no_grad():
            got, expected = runtime(x), backbone(x)
        assert isinstance(got, tuple) and len(got) == len(expected) == 4
        for a, b in zip(got, expected):
            assert a.shape == b.shape
        assert relative_error(got, expected) <= PARITY_TOLERANCE
    report = runtime.report
    assert report['runtime'] == report['requested'] == 'onnxruntime'
    assert report['input_shape'] == (2, 3, 96, 128)
    assert report['setup_s'] > 0
    assert 0 <= report['parity_error'] <= PARITY_TOLERANCE
    assert 'candidate_ms' not in report


def test_auto_takes_onnxruntime_only_when_clearly_faster():
    runtime = BackboneRuntime(deploy_t0(), 'auto', timing_runs=2)
    x = torch.randn(1, 3, 128, 128)
    with torch.no_grad():
        runtime(x)
    report = runtime.report
    times = report['candidate_ms']
    assert set(times) == {'eager', 'onnxruntime'}
    clearly_faster = times['onnxruntime'] <= (1 - AUTO_MARGIN) * times[
        'eager']
    assert report['runtime'] == ('onnxruntime' if clearly_faster else
                                 'eager')
    assert report['reason'].startswith(
        'auto: onnxruntime at least 5% faster than eager on the first batch '
        '(eager ' if clearly_faster else
        'auto: nothing at least 5% faster than eager on the first batch '
        '(eager ')
    line = describe_report(report)
    assert report['runtime'] in line and 'first batch 1x3x128x128' in line


def test_compile_runtime_checks_and_reports_like_the_others():
    """The compile path (here with the aot_eager backend, which needs no
    C++ compiler): its first call compiles, is checked against eager and
    reported; inductor's own numerics are the deploy tests' concern."""
    backbone = deploy_t0()
    runtime = BackboneRuntime(backbone, 'compile', compile_backend='aot_eager')
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        got, expected = runtime(x), backbone(x)
    assert relative_error(got, expected) <= PARITY_TOLERANCE
    report = runtime.report
    assert report['runtime'] == report['requested'] == 'compile'
    assert report['setup_s'] > 0 and report['parity_error'] <= PARITY_TOLERANCE
    assert 'candidate_ms' not in report


def test_eager_runtime_is_the_backbone_itself():
    backbone = deploy_t0()
    runtime = BackboneRuntime(backbone, 'eager')
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        for a, b in zip(runtime(x), backbone(x)):
            assert torch.equal(a, b)
    assert runtime.report['runtime'] == 'eager'
    assert runtime.report['parity_error'] is None
    # one copy of the weights, under the wrapped backbone's names
    assert set(runtime.state_dict()) == {
        'module.' + key for key in backbone.state_dict()}


class Noisy(nn.Module):
    """Random noise in forward: every run differs from eager PyTorch."""

    def forward(self, x):
        return (x + torch.rand_like(x), )


def test_a_runtime_that_disagrees_with_eager_is_an_error():
    runtime = BackboneRuntime(Noisy(), 'onnxruntime')
    with pytest.raises(RuntimeError, match='differs from eager PyTorch') as e:
        runtime(torch.zeros(1, 3, 32, 32))
    assert '--backbone-runtime eager' in str(e.value)
    assert runtime.report == {}


def test_onnxruntime_refuses_an_input_off_the_cpu():
    runtime = BackboneRuntime(deploy_t0(), 'onnxruntime')
    with pytest.raises(RuntimeError, match='runs on the CPU.*meta'):
        runtime(torch.empty(1, 3, 64, 64, device='meta'))


def test_auto_off_the_cpu_keeps_eager_and_says_why():
    runtime = BackboneRuntime(Noisy(), 'auto')
    runtime._prepare(torch.empty(1, 3, 8, 8, device='meta'))
    assert runtime.report['runtime'] == 'eager'
    assert 'the model is on meta' in runtime.report['reason']


def test_unknown_runtime_and_models_without_backbone():
    with pytest.raises(ValueError,
                       match="unknown backbone runtime 'tensorrt'"):
        BackboneRuntime(nn.Identity(), 'tensorrt')
    with pytest.raises(ValueError, match='Linear has no backbone module'):
        use_backbone_runtime(nn.Linear(2, 2), 'auto')


def test_use_backbone_runtime_on_a_detector_with_a_resnet():
    """Any backbone exports: mmdet's ResNet inside a whole detector, whose
    predictions stay those of the eager model."""
    from mmfasternet.engine.tasks import (
        build_model_from_config,
        model_inputs,
        read_config,
    )

    # score threshold 0: random weights still give detections to compare
    cfg = read_config('mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py',
                      dict(model=dict(test_cfg=dict(rcnn=dict(
                          score_thr=0.0, max_per_img=100)))))
    model = build_model_from_config(cfg).eval()
    inputs, samples = model_inputs('detection', 1, (128, 160),
                                   torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = model.predict(inputs, samples)[0].pred_instances
        wrapped = use_backbone_runtime(model, 'onnxruntime')
        got = model.predict(inputs, samples)[0].pred_instances
    assert model.backbone is wrapped and wrapped.report['runtime'] == (
        'onnxruntime')
    assert len(expected) > 0
    torch.testing.assert_close(got.bboxes, expected.bboxes, rtol=0,
                               atol=1e-2)
    torch.testing.assert_close(got.scores, expected.scores, rtol=0,
                               atol=1e-4)
    # wrapping again replaces the runtime, never wraps a wrapper
    again = use_backbone_runtime(model, 'eager')
    assert again.module is wrapped.module


def test_the_documented_inferencer_route(repo_root, tmp_path):
    """docs/deployment.md: load the weights into an inferencer's model
    under the tools' loading rule (a checkpoint of another model is
    refused), switch the model to its deploy form and its backbone to
    onnxruntime; the predictions stay the same."""
    import numpy as np
    from mmseg.apis import MMSegInferencer

    from mmfasternet.models.utils import (
        CheckpointMismatchError,
        load_whole_model,
    )
    torch.manual_seed(0)
    config = f'{repo_root}/configs/demo/fpn_fasternet_t0_shapes_demo.py'
    trained = MMSegInferencer(config, device='cpu').model.state_dict()
    torch.save(dict(state_dict=trained), tmp_path / 'model.pth')
    other = dict(trained)
    other['decode_head.conv_seg.weight'] = torch.zeros(7, 128, 1, 1)
    torch.save(dict(state_dict=other), tmp_path / 'other.pth')
    inferencer = MMSegInferencer(config, device='cpu')
    with pytest.raises(CheckpointMismatchError, match='7, 128, 1, 1'):
        load_whole_model(inferencer.model, str(tmp_path / 'other.pth'))
    load_whole_model(inferencer.model, str(tmp_path / 'model.pth'))
    image = np.random.default_rng(0).integers(0, 256, (96, 128, 3),
                                              dtype=np.uint8)

    def logits():
        result = inferencer(image, return_datasamples=True)
        return result.seg_logits.data

    expected = logits()
    switch_to_deploy(inferencer.model)
    backbone = use_backbone_runtime(inferencer.model, 'onnxruntime')
    got = logits()
    assert backbone.report['runtime'] == 'onnxruntime'
    assert got.shape == expected.shape == (4, 96, 128)
    assert float((got - expected).abs().max()) <= 1e-4 * float(
        expected.abs().max())


def test_deploy_hook_from_a_config_checks_its_runtime():
    from mmengine.registry import HOOKS

    import mmfasternet.engine.hooks  # noqa: F401  (registers DeployHook)
    hook = HOOKS.build(dict(type='DeployHook', backbone_runtime='eager'))
    assert hook.backbone_runtime == 'eager' and hook.report == {}
    assert HOOKS.build(dict(type='DeployHook')).backbone_runtime == 'auto'
    with pytest.raises(ValueError, match="unknown backbone runtime 'trt'"):
        HOOKS.build(dict(type='DeployHook', backbone_runtime='trt'))


def test_onnxruntime_missing_is_one_error_before_any_work(monkeypatch,
                                                          capsys):
    """Without onnxruntime: the hook, the wrapper and tools/test.py (an
    argparse error, before the config's data or model is touched) say what
    to install or use instead."""
    import sys

    from mmengine.registry import HOOKS

    import mmfasternet.engine.hooks  # noqa: F401  (registers DeployHook)
    from tests.helpers import REPO_ROOT, load_tool
    monkeypatch.setitem(sys.modules, 'onnxruntime', None)
    with pytest.raises(ImportError, match='requirements/deploy.txt'):
        HOOKS.build(dict(type='DeployHook', backbone_runtime='onnxruntime'))
    with pytest.raises(ImportError, match='--backbone-runtime eager'):
        BackboneRuntime(deploy_t0(), 'onnxruntime')
    # auto falls back to eager and says why
    runtime = BackboneRuntime(deploy_t0(), 'auto')
    with torch.no_grad():
        runtime(torch.randn(1, 3, 32, 32))
    assert runtime.report['reason'] == 'auto: onnxruntime is not installed'
    config = f'{REPO_ROOT}/configs/maskrcnn_fasternet_t0_coco.py'
    with pytest.raises(SystemExit) as error:
        load_tool('test').main([config, 'none.pth', '--deploy',
                                '--backbone-runtime', 'onnxruntime'])
    assert error.value.code == 2
    assert 'needs onnxruntime' in capsys.readouterr().err
