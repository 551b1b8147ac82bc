"""The OpenVINO and reduced-precision backbone runtimes on a FasterNet-T0
in its deploy form: each agrees with eager PyTorch (fp32 to
PARITY_TOLERANCE, bf16 and int8 to PRECISION_TOLERANCE) at several input
sizes, really computes in the precision it names, and a missing package or
instruction set is one clear error."""
import sys

import pytest
import torch

from mmfasternet.deploy import switch_to_deploy
from mmfasternet.deploy.onnx import PARITY_TOLERANCE, relative_errors
from mmfasternet.deploy.runtime import (
    PRECISION_TOLERANCE,
    RUNTIME_PRECISION,
    BackboneRuntime,
    check_backbone_runtime,
    describe_report,
    missing_instruction_set,
    openvino_capabilities,
    openvino_runtime_precisions,
    runtime_module,
)
from tests.helpers import REPO_ROOT, trained_backbone

pytest.importorskip('onnxruntime')

SHAPES = ((2, 3, 64, 96), (1, 3, 96, 64))


def deploy_t0():
    return switch_to_deploy(trained_backbone('t0'))


def inputs(shapes, seed=1):
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(*shape, generator=generator) for shape in shapes]


def max_relative_error(got, expected):
    return max(float((a - b).abs().max()) / float(b.abs().max())
               for a, b in zip(got, expected))


def runnable(runtime):
    try:
        check_backbone_runtime(runtime)
    except (ImportError, RuntimeError) as error:
        pytest.skip(str(error))


def check_against_eager(runtime, backbone):
    """The runtime's outputs at every shape of SHAPES (the first prepares
    it; the others need its dynamic sizes) against eager PyTorch's; the
    largest error in the runtime's measure."""
    precision = RUNTIME_PRECISION[runtime.runtime]
    worst = 0.
    for x in inputs(SHAPES):
        with torch.no_grad():
            got, expected = runtime(x), backbone(x)
        assert isinstance(got, tuple) and len(got) == len(expected) == 4
        assert [a.shape for a in got] == [b.shape for b in expected]
        error = (max_relative_error(got, expected) if precision == 'fp32'
                 else max(relative_errors(got, expected, norm='l2')))
        worst = max(worst, error)
    return worst


def test_openvino_fp32_matches_eager_and_runs_in_f32():
    runnable('openvino')
    backbone = deploy_t0()
    runtime = BackboneRuntime(backbone, 'openvino')
    assert check_against_eager(runtime, backbone) <= PARITY_TOLERANCE
    report = runtime.report
    assert report['runtime'] == 'openvino' and report['precision'] == 'fp32'
    assert report['parity_error'] <= PARITY_TOLERANCE
    # OpenVINO's own default is bf16 on a CPU that has it: f32 is asked for
    convolutions = openvino_runtime_precisions(
        runtime._call.compiled)['Convolution']
    assert set(convolutions) == {'f32'}, convolutions


def test_openvino_bf16_within_its_tolerance_and_runs_in_bf16():
    runnable('openvino-bf16')
    backbone = deploy_t0()
    runtime = BackboneRuntime(backbone, 'openvino-bf16')
    error = check_against_eager(runtime, backbone)
    assert error <= PRECISION_TOLERANCE['bf16']
    assert error > PARITY_TOLERANCE  # it does round to bf16
    report = runtime.report
    assert report['precision'] == 'bf16'
    assert 'relative RMS error vs eager' in describe_report(report)
    convolutions = openvino_runtime_precisions(
        runtime._call.compiled)['Convolution']
    assert set(convolutions) == {'bf16'}, convolutions


@pytest.fixture(scope='module')
def int8_model(tmp_path_factory):
    """One INT8 model of the deploy-form T0, calibrated on 8 batches."""
    runnable('onnxruntime-int8')
    from mmfasternet.deploy.quantize import quantize_module
    path = str(tmp_path_factory.mktemp('int8') / 'backbone.int8.onnx')
    calibration = inputs([(1, 3, 64, 64)] * 8, seed=2)
    return quantize_module(deploy_t0(), path, calibration[0], calibration)


@pytest.mark.parametrize('name', ['onnxruntime-int8', 'openvino-int8'])
def test_int8_runtimes_within_their_tolerance(name, int8_model):
    runnable(name)
    backbone = deploy_t0()
    runtime = BackboneRuntime(backbone, name, int8_model=int8_model)
    error = check_against_eager(runtime, backbone)
    assert PARITY_TOLERANCE < error <= PRECISION_TOLERANCE['int8']
    assert runtime.report['precision'] == 'int8'
    assert runtime.report['parity_error'] <= PRECISION_TOLERANCE['int8']


def test_openvino_runs_the_qdq_model_in_int8(int8_model):
    """OpenVINO turns the QDQ pairs into INT8 convolutions: every
    convolution of the backbone runs in int8 (i8 / u8)."""
    runnable('openvino-int8')
    x = inputs([(1, 3, 64, 64)])[0]
    module = runtime_module(deploy_t0(), 'openvino-int8', x,
                            int8_model=int8_model)
    convolutions = openvino_runtime_precisions(module.compiled)['Convolution']
    assert set(convolutions) <= {'i8', 'u8'}, convolutions


