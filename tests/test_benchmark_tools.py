"""Smoke runs of the benchmark scripts with tiny settings, so they do not
rot. They time nothing that is asserted: speed is reported, not tested."""
import json
import os.path as osp
import subprocess
import sys

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def run_tool(*args, cwd=REPO):
    result = subprocess.run([sys.executable, *args], capture_output=True,
                            text=True, cwd=cwd, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def test_backbone_benchmark_and_plot(tmp_path):
    out = tmp_path / 'backbone.json'
    log = run_tool('tools/benchmark.py', 'backbone', '--archs', 't0', 's',
                   '--shape', '64', '64', '--warmup', '1', '--repeats', '2',
                   '--threads', '1', '--onnxruntime', '--json', str(out))
    result = json.loads(out.read_text())
    forms = {(row['model'], row['form']) for row in result['rows']}
    assert ('resnet50', 'BN folded') in forms
    for arch in ('T0', 'S'):
        for form in ('paper protocol', 'deploy', 'deploy, onnxruntime CPU'):
            assert (f'FasterNet-{arch}', form) in forms
    deploy = [r for r in result['rows'] if r['form'] == 'deploy']
    assert all('speedup_vs_paper_protocol' in r and 'speedup_vs_resnet50' in r
               for r in deploy)
    assert 'paper_protocol x' in log
    png = tmp_path / 'plot.png'
    run_tool('tools/plot_speed_accuracy.py', str(out), '--out', str(png))
    assert png.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


def test_model_benchmark_on_a_detector(tmp_path):
    out = tmp_path / 'model.json'
    run_tool('tools/benchmark.py', 'model',
             'configs/maskrcnn_fasternet_t0_coco.py', '--shape', '64', '64',
             '--warmup', '0', '--repeats', '1', '--threads', '2', '--json',
             str(out))
    rows = json.loads(out.read_text())['rows']
    assert [row['form'] for row in rows] == ['eval', 'deploy']
    assert all(row['backbone_ms'] > 0 and row['images_per_s'] > 0
               for row in rows)


def test_operator_benchmark(tmp_path):
    out = tmp_path / 'ops.json'
    log = run_tool('tools/benchmark_ops.py', '--warmup', '0', '--repeats',
                   '1', '--threads', '2', '--json', str(out))
    rows = json.loads(out.read_text())['rows']
    assert len(rows) == 16
    pconv = [r for r in rows if r['operator'] == 'PConv']
    conv = [r for r in rows if r['operator'] == 'Conv']
    # FLOPs are analytic: PConv is 1/16 of the full conv.
    for p, c in zip(pconv, conv):
        assert abs(p['gflops'] * 16 - c['gflops']) < 1e-9
    assert 'x DWConv' in log
