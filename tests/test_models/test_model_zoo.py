"""The model zoo's metafile lists every shipped config, the configs agree
with it, and it agrees with REFERENCE.md, the independent record of the
published figures."""
import glob
import os
import os.path as osp
import re

import pytest
from mmengine.config import Config

from mmfasternet.model_zoo import (
    find_model,
    load_model_zoo,
    original_checkpoints,
    published_top1,
)
from tests.helpers import REPO_ROOT

SHIPPED = sorted(
    osp.relpath(path, REPO_ROOT)
    for path in glob.glob(osp.join(REPO_ROOT, 'configs', '*.py')))

# REFERENCE.md, "Architecture" and "Published results (CVPR version)":
# exact classifier parameters, FLOPs (G MACs, 224), top-1; COCO Mask R-CNN
# 1x whole-detector params (M), FLOPs (G, 1280x800), box AP, mask AP.
REFERENCE_IMAGENET = dict(
    t0=(3_905_500, 0.34, 71.9), t1=(7_595_368, 0.85, 76.2),
    t2=(14_982_888, 1.90, 78.9), s=(31_181_032, 4.55, 81.3),
    m=(53_521_464, 8.72, 83.0), l=(93_465_192, 15.49, 83.5))
REFERENCE_COCO = dict(s=(49.0, 258, 39.9, 36.9), m=(71.2, 344, 43.0, 39.1),
                      l=(110.9, 484, 44.0, 39.9))
# REFERENCE.md itself lives outside the repository: <repo>/../shared, or
# where MMFASTERNET_REFERENCE points. When found, the two tables above are
# checked against its text.
REFERENCE_MD = os.environ.get('MMFASTERNET_REFERENCE') or osp.normpath(
    osp.join(REPO_ROOT, '..', 'shared', 'REFERENCE.md'))


def by_config():
    return {record.config: record for record in load_model_zoo()}


def test_every_shipped_config_has_one_record():
    records = by_config()
    assert sorted(records) == SHIPPED
    assert len(records) == len(load_model_zoo()) == 38


@pytest.mark.parametrize('config', SHIPPED)
def test_config_matches_its_record(config):
    """The record's variant is the config's, and a config that loads the
    original ImageNet weights names the metafile's URL for that variant
    (configs are plain text users copy: they write the URL out)."""
    record = find_model(config)
    cfg = Config.fromfile(osp.join(REPO_ROOT, config))
    assert cfg.model.backbone.arch == record.arch
    init_cfg = cfg.model.backbone.get('init_cfg')
    if 'imagenet' in config:  # trained from scratch
        assert init_cfg is None
    else:
        assert init_cfg.checkpoint == find_model(
            f'configs/fasternet_{record.arch}_imagenet.py').weights
    batch = cfg.get('auto_scale_lr', {}).get('base_batch_size')
    if batch is not None:
        assert batch == record.metadata['Batch Size']


def test_metafile_agrees_with_reference():
    """Published figures as REFERENCE.md gives them; FLOPs counted by
    tools/analysis_tools/get_flops.py within 1% of the paper's ImageNet
    figures and 6.5-7.5 G above its COCO ones (mmengine's and the paper's
    counters differ by a constant in the shared neck and heads, see
    docs/detection.md)."""
    records = by_config()
    assert published_top1() == {arch: figures[2] for arch, figures in
                                REFERENCE_IMAGENET.items()}
    for arch, (params, gflops, top1) in REFERENCE_IMAGENET.items():
        record = records[f'configs/fasternet_{arch}_imagenet.py']
        assert record.metadata['Parameters'] == params
        assert record.metadata['FLOPs'] / 1e9 == pytest.approx(gflops,
                                                               rel=0.01)
        assert record.results == {
            'Image Classification': {'Top 1 Accuracy': top1}}
        # the release's file name carries its measured top-1
        measured = re.search(r'val_acc1\.(\d+\.\d+)\.pth$', record.weights)
        assert round(float(measured.group(1)), 1) == top1
    for arch, (mparams, gflops, box, mask) in REFERENCE_COCO.items():
        record = records[f'configs/maskrcnn_fasternet_{arch}_coco.py']
        assert record.metadata['Parameters'] / 1e6 == pytest.approx(
            mparams, abs=0.05)
        assert 6.5 <= record.metadata['FLOPs'] / 1e9 - gflops <= 7.5
        assert record.results == {
            'Object Detection': {'box AP': box},
            'Instance Segmentation': {'mask AP': mask}}
    # nothing else was ever trained: REFERENCE.md has no other result
    trained = {config for config, record in records.items()
               if record.results is not None}
    assert trained == {
        *(f'configs/fasternet_{arch}_imagenet.py'
          for arch in REFERENCE_IMAGENET),
        *(f'configs/maskrcnn_fasternet_{arch}_coco.py'
          for arch in REFERENCE_COCO)}