def test_runtime_module_calibrates_when_given_batches():
    """Without a calibrated file, the int8 runtimes quantize on the given
    batches (here a small module returning one tensor, which stays one
    returning a tensor)."""
    runnable('onnxruntime-int8')
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.ReLU(),
        torch.nn.Conv2d(16, 8, 1)).eval()
    calibration = inputs([(1, 3, 32, 32)] * 4, seed=3)
    module = runtime_module(model, 'onnxruntime-int8', calibration[0],
                            calibration=calibration)
    x = inputs([(2, 3, 24, 40)], seed=4)[0]
    with torch.no_grad():
        got, expected = module(x), model(x)
    assert isinstance(got, torch.Tensor) and got.shape == expected.shape
    error = relative_errors([got], [expected], norm='l2')[0]
    assert error <= PRECISION_TOLERANCE['int8']
    with pytest.raises(ValueError, match='needs calibration batches'):
        runtime_module(model, 'onnxruntime-int8', x)
    with pytest.raises(ValueError, match='compare_runtimes.py'):
        BackboneRuntime(deploy_t0(), 'openvino-int8')


def test_calibration_ranges_cover_every_batch(tmp_path):
    """The input's quantization range spans all 20 batches, the largest
    values coming last (onnxruntime's option to hold fewer batches in
    memory drops batches; it is not used)."""
    runnable('onnxruntime-int8')
    import onnx
    from onnx import numpy_helper

    from mmfasternet.deploy.quantize import quantize_module
    model = torch.nn.Conv2d(3, 4, 1).eval()
    batches = [torch.full((1, 3, 4, 4), float(i)) for i in range(20)]
    batches[0][0, 0, 0, 0] = -1.
    path = quantize_module(model, str(tmp_path / 'int8.onnx'), batches[0],
                           batches)
    graph = onnx.load(path).graph
    node = next(n for n in graph.node
                if n.op_type == 'QuantizeLinear' and n.input[0] == 'input')
    values = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    scale, zero_point = (float(values[name]) for name in node.input[1:3])
    # uint8: [0, 255] maps to [-1, 19]
    assert scale * (0 - zero_point) == pytest.approx(-1, abs=scale)
    assert scale * (255 - zero_point) == pytest.approx(19, abs=scale)


def test_missing_instruction_sets_are_named():
    message = missing_instruction_set('openvino-bf16', ['FP32', 'INT8'])
    assert 'AVX512-BF16 or AMX-BF16' in message
    assert missing_instruction_set('openvino-bf16', ['BF16']) is None
    assert 'no INT8' in missing_instruction_set('openvino-int8', ['FP32'])
    assert missing_instruction_set('onnxruntime-int8') is None


def test_bf16_on_this_cpu_runs_or_is_refused_by_name():
    pytest.importorskip('openvino')
    if 'BF16' in openvino_capabilities():
        check_backbone_runtime('openvino-bf16')
        return
    with pytest.raises(RuntimeError,
                       match='openvino-bf16 backbone runtime cannot run here: '
                       'this CPU has no bf16 instructions .* use '
                       '--backbone-runtime openvino'):
        BackboneRuntime(deploy_t0(), 'openvino-bf16')


def test_a_missing_openvino_is_one_error_naming_pip(tmp_path, monkeypatch,
                                                   capsys):
    """openvino shadowed by a package that fails to import: the library
    names the pip command, and tools/test.py stops with that argparse
    error before the config's data or model is touched."""
    shim = tmp_path / 'shim' / 'openvino'
    shim.mkdir(parents=True)
    (shim / '__init__.py').write_text(
        "raise ImportError('no openvino here (test shim)')\n")
    monkeypatch.syspath_prepend(str(tmp_path / 'shim'))
    monkeypatch.delitem(sys.modules, 'openvino', raising=False)
    with pytest.raises(ImportError) as error:
        check_backbone_runtime('openvino-bf16')
    assert str(error.value) == (
        'the openvino-bf16 backbone runtime needs openvino (no openvino here '
        '(test shim)): pip install openvino (versions pinned in '
        'requirements/deploy.txt), or use --backbone-runtime eager.')

    from tests.helpers import load_tool
    config = f'{REPO_ROOT}/configs/demo/fasternet_t0_shapes_demo.py'
    with pytest.raises(SystemExit) as exit_:
        load_tool('test').main([config, 'none.pth', '--deploy',
                                '--backbone-runtime', 'openvino'])
    assert exit_.value.code == 2
    assert ('the openvino backbone runtime needs openvino (no openvino here'
            in capsys.readouterr().err)


def test_a_missing_onnxruntime_stops_the_int8_runtime(monkeypatch):
    monkeypatch.setitem(sys.modules, 'onnxruntime', None)
    with pytest.raises(ImportError,
                       match='needs onnxruntime .*pip install onnxruntime'):
        BackboneRuntime(deploy_t0(), 'onnxruntime-int8', int8_model='x')
