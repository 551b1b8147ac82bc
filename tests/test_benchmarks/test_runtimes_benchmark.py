"""``python -m benchmarks.benchmark runtimes`` and its statistics: one row
per (model, runtime, precision) with the documented keys, every runtime
the machine offers (the others named as left out), and ratios and
intervals that are those of the rows' own times. No assertion depends on
how fast anything ran."""
import json

import numpy as np
import pytest

from benchmarks.intervals import median_interval, ratio_interval, same_within
from benchmarks.runtimes import RUNTIMES, available_runtimes
from tests.test_benchmarks.test_benchmark_tools import BENCHMARK, run_tool

ROW_KEYS = {'model', 'runtime', 'precision', 'backbone_runtime', 'median_ms',
            'ci_ms', 'images_per_s', 'parity_error', 'parity_ok', 'times_ms'}


def test_intervals_of_known_rounds():
    times = [10.0, 11.0, 12.0, 13.0, 14.0]
    low, high = median_interval(times)
    assert 10.0 <= low <= 12.0 <= high <= 14.0
    # a row exactly twice as slow in every round: the ratio is 2 in every
    # resample of the paired rounds
    assert ratio_interval([2 * t for t in times], times) == (2.0, 2.0)
    assert not same_within((1.1, 1.3)) and same_within((0.9, 1.2))
    with pytest.raises(ValueError, match='same number of rounds'):
        ratio_interval(times, times[:-1])


def test_runtimes_subcommand_rows_and_ratios(tmp_path):
    # The runtimes subcommands run in processes of their own: after they ran
    # OpenVINO inside a pytest-xdist worker, the worker died in a later test.
    out = tmp_path / 'runtimes.json'
    log = run_tool(*BENCHMARK, 'runtimes', '--arch', 't0', '--shape', '64',
                   '64', '--rounds', '3', '--warmup', '1', '--calib-images',
                   '2', '--threads', '1', '--json', str(out))
    result = json.loads(out.read_text())
    present, skipped = available_runtimes()
    assert set(result['skipped']) == set(skipped)
    for runtime, why in skipped.items():
        assert f'left out {runtime}' in log and why
    assert {'cpu', 'cpu_flags', 'cores'} <= set(result['machine'])
    assert result['versions']['torch']
    assert result['command'].startswith('python -m benchmarks.benchmark '
                                        'runtimes --arch t0')
    assert 'random' in result['calibration']
    rows = result['rows']
    assert [(r['model'], r['backbone_runtime']) for r in rows] == [
        (model, runtime) for model in ('FasterNet-T0', 'resnet50')
        for runtime in RUNTIMES if runtime in present]
    by_key = {(r['model'], r['backbone_runtime']): r for r in rows}
    for row in rows:
        assert ROW_KEYS <= set(row)
        assert row['runtime'] in ('eager', 'onnxruntime', 'openvino')
        assert row['precision'] in ('fp32', 'bf16', 'int8')
        assert len(row['times_ms']) == 3
        assert row['median_ms'] == pytest.approx(np.median(row['times_ms']))
        assert row['ci_ms'][0] <= row['median_ms'] <= row['ci_ms'][1]
        eager = by_key[row['model'], 'eager']
        if row is eager:
            assert 'vs_eager_fp32' not in row
        else:
            ratio = row['vs_eager_fp32']
            assert ratio['speedup'] == pytest.approx(
                eager['median_ms'] / row['median_ms'])
            assert ratio['no_measurable_difference'] == same_within(
                ratio['ci'])
        if row['model'] == 'resnet50':
            assert 'vs_baseline' not in row
        else:
            baseline = by_key['resnet50', row['backbone_runtime']]
            assert row['vs_baseline']['speedup'] == pytest.approx(
                baseline['median_ms'] / row['median_ms'])
        if row['precision'] == 'fp32':
            assert row['parity_ok'], row
    assert 'vs baseline x' in log and 'vs eager fp32 x' in log


def test_calibration_from_a_folder_of_images(tmp_path):
    from PIL import Image

    from benchmarks.runtimes import calibration_images
    for i in range(3):
        Image.new('RGB', (40 + i, 30), (10 * i, 20, 30)).save(
            tmp_path / f'{i}.jpg')
    images, text = calibration_images(str(tmp_path), 2, (16, 24))
    assert len(images) == 2 and images[0].shape == (1, 3, 16, 24)
    assert '0.jpg, 1.jpg' in text
    with pytest.raises(FileNotFoundError):
        calibration_images(str(tmp_path / 'missing_images'), 2, (16, 24))


def test_whole_model_runtimes(tmp_path):
    """``--whole-model``: each config's whole detector with its backbone in
    each runtime, the baseline (here the same config, named apart) in the
    same runtimes; the ratios are those of the rows' own rounds."""
    pytest.importorskip('onnxruntime')
    out = tmp_path / 'whole.json'
    demo = 'configs/demo/maskrcnn_fasternet_t0_shapes_demo.py'
    log = run_tool(*BENCHMARK, 'runtimes', '--whole-model', '--config', demo,
                   '--baseline-config', demo, '--runtimes', 'eager',
                   'onnxruntime', '--shape', '64', '64', '--rounds', '2',
                   '--warmup', '0', '--threads', '1', '--json', str(out))
    result = json.loads(out.read_text())
    assert result['settings']['whole_model']
    assert '--whole-model' in result['command']
    name = 'maskrcnn_fasternet_t0_shapes_demo.py'
    baseline = name + ' (baseline)'
    rows = result['rows']
    assert [(r['model'], r['backbone_runtime']) for r in rows] == [
        (model, runtime) for model in (name, baseline)
        for runtime in ('eager', 'onnxruntime')]
    by_key = {(r['model'], r['backbone_runtime']): r for r in rows}
    for row in rows:
        assert ROW_KEYS <= set(row) and len(row['times_ms']) == 2
        assert row['parity_ok'], row
        if row['model'] == name:
            other = by_key[baseline, row['backbone_runtime']]
            assert row['vs_baseline']['speedup'] == pytest.approx(
                other['median_ms'] / row['median_ms'])
        else:
            assert 'vs_baseline' not in row
    assert f'(baseline {baseline})' in log
