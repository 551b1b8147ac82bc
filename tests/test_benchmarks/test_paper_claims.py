"""The paper's headline claims: the comparison arithmetic on known
timings, the models of each pair, and the ``paper-claims`` subcommand run
as a user runs it with tiny inputs, whose printed and written ratios must
be those of its own rows. No assertion depends on how fast anything
ran."""
import json
import re

import pytest
import torch

from benchmarks.benchmark import parse_args
from benchmarks.paper_claims import (
    BASELINE_FORM,
    PAIRS,
    describe_comparison,
    pair_models,
    paper_claim_ratios,
    paper_protocols,
)
from tests.helpers import run_benchmark


def claim_row(arch, form, runtime, ms, processor='CPU', batch=1):
    pair = PAIRS[arch]
    return dict(pair=pair.name,
                model=pair.baseline if form == BASELINE_FORM else
                pair.fasternet, form=form, runtime=runtime, device='cpu',
                protocol=f'{processor} protocol', processor=processor,
                batch=batch, dtype='fp32', channels_last=False,
                image_size=224, ms_per_batch=ms,
                images_per_s=batch * 1e3 / ms)


def test_comparisons_from_known_timings():
    """T0 10 ms (paper protocol) and 25 ms (deploy) against MobileViT's
    30 ms in eager, 20 ms against 10 ms in onnxruntime; L 60 ms against
    Swin-B's 100 ms on the CPU, and on an ARM board, where the paper gives
    no figure for L."""
    rows = [
        claim_row('t0', 'paper protocol', 'eager', 10.),
        claim_row('t0', 'deploy', 'eager', 25.),
        claim_row('t0', BASELINE_FORM, 'eager', 30.),
        claim_row('t0', 'deploy', 'onnxruntime', 20.),
        claim_row('t0', BASELINE_FORM, 'onnxruntime', 10.),
        claim_row('l', 'paper protocol', 'eager', 60.),
        claim_row('l', BASELINE_FORM, 'eager', 100.),
        claim_row('l', 'deploy', 'eager', 80., processor='ARM'),
        claim_row('l', BASELINE_FORM, 'eager', 100., processor='ARM'),
    ]
    comparisons = paper_claim_ratios(rows)
    assert [(c['form'], c['runtime'], c['processor'])
            for c in comparisons] == [
        ('paper protocol', 'eager', 'CPU'), ('deploy', 'eager', 'CPU'),
        ('deploy', 'onnxruntime', 'CPU'), ('paper protocol', 'eager', 'CPU'),
        ('deploy', 'eager', 'ARM')]
    expected = [(3.0, 100 * 2 / 3, 200.), (1.2, 100 / 6, 20.),
                (0.5, -100., -50.), (100 / 60, 40., 100 * 2 / 3),
                (1.25, 20., 25.)]
    for comparison, (speedup, less, higher) in zip(comparisons, expected):
        assert comparison['speedup'] == pytest.approx(speedup)
        assert comparison['less_time_pct'] == pytest.approx(less)
        assert comparison['higher_throughput_pct'] == pytest.approx(higher)
    t0, _, slower, large, arm = comparisons
    assert t0['paper'] == dict(kind='x faster', value=3.3)
    assert (t0['fasternet_top1'], t0['baseline_top1']) == (71.9, 69.0)
    assert large['paper'] == dict(kind='% less time', value=37.)
    assert (large['fasternet_top1'], large['baseline_top1']) == (83.5, 83.5)
    assert (t0['baseline_timm_top1'], large['baseline_timm_top1']) == (
        68.932, 83.606)
    assert arm['paper'] is None
    assert describe_comparison(t0) == (
        'fasternet_t0 vs mobilevit_xxs, CPU protocol, eager, paper protocol '
        'form: 3.00x faster (paper CPU 3.3x)')
    assert describe_comparison(slower).endswith(
        'deploy form: 0.50x as fast (slower) (paper CPU 3.3x)')
    assert describe_comparison(large) == (
        'fasternet_l vs swin_base, CPU protocol, eager, paper protocol form: '
        '1.67x, 40% less time, 67% higher throughput (paper CPU: 37% less '
        'time)')
    assert describe_comparison(arm).endswith(
        '1.25x, 20% less time, 25% higher throughput (the paper gives no '
        'ARM figure)')
    with pytest.raises(ValueError, match='no baseline row'):
        paper_claim_ratios(rows[:2])


def test_protocols():
    (cpu, ) = paper_protocols('cpu', threads=1)
    assert (cpu.batch, cpu.dtype, cpu.channels_last) == (1, 'fp32', False)
    assert cpu.processor in ('CPU', 'ARM')
    assert cpu.name == f'{cpu.processor} batch 1, 1 thread'
    assert paper_protocols('cpu', threads=2)[0].name.endswith('2 threads')
    assert [(p.processor, p.batch, p.dtype, p.channels_last)
            for p in paper_protocols('cuda')] == [('GPU', 32, 'fp32', False),
                                                   ('GPU', 256, 'bf16', True)]


