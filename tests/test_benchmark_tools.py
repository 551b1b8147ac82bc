"""Smoke runs of the benchmark scripts with tiny settings, so they do not
rot. They time nothing that is asserted: speed is reported, not tested."""
import json
import os.path as osp
import subprocess
import sys

import pytest

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


def test_detectors_with_any_backbone_do_the_same_head_work():
    """The model benchmark's default for detectors: with the prediction
    layers zeroed, FasterNet and ResNet-50 Mask R-CNNs keep exactly the
    same proposals-derived detections (so their heads do equal work)."""
    import argparse

    import torch
    sys.path.insert(0, osp.join(REPO, 'tools'))
    from benchmark import build_for_inference, model_inputs
    args = argparse.Namespace(shape=(96, 128), batch=1, real_heads=False)
    inputs, samples = model_inputs('detection', args)
    detections = []
    for config in (osp.join(REPO, 'configs', 'maskrcnn_fasternet_t0_coco.py'),
                   'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'):
        model, _ = build_for_inference(config, args)
        with torch.no_grad():
            (result, ) = model.predict(inputs, samples)
        detections.append(result.pred_instances)
    ours, resnet = detections
    assert len(ours) == len(resnet) == 100
    assert torch.equal(ours.bboxes, resnet.bboxes)
    assert torch.equal(ours.labels, resnet.labels)
    assert torch.equal(ours.masks, resnet.masks)


def test_traffic_counter():
    """tools/traffic.py: per-image counts do not depend on the batches it
    counts at, both forms do the same FLOPs (the deploy form is the same
    math), and the deploy form makes no concatenated copy."""
    sys.path.insert(0, osp.join(REPO, 'tools'))
    import traffic
    args = ['--arch', 't0', '--shape', '64', '64', '--dtype', 'fp32',
            '--channels-last']
    big = traffic.main(args + ['--batch', '256'])
    one = traffic.main(args + ['--batch', '1'])
    for form in ('paper', 'deploy'):
        assert big[form]['bytes'] < one[form]['bytes']  # weights amortised
        assert big[form]['bytes'] - big[form]['weight_bytes'] == (
            pytest.approx(one[form]['bytes'] - one[form]['weight_bytes']))
        assert big[form]['flops'] == one[form]['flops']
    assert big['deploy']['flops'] == pytest.approx(big['paper']['flops'],
                                                   rel=1e-3)
    assert 'cat' in big['paper']['ops'] and 'cat' not in big['deploy']['ops']


def test_backbone_benchmark_profiles_both_forms(tmp_path):
    out = tmp_path / 'profile.json'
    log = run_tool('tools/benchmark.py', 'backbone', '--archs', 't0',
                   '--baselines', '--threads', '2', '--batch', '2',
                   '--shape', '64', '64', '--warmup', '1', '--repeats', '2',
                   '--channels-last', '--profile', '4', '--json', str(out))
    rows = json.loads(out.read_text())['rows']
    assert [row['form'] for row in rows] == ['paper protocol', 'deploy']
    for row in rows:
        assert len(row['profile']) == 4
        assert all(op['self_ms'] > 0 for op in row['profile'])
    # the deploy form's time is in GEMMs, the paper protocol has none
    assert any('addmm' in op['op'] for op in rows[1]['profile'])
    assert not any('addmm' in op['op'] for op in rows[0]['profile'])
    assert 'deploy: ' in log and 'of CPU time per batch' in log


def test_model_benchmark_refuses_backbone_only_options():
    sys.path.insert(0, osp.join(REPO, 'tools'))
    from benchmark import parse_args
    for option in (['--dtype', 'bf16'], ['--compile']):
        with pytest.raises(SystemExit):
            parse_args(['model', 'configs/maskrcnn_fasternet_t0_coco.py',
                        *option])
    args = parse_args(['model', 'configs/maskrcnn_fasternet_t0_coco.py',
                       '--channels-last'])
    assert args.channels_last
