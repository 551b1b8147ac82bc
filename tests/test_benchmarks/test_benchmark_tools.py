"""The benchmark commands with tiny settings: the ratios they print and
write are the ratios of their own rows. The first ``benchmarks.benchmark``
command runs as a user runs it (``python -m`` from the repository root),
the others as its ``main`` in the test process
(``tests.helpers.run_benchmark``). Speed is reported, not tested: no
assertion depends on how fast anything ran."""
import json
import os.path as osp
import subprocess
import sys

import pytest

from tests.helpers import REPO_ROOT, load_tool, run_benchmark

BENCHMARK = ('-m', 'benchmarks.benchmark')


def run_tool(*args):
    result = subprocess.run([sys.executable, *args], capture_output=True,
                            text=True, cwd=REPO_ROOT, timeout=600)
    assert result.returncode == 0, (result.stdout[-3000:] +
                                    result.stderr[-3000:])
    return result.stdout


def printed_ratios(log):
    """``{'<name> <form>': {baseline: value}}`` from the ``ratios:``
    section the benchmark prints, values as printed (2 decimals, without
    the interval printed after them)."""
    section = log.split('\nratios:\n', 1)[1]
    ratios = {}
    for line in section.splitlines():
        if not line.startswith('  '):
            break
        head, values = line.strip().split(': ', 1)
        ratios[head] = {}
        for value in values.split(', '):
            name, number = value.split(' x', 1)
            ratios[head][name] = number.split()[0]
    return ratios


def assert_consistent(row, batch):
    assert row['images_per_s'] == pytest.approx(
        batch * 1e3 / row['ms_per_batch'], rel=1e-9)


def test_backbone_benchmark_ratios_are_those_of_its_rows(tmp_path):
    out = tmp_path / 'backbone.json'
    log = run_tool(*BENCHMARK, 'backbone', '--archs', 't0', 's', '--shape',
                   '64', '64', '--warmup', '1', '--repeats', '2',
                   '--threads', '1', '--onnxruntime', '--json', str(out))
    rows = json.loads(out.read_text())['rows']
    by_form = {(row['model'], row['form']): row for row in rows}
    ort = ', onnxruntime CPU'
    assert set(by_form) == {('resnet50', 'BN folded'),
                            ('resnet50', 'BN folded' + ort)} | {
        (f'FasterNet-{arch}', form + runtime) for arch in ('T0', 'S')
        for form in ('paper protocol', 'deploy') for runtime in ('', ort)}
    resnet = by_form['resnet50', 'BN folded']
    assert not any(key.startswith('speedup') for key in resnet)
    printed = printed_ratios(log)
    expected_lines = set()
    for row in rows:
        assert_consistent(row, batch=1)
        if row is resnet:
            continue
        runtime = ort if row['form'].endswith(ort) else ''
        form = row['form'][:len(row['form']) - len(runtime)]
        expected = {}
        if runtime:  # the same form in eager PyTorch
            expected['eager'] = row['images_per_s'] / by_form[
                row['model'], form]['images_per_s']
        if row['model'] != 'resnet50':  # ResNet-50 in the same runtime
            expected['resnet50'] = row['images_per_s'] / by_form[
                'resnet50', 'BN folded' + runtime]['images_per_s']
        if form == 'deploy':  # the paper protocol in the same runtime
            expected['paper_protocol'] = row['images_per_s'] / by_form[
                row['model'], 'paper protocol' + runtime]['images_per_s']
        written = {key[len('speedup_vs_'):]: value
                   for key, value in row.items()
                   if key.startswith('speedup_vs_')}
        assert written == pytest.approx(expected, rel=1e-12)
        line = f'{row["model"]} {row["form"]}'
        assert printed[line] == {key: f'{value:.2f}'
                                 for key, value in expected.items()}
        expected_lines.add(line)
    assert set(printed) == expected_lines

    png = tmp_path / 'plot.png'
    run_tool('-m', 'benchmarks.plot_speed_accuracy', str(out), '--out',
             str(png))
    assert png.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


