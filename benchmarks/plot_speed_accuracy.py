"""Speed against accuracy: the published ImageNet top-1 of each FasterNet
variant against the latency measured by ``benchmarks.benchmark backbone``
on your machine, one series per measured form (paper protocol, deploy,
compiled, ...).

    python -m benchmarks.benchmark backbone --archs t0 t1 t2 s m l --threads 1 --json cpu.json
    python -m benchmarks.plot_speed_accuracy cpu.json --out docs/images/speed_accuracy_cpu.png

Accuracies are the FasterNet paper's (not measured here); only the x axis is
measured.
"""
import argparse
import json
import os
import os.path as osp

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402

from mmfasternet.model_zoo import published_top1  # noqa: E402

PUBLISHED_TOP1 = {f'FasterNet-{arch.upper()}': top1
                  for arch, top1 in published_top1().items()}


def series_from(result: dict) -> dict:
    """{form: [(ms per image, top-1, model name), ...]} for the FasterNet
    rows of one benchmark JSON."""
    batch = result['settings']['batch']
    series = {}
    for row in result['rows']:
        if row['model'] not in PUBLISHED_TOP1:
            continue
        series.setdefault(row['form'], []).append(
            (row['ms_per_batch'] / batch, PUBLISHED_TOP1[row['model']],
             row['model']))
    return {form: sorted(points) for form, points in series.items()}


def plot(result: dict, out: str, title: str = None) -> str:
    series = series_from(result)
    if not series:
        raise ValueError('the benchmark JSON has no FasterNet rows')
    env, settings = result['environment'], result['settings']
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for form, points in series.items():
        xs, ys, names = zip(*points)
        ax.plot(xs, ys, marker='o', label=form)
        if form == next(iter(series)):
            for x, y, name in points:
                ax.annotate(name.split('-')[1], (x, y),
                            textcoords='offset points', xytext=(4, -10))
    device = env.get('gpu') or f'CPU, {env["threads"]} thread(s)'
    ax.set_xlabel(f'ms per image (measured: {device}, batch '
                  f'{settings["batch"]}, {settings["dtype"]})')
    ax.set_ylabel('ImageNet top-1 (%, published)')
    ax.set_xscale('log')
    ax.grid(True, which='both', alpha=0.3)
    ax.legend()
    ax.set_title(title or 'FasterNet: published accuracy vs measured latency')
    fig.tight_layout()
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog='python -m benchmarks.plot_speed_accuracy',
        description=__doc__.split('\n\n')[0])
    parser.add_argument('json', help='output of benchmarks.benchmark backbone')
    parser.add_argument('--out', default='speed_accuracy.png')
    parser.add_argument('--title')
    args = parser.parse_args(argv)
    with open(args.json) as f:
        result = json.load(f)
    print(f'wrote {plot(result, args.out, args.title)}')


if __name__ == '__main__':
    main()