def _table_rows(text, header_start):
    """The cells of each row of the markdown table whose header row starts
    with ``header_start``."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines)
                 if line.startswith(header_start))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith('|'):
            break
        rows.append([cell.strip() for cell in line.strip('|').split('|')])
    return rows


@pytest.mark.skipif(not osp.isfile(REFERENCE_MD),
                    reason=f'no REFERENCE.md at {REFERENCE_MD} (set '
                    f'MMFASTERNET_REFERENCE)')
def test_transcribed_figures_are_reference_md():
    """The figures above are REFERENCE.md's, digit for digit."""
    with open(REFERENCE_MD) as f:
        text = f.read()
    imagenet = {}
    for cells in _table_rows(text, '| variant |'):
        params, flops, top1 = cells[-3:]
        assert flops.endswith('G')
        imagenet[cells[0].lower()] = (int(params.replace(',', '')),
                                      float(flops[:-1]), float(top1))
    assert imagenet == REFERENCE_IMAGENET
    coco = {}
    for cells in _table_rows(text, '| backbone |'):
        if not cells[0].startswith('FasterNet-'):
            continue  # the ResNet-50 baseline
        params, flops, _, box, mask = cells[1:]
        coco[cells[0][len('FasterNet-'):].lower()] = (
            float(params.rstrip('M')), int(flops.rstrip('G')), float(box),
            float(mask))
    assert coco == REFERENCE_COCO


def test_plot_tool_uses_the_metafile_top1():
    """benchmarks/plot_speed_accuracy.py writes its table out (it imports
    no mmfasternet): the table is the metafile's."""
    from benchmarks.plot_speed_accuracy import PUBLISHED_TOP1 as table
    assert table == {f'FasterNet-{arch.upper()}': top1
                     for arch, top1 in published_top1().items()}


def _readme_model_rows():
    """(config, {column header: cell}) of every README table row that links
    a config."""
    with open(osp.join(REPO_ROOT, 'README.md')) as f:
        lines = f.read().splitlines()
    rows, header = [], None
    for line in lines:
        if not line.startswith('|'):
            header = None
            continue
        cells = [cell.strip() for cell in line.strip('|').split('|')]
        if header is None:
            header = cells
            continue
        link = re.search(r'\]\((configs/[^)]+\.py)\)', line)
        if link:
            rows.append((link.group(1), dict(zip(header, cells))))
    return rows


def _agrees(cell, exact, scale):
    """``cell`` (e.g. ``'48.99'``, ``'0.34 G'``, ``'3,905,500'``) is
    ``exact / scale`` rounded to the cell's decimals."""
    number = re.fullmatch(r'([\d,]+(?:\.(\d+))?)\s*G?', cell)
    assert number, cell
    decimals = len(number.group(2) or '')
    return float(number.group(1).replace(',', '')) == round(
        exact / scale, decimals)


def test_readme_tables_round_the_metafile():
    """The README's model tables give each config's parameters and FLOPs
    as the metafile has them, rounded."""
    records = by_config()
    rows = _readme_model_rows()
    assert {config for config, _ in rows} == set(records)
    for config, row in rows:
        metadata = records[config].metadata
        params = row.get('Params (M)') or row['params']
        flops = row.get('FLOPs (G)') or row['FLOPs (224)']
        scale = 1e6 if 'Params (M)' in row else 1
        assert _agrees(params, metadata['Parameters'], scale), (config, params)
        assert _agrees(flops, metadata['FLOPs'], 1e9), (config, flops)


def test_original_checkpoints_come_from_the_metafile():
    import mmfasternet
    names = original_checkpoints()
    assert mmfasternet.ORIGINAL_CHECKPOINTS == names
    assert sorted(names) == sorted(REFERENCE_IMAGENET)
    for arch, name in names.items():
        assert re.fullmatch(rf'fasternet_{arch}-epoch\.\d+-val_acc1\.'
                            r'\d+\.\d+\.pth', name)


def test_original_weights_are_the_release_urls_and_timm_names():
    """Each ImageNet record's Weights is the release URL of its file, and
    Metadata.timm a pretrained model timm knows."""
    timm = pytest.importorskip('timm')
    release = 'https://github.com/JierunChen/FasterNet/releases/download/v1.0/'
    published = set(timm.list_pretrained('fasternet*'))
    names = original_checkpoints()
    for config in SHIPPED:
        if 'imagenet' in config:
            record = find_model(config)
            assert record.weights == release + names[record.arch]
            assert record.metadata['timm'] == f'fasternet_{record.arch}.in1k'
            assert record.metadata['timm'] in published


def test_a_broken_metafile_is_one_clear_error(tmp_path):
    (tmp_path / 'model-index.yml').write_text(
        'Import:\n  - metafile.yml\n')
    metafile = tmp_path / 'metafile.yml'
    metafile.write_text(
        'Collections:\n  - Name: FasterNet\nModels:\n'
        '  - Name: x\n    In Collection: FasterNet\n    Config: c.py\n'
        '    Metadata:\n      Architecture: [FasterNet-S]\n'
        '      Parameters: 1\n')
    index = str(tmp_path / 'model-index.yml')
    with pytest.raises(ValueError, match=r"'x' lacks \['Metadata.FLOPs'\]"):
        load_model_zoo(index)
    metafile.write_text(metafile.read_text().replace(
        'Parameters: 1', 'Parameters: 1\n      FLOPs: 2').replace(
            'In Collection: FasterNet', 'In Collection: Other'))
    with pytest.raises(ValueError, match="collection 'Other'"):
        load_model_zoo(index)
    with pytest.raises(FileNotFoundError, match='pip install -e'):
        load_model_zoo(str(tmp_path / 'missing.yml'))
    with pytest.raises(KeyError, match='not in the model zoo'):
        find_model('configs/nowhere.py')