def test_model_benchmark_ratios_against_the_last_config(tmp_path):
    """One config per task; every row is compared with the last row (the
    classifier's deploy form)."""
    out = tmp_path / 'model.json'
    configs = ['configs/maskrcnn_fasternet_t0_coco.py',
               'configs/fpn_fasternet_t0_ade20k.py',
               'configs/demo/fasternet_t0_shapes_demo.py']
    log = run_benchmark('model', *configs, '--shape', '64', '64',
                        '--warmup', '0', '--repeats', '1', '--threads', '2',
                        '--json', str(out))
    rows = json.loads(out.read_text())['rows']
    assert [(row['config'], row['task'], row['form']) for row in rows] == [
        (config, task, form)
        for config, task in zip(configs, ('detection', 'segmentation',
                                          'classification'))
        for form in ('eval', 'deploy')]
    last = rows[-1]
    assert 'speedup_vs_last_config' not in last
    printed = printed_ratios(log)
    counted = load_tool('analysis_tools/get_flops').count_flops(
        configs[-1], (64, 64))
    for row in rows:
        # parts of the same timed calls: backbone <= + neck <= whole
        assert 0 < row['backbone_ms'] <= row['backbone_and_neck_ms'] <= (
            row['ms_per_batch'])
        assert 0 <= row['head_share'] < 1
        assert row['ci_ms'][0] <= row['ms_per_batch'] <= row['ci_ms'][1]
        assert row['flops'] > row['backbone_flops'] > 0
        assert row['params'] > row['backbone_params'] > 0
        if row['config'] == configs[-1]:
            for key in ('params', 'flops', 'backbone_params',
                        'backbone_flops'):
                assert row[key] == counted[key]
    assert 'params and FLOPs' in log
    for row in rows[:-1]:
        assert_consistent(row, batch=1)
        expected = row['images_per_s'] / last['images_per_s']
        assert row['speedup_vs_last_config'] == pytest.approx(expected,
                                                              rel=1e-12)
        low, high = row['speedup_vs_last_config_ci']  # one round: the ratio
        assert low == pytest.approx(expected) == high
        line = f'{osp.basename(row["config"])} {row["form"]}'
        assert printed[line] == dict(last_config=f'{expected:.2f}')
    assert len(printed) == len(rows) - 1


def test_model_benchmark_with_backbone_runtimes(tmp_path):
    """Each config also runs with its backbone in onnxruntime; those rows
    are compared with the baseline in the same runtime and with the
    baseline in eager PyTorch, and every printed ratio is its rows'."""
    pytest.importorskip('onnxruntime')
    out = tmp_path / 'model.json'
    configs = ['configs/fpn_fasternet_t0_ade20k.py',
               'mmseg::sem_fpn/fpn_r50_4xb4-160k_ade20k-512x512.py']
    log = run_benchmark('model', *configs, '--shape', '64', '64',
                        '--backbone-runtimes', 'onnxruntime', '--warmup', '0',
                        '--repeats', '1', '--threads', '2', '--json', str(out))
    rows = json.loads(out.read_text())['rows']
    assert [(row['config'], row['form'], row['runtime']) for row in rows] == [
        (configs[0], 'eval', 'eager'), (configs[0], 'deploy', 'eager'),
        (configs[0], 'deploy + onnxruntime backbone', 'onnxruntime'),
        (configs[1], 'eval', 'eager'),
        (configs[1], 'eval + onnxruntime backbone', 'onnxruntime')]
    for row in rows:
        if row['runtime'] == 'onnxruntime':
            report = row['backbone_runtime']
            assert report['runtime'] == 'onnxruntime'
            assert report['parity_error'] <= 1e-4
    baseline_eager, baseline_ort = rows[3], rows[4]
    printed = printed_ratios(log)
    for row in rows[:3]:
        same = baseline_ort if row['runtime'] == 'onnxruntime' else (
            baseline_eager)
        expected = dict(
            last_config=row['images_per_s'] / same['images_per_s'])
        if row['runtime'] == 'onnxruntime':
            expected['last_config_eager'] = (
                row['images_per_s'] / baseline_eager['images_per_s'])
        for key, value in expected.items():
            assert row[f'speedup_vs_{key}'] == pytest.approx(value,
                                                            rel=1e-12)
        line = f'{osp.basename(row["config"])} {row["form"]}'
        assert printed[line] == {k: f'{v:.2f}' for k, v in expected.items()}
    assert 'speedup_vs_last_config' not in baseline_ort
    assert baseline_ort['speedup_vs_last_config_eager'] == pytest.approx(
        baseline_ort['images_per_s'] / baseline_eager['images_per_s'])


