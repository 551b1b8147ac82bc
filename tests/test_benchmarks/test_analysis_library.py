"""The benchmarks' arithmetic on known timings (speed-ups of backbone,
whole-model and operator rows) and their one-after-another timing loop."""
import pytest
import torch

from benchmarks.inference import add_backbone_speedups, add_model_speedups
from benchmarks.operators import add_dwconv_ratios
from benchmarks.timing import median_seconds


def backbone_row(model, form, images_per_s):
    return dict(model=model, form=form, ms_per_batch=1e3 / images_per_s,
                images_per_s=images_per_s)


def speedups(row):
    return {key[len('speedup_vs_'):]: value for key, value in row.items()
            if key.startswith('speedup_vs_')}


def test_backbone_speedups_from_known_timings():
    """Every ratio is between two rows that differ in one thing: the form
    (against the paper protocol in the same runtime), the runtime (against
    the same form in eager PyTorch) or the model (against ResNet-50 in the
    same runtime)."""
    rows = [
        backbone_row('resnet50', 'BN folded', 10.),
        backbone_row('resnet50', 'BN folded + compile', 20.),
        backbone_row('resnet50', 'BN folded, onnxruntime CPU', 30.),
        backbone_row('FasterNet-T0', 'paper protocol', 40.),
        backbone_row('FasterNet-T0', 'deploy', 60.),
        backbone_row('FasterNet-T0', 'paper protocol + compile', 80.),
        backbone_row('FasterNet-T0', 'deploy + compile', 50.),
        backbone_row('FasterNet-T0', 'paper protocol, onnxruntime CPU', 90.),
        backbone_row('FasterNet-T0', 'deploy, onnxruntime CPU', 120.),
        backbone_row('FasterNet-S', 'paper protocol', 5.),
        backbone_row('FasterNet-S', 'deploy', 8.),
        backbone_row('FasterNet-S', 'deploy, onnxruntime CPU', 16.),
    ]
    assert add_backbone_speedups(rows) is rows
    assert [speedups(row) for row in rows] == [
        {},
        dict(eager=2.0),
        dict(eager=3.0),
        dict(resnet50=4.0),
        dict(paper_protocol=1.5, resnet50=6.0),
        dict(eager=2.0, resnet50=4.0),
        dict(paper_protocol=0.625, eager=50 / 60, resnet50=2.5),
        dict(eager=2.25, resnet50=3.0),
        dict(paper_protocol=120 / 90, eager=2.0, resnet50=4.0),
        dict(resnet50=0.5),
        dict(paper_protocol=1.6, resnet50=0.8),
        # no paper protocol in onnxruntime to compare the form with
        dict(eager=2.0, resnet50=16 / 30),
    ]


def test_backbone_speedups_need_the_paper_protocol_row():
    with pytest.raises(ValueError, match='FasterNet-S.*paper protocol'):
        add_backbone_speedups([backbone_row('FasterNet-S', 'deploy', 1.)])


def test_model_speedups_are_against_the_last_row():
    rows = [dict(config=name, form='eval', images_per_s=ips)
            for name, ips in (('a.py', 10.), ('b.py', 20.), ('r50.py', 5.))]
    add_model_speedups(rows)
    assert [row.get('speedup_vs_last_config') for row in rows] == [
        2.0, 4.0, None]


def test_model_speedups_compare_within_a_runtime_and_with_eager():
    rows = [dict(config='s.py', form='deploy', images_per_s=10.),
            dict(config='s.py', form='deploy + onnxruntime backbone',
                 runtime='onnxruntime', images_per_s=30.),
            dict(config='r50.py', form='eval', runtime='eager',
                 images_per_s=5.),
            dict(config='r50.py', form='eval + onnxruntime backbone',
                 runtime='onnxruntime', images_per_s=20.)]
    add_model_speedups(rows)
    assert [(row.get('speedup_vs_last_config'),
             row.get('speedup_vs_last_config_eager')) for row in rows] == [
        (2.0, None), (1.5, 6.0), (None, None), (None, 4.0)]


def test_operator_ratios_are_against_dwconv_on_the_same_shape():
    rows = [dict(operator=name, shape=shape, gflops_per_s=value)
            for shape, values in (('8x4x4', (90., 3., 30.)),
                                  ('16x2x2', (40., 2., 8.)))
            for name, value in zip(('Conv', 'DWConv', 'PConv'), values)]
    add_dwconv_ratios(rows)
    assert [row['flops_vs_dwconv'] for row in rows] == [
        30., 1., 10., 20., 1., 4.]


def test_median_seconds_calls_warmup_then_repeats_without_grad():
    calls = []
    weight = torch.ones(2, requires_grad=True)

    def step():
        calls.append((weight * 2).requires_grad)

    seconds = median_seconds(step, warmup=2, repeats=3)
    assert calls == [False] * 5 and seconds >= 0
    with pytest.raises(ValueError, match='repeats'):
        median_seconds(step, warmup=0, repeats=0)