@pytest.mark.parametrize('arch,size', [('t0', 64), ('l', 32)])
def test_pair_models_are_whole_classifiers(arch, size):
    """Both FasterNet forms hold the same weights (same logits); the
    baseline is a 1000-class timm classifier with its BNs folded."""
    models = pair_models(PAIRS[arch], image_size=size)
    assert list(models) == ['paper protocol', 'deploy', BASELINE_FORM]
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        logits = {form: model(x) for form, model in models.items()}
    assert all(out.shape == (2, 1000) for out in logits.values())
    torch.testing.assert_close(logits['deploy'], logits['paper protocol'],
                               rtol=1e-4, atol=1e-4)
    assert not any(isinstance(m, torch.nn.BatchNorm2d)
                   for model in models.values() for m in model.modules())


def run_claims(tmp_path, *args):
    out = tmp_path / 'claims.json'
    log = run_benchmark('paper-claims', *args, '--warmup', '1', '--repeats',
                        '2', '--json', out)
    return log, json.loads(out.read_text())


def check_against_rows(log, written):
    """Every printed and written ratio recomputed from the JSON rows."""
    rows = written['rows']
    for row in rows:
        assert row['images_per_s'] == pytest.approx(
            row['batch'] * 1e3 / row['ms_per_batch'], rel=1e-9)
    baselines = {(row['pair'], row['protocol'], row['runtime']): row
                 for row in rows if row['form'] == BASELINE_FORM}
    ours = [row for row in rows if row['form'] != BASELINE_FORM]
    assert len(written['comparisons']) == len(ours)
    printed = [line.strip() for line in
               log.split('\nclaims:\n', 1)[1].split('\n\n')[0].splitlines()]
    assert len(printed) == len(ours)
    for row, comparison, line in zip(ours, written['comparisons'], printed):
        base = baselines[row['pair'], row['protocol'], row['runtime']]
        speedup = base['ms_per_batch'] / row['ms_per_batch']
        less = 100 * (1 - row['ms_per_batch'] / base['ms_per_batch'])
        higher = 100 * (row['images_per_s'] / base['images_per_s'] - 1)
        assert comparison['speedup'] == pytest.approx(speedup, rel=1e-12)
        assert comparison['less_time_pct'] == pytest.approx(less, abs=1e-9)
        assert comparison['higher_throughput_pct'] == pytest.approx(
            higher, abs=1e-9)
        assert line.startswith(f'{row["pair"]}, {row["protocol"]}, '
                               f'{row["runtime"]}, {row["form"]} form: ')
        assert re.search(r'form: ([0-9.]+)x', line).group(1) == (
            f'{speedup:.2f}')
        if '% less time,' in line:
            assert f'{less:.0f}% less time, {higher:.0f}% higher' in line
    return rows


def test_paper_claims_t0_eager_and_onnxruntime(tmp_path):
    log, written = run_claims(tmp_path, '--pairs', 't0', '--image-size',
                              '64')
    rows = check_against_rows(log, written)
    assert [(row['model'], row['form'], row['runtime']) for row in rows] == [
        (model, form, runtime) for runtime in ('eager', 'onnxruntime')
        for model, form in (('fasternet_t0', 'paper protocol'),
                            ('fasternet_t0', 'deploy'),
                            ('mobilevit_xxs', BASELINE_FORM))]
    assert {row['protocol'] for row in rows} in (
        {'CPU batch 1, 1 thread'}, {'ARM batch 1, 1 thread'})
    assert written['environment']['threads'] == 1
    assert all(line.endswith('(paper CPU 3.3x)') for line in
               log.split('\nclaims:\n')[1].split('\n\n')[0].splitlines()
               ) or 'ARM' in rows[0]['protocol']
    assert ('fasternet_t0 71.9, mobilevit_xxs 69.0 (timm '
            'mobilevit_xxs.cvnets_in1k: 68.932)') in log


def test_paper_claims_l_eager(tmp_path):
    log, written = run_claims(tmp_path, '--pairs', 'l', '--image-size', '32',
                              '--runtimes', 'eager')
    rows = check_against_rows(log, written)
    assert [(row['model'], row['form']) for row in rows] == [
        ('fasternet_l', 'paper protocol'), ('fasternet_l', 'deploy'),
        ('swin_base', BASELINE_FORM)]
    assert '% less time, ' in log and 'fasternet_l 83.5, swin_base 83.5' in log


def test_paper_claims_refuses_onnxruntime_on_cuda():
    with pytest.raises(SystemExit):
        parse_args(['paper-claims', '--device', 'cuda', '--runtimes',
                    'onnxruntime'])
    args = parse_args(['paper-claims', '--device', 'cuda'])
    assert args.runtimes == ['eager'] and args.threads is None
    args = parse_args(['paper-claims'])
    assert args.runtimes == ['eager', 'onnxruntime'] and args.threads == 1
    assert args.pairs == ['t0', 'l']