def test_operator_benchmark(tmp_path):
    out = tmp_path / 'ops.json'
    log = run_tool('-m', 'benchmarks.operators', '--warmup', '0',
                   '--repeats', '1', '--threads', '2', '--json', str(out))
    rows = json.loads(out.read_text())['rows']
    assert [(row['shape'], row['operator']) for row in rows] == [
        (shape, operator)
        for shape in ('96x56x56', '192x28x28', '384x14x14', '768x7x7')
        for operator in ('Conv', 'GConv', 'DWConv', 'PConv')]
    dwconv = {row['shape']: row for row in rows if row['operator'] == 'DWConv'}
    printed = [line.split() for line in log.splitlines()[2:]]
    assert len(printed) == len(rows)
    for row, line in zip(rows, printed):
        channels, height, width = map(int, row['shape'].split('x'))
        groups = dict(Conv=1, GConv=16, DWConv=channels, PConv=16)
        # 10 layers of a 3x3 conv; PConv convolves a quarter of the channels
        assert row['gflops'] * 1e9 == pytest.approx(
            10 * height * width * 9 * channels**2 / groups[row['operator']])
        assert row['gflops_per_s'] == pytest.approx(
            row['gflops'] / row['latency_ms'] * 1e3, rel=1e-9)
        ratio = row['gflops_per_s'] / dwconv[row['shape']]['gflops_per_s']
        assert row['flops_vs_dwconv'] == pytest.approx(ratio, rel=1e-12)
        assert line[0] == row['operator'] and line[-1] == f'{ratio:.2f}'


def test_detectors_with_any_backbone_do_the_same_head_work():
    """The model benchmark's default for detectors: with the prediction
    layers zeroed, FasterNet and ResNet-50 Mask R-CNNs keep exactly the
    same detections (so their heads do equal work)."""
    import torch

    from benchmarks.inference import build_for_inference
    from mmfasternet.engine.tasks import model_inputs
    inputs, samples = model_inputs('detection', 1, (96, 128))
    detections = []
    for config in (osp.join(REPO_ROOT, 'configs',
                            'maskrcnn_fasternet_t0_coco.py'),
                   'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'):
        model, task = build_for_inference(config)
        assert task == 'detection'
        with torch.no_grad():
            (result, ) = model.predict(inputs, samples)
        detections.append(result.pred_instances)
    ours, resnet = detections
    assert len(ours) == len(resnet) == 100
    assert torch.equal(ours.bboxes, resnet.bboxes)
    assert torch.equal(ours.labels, resnet.labels)
    assert torch.equal(ours.masks, resnet.masks)


def test_traffic_tool_and_counter():
    """Per-image counts do not depend on the batches they are counted at,
    both forms do the same FLOPs (the deploy form is the same math), and
    the deploy form makes no concatenated copy."""
    from benchmarks.traffic import backbone_traffic, main
    args = dict(arch='t0', shape=(64, 64), dtype='fp32', channels_last=True)
    big = backbone_traffic(batch=256, **args)
    one = backbone_traffic(batch=1, **args)
    for form in ('paper', 'deploy'):
        assert big[form]['bytes'] < one[form]['bytes']  # weights amortised
        assert big[form]['bytes'] - big[form]['weight_bytes'] == (
            pytest.approx(one[form]['bytes'] - one[form]['weight_bytes']))
        assert big[form]['flops'] == one[form]['flops']
        assert big[form]['memory_ceiling'] == pytest.approx(
            4.8e12 / big[form]['bytes'])
    assert big['deploy']['flops'] == pytest.approx(big['paper']['flops'],
                                                   rel=1e-3)
    assert 'cat' in big['paper']['ops'] and 'cat' not in big['deploy']['ops']
    printed = main(
        ['--arch', 't0', '--shape', '64', '64', '--dtype', 'fp32',
         '--channels-last'])
    assert printed['paper']['bytes'] == pytest.approx(big['paper']['bytes'])


def test_backbone_benchmark_profiles_both_forms(tmp_path):
    out = tmp_path / 'profile.json'
    log = run_benchmark('backbone', '--archs', 't0', '--baselines',
                        '--threads', '2', '--batch', '2', '--shape', '64',
                        '64', '--warmup', '1', '--repeats', '2',
                        '--channels-last', '--profile', '4', '--json',
                        str(out))
    rows = json.loads(out.read_text())['rows']
    assert [row['form'] for row in rows] == ['paper protocol', 'deploy']
    for row in rows:
        assert len(row['profile']) == 4
        times = [op['self_ms'] for op in row['profile']]
        assert all(t > 0 for t in times) and times == sorted(times)[::-1]
        assert row['profile_ms'] >= sum(times)
    # the deploy form's time is in GEMMs, the paper protocol has none
    assert any('addmm' in op['op'] for op in rows[1]['profile'])
    assert not any('addmm' in op['op'] for op in rows[0]['profile'])
    assert 'deploy: ' in log and 'of CPU time per batch' in log


def test_model_benchmark_refuses_backbone_only_options():
    from benchmarks.benchmark import parse_args
    for option in (['--dtype', 'bf16'], ['--compile']):
        with pytest.raises(SystemExit):
            parse_args(['model', 'configs/maskrcnn_fasternet_t0_coco.py',
                        *option])
    args = parse_args(['model', 'configs/maskrcnn_fasternet_t0_coco.py',
                       '--channels-last'])
    assert args.channels_last
