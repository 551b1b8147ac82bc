"""tools/test.py's --show-dir, --show, --eval, --format-only, --out and --tta
for every evaluator and visualization hook a config of each task can carry:
the real tool (``main(argv)``), Runner, evaluators and hooks, on one tiny
checkpoint per task trained by tools/train.py; every option a config cannot
serve is one argparse error, before anything is built."""
import contextlib
import glob
import itertools
import os.path as osp
import pickle
import textwrap

import numpy as np
import pytest
from PIL import Image

from tests.helpers import load_tool, make_demo_data

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO = osp.join(REPO, 'configs', 'demo')
DET_DEMO = osp.join(DEMO, 'maskrcnn_fasternet_t0_shapes_demo.py')
SEG_DEMO = osp.join(DEMO, 'fpn_fasternet_t0_shapes_demo.py')
CLS_DEMO = osp.join(DEMO, 'fasternet_t0_shapes_demo.py')
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')
NUM_TEST_IMAGES = dict(detection=4, segmentation=4, classification=6)
_runs = itertools.count()



def run_tool(name, argv, cwd):
    """tools/<name>.py main(argv) in this process, from ``cwd``. Each run
    gets its own experiment and visualizer names: mmengine keeps one
    visualizer, logger and scope instance per name for the whole process
    (the bases name every visualizer 'visualizer'), and a second run would
    reuse the first one's."""
    argv = list(argv)
    run = next(_runs)
    argv[argv.index('--cfg-options') + 1:0] = [
        f'experiment_name=testopts_{run}', f'visualizer.name=testopts_{run}'
    ]
    with contextlib.chdir(cwd):
        return load_tool(name).main(argv)


def loader_options(root, batch_size):
    options = ['randomness.seed=0']
    for loader in LOADERS:
        options += [f'{loader}.dataset.data_root={root}',
                    f'{loader}.num_workers=0',
                    f'{loader}.persistent_workers=False',
                    f'{loader}.batch_size={batch_size}']
    return options


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    """Tiny generated data sets of the three formats, the configs under test
    (the demos, and variants a user could write: a box-only detector, a
    VOC-style detection evaluator, a multi-label classification
    evaluator), and the --cfg-options that point the configs at the data."""
    base = tmp_path_factory.mktemp('test_options')
    for kind, root, train, val, size in (
            ('coco', 'coco', 4, 4, 64), ('ade20k', 'ade', 4, 4, 64),
            ('imagenet', 'imagenet', 6, 6, 32)):
        make_demo_data(kind, base / root, train, val, size)
    coco = f'{base}/coco/'
    configs = dict(det_mask=DET_DEMO, seg=SEG_DEMO, cls=CLS_DEMO)
    sources = dict(
        det_box=f"""
            _base_ = {DET_DEMO!r}
            model = dict(roi_head=dict(mask_roi_extractor=None,
                                       mask_head=None))
            val_evaluator = dict(metric='bbox')
            test_evaluator = dict(metric='bbox')
            """,
        det_voc="""
            _base_ = './det_box.py'
            test_evaluator = dict(_delete_=True, type='VOCMetric')
            """,
        cls_multi_label=f"""
            _base_ = {CLS_DEMO!r}
            test_evaluator = [dict(type='MultiLabelMetric')]
            """)
    for name, source in sources.items():
        configs[name] = str(base / f'{name}.py')
        (base / f'{name}.py').write_text(textwrap.dedent(source))
    det = loader_options(coco, 2) + [
        f'{evaluator}.ann_file={coco}annotations/instances_val2017.json'
        for evaluator in ('val_evaluator', 'test_evaluator')
    ] + [  # the Resize of the demo's pipelines: 64 instead of 256
        f'{loader}.dataset.pipeline.{index}.scale=(64,64)'
        for loader, index in zip(LOADERS, (2, 1, 1))
    ]
    options = dict(
        det_mask=det, det_box=det,
        det_voc=[o for o in det if not o.startswith('test_evaluator')],
        seg=loader_options(f'{base}/ade', 4),
        cls=loader_options(f'{base}/imagenet', 6))
    options['cls_multi_label'] = options['cls']
    return dict(base=base, configs=configs, options=options)


@pytest.fixture(scope='module')
def checkpoints(setup):
    """One checkpoint per task, trained by tools/train.py for one iteration
    (segmentation) or one epoch (4-6 images), without validation."""
    no_val = ['val_dataloader=None', 'val_cfg=None', 'val_evaluator=None']
    found = {}
    for name, schedule, saved in (
            ('seg', ['train_cfg.max_iters=1'], 'iter_1.pth'),
            ('det_box', ['train_cfg.max_epochs=1'], 'epoch_1.pth'),
            ('cls', ['train_cfg.max_epochs=1'], 'epoch_1.pth')):
        work = setup['base'] / f'train_{name}'
        run_tool('train', [
            setup['configs'][name], '--work-dir', str(work), '--cfg-options',
            *setup['options'][name], *schedule, *no_val
        ], cwd=REPO)
        found[name] = str(work / saved)
        assert osp.isfile(found[name])
    return found


def run_test_py(setup, checkpoints, config, checkpoint, args, cwd, work_dir):
    """tools/test.py on ``config`` with the options ``args``, from the
    directory ``cwd``."""
    return run_tool('test', [
        setup['configs'][config], checkpoints[checkpoint], '--work-dir',
        str(work_dir), *args, '--cfg-options', *setup['options'][config]
    ], cwd=cwd)


def assert_scores(metrics, keys, upper):
    assert set(keys) <= set(metrics), sorted(metrics)
    for key in keys:
        assert 0 <= metrics[key] <= upper, (key, metrics[key])


def drawn(directory):
    return sorted(glob.glob(osp.join(str(directory), '*')))


# -- --show-dir --------------------------------------------------------------


def test_segmentation_show_dir_from_another_directory(setup, checkpoints,
                                                      tmp_path):
    """The issue's input: the segmentation demo trained one iteration, then
    ``--show-dir vis`` from another directory draws every test image into
    <work_dir>/vis (mmseg's hook draws one batch in 50 by default and its
    visualizer saves relative to the current directory)."""
    elsewhere = tmp_path / 'elsewhere'
    elsewhere.mkdir()
    work = tmp_path / 'work'
    metrics = run_test_py(setup, checkpoints, 'seg', 'seg',
                          ['--show-dir', 'vis'], elsewhere, work)
    images = drawn(work / 'vis')
    assert len(images) == NUM_TEST_IMAGES['segmentation'], images
    assert all(p.endswith('.png') for p in images)
    assert Image.open(images[0]).size[0] > 0
    assert not list(elsewhere.iterdir())  # nothing in the current directory
    assert 'mIoU' in metrics


def test_detection_show_dir_eval_and_out(setup, checkpoints, tmp_path):
    """A box-only detector, a relative --work-dir and --show-dir from another
    directory: every image drawn into <work_dir>/vis (not mmdet's
    <work_dir>/<timestamp>/vis); --eval bbox proposal scores both; --out
    pickles one prediction per image."""
    (tmp_path / 'elsewhere').mkdir()
    args = ['--eval', 'bbox', 'proposal', '--show-dir', 'vis', '--out',
            str(tmp_path / 'det.pkl')]
    metrics = run_test_py(setup, checkpoints, 'det_box', 'det_box', args,
                          tmp_path / 'elsewhere', 'work')
    images = drawn(tmp_path / 'elsewhere' / 'work' / 'vis')
    assert len(images) == NUM_TEST_IMAGES['detection'], images
    assert not glob.glob(str(tmp_path / 'elsewhere' / 'work' / '2*' / 'vis'))
    assert_scores(metrics, ['coco/bbox_mAP', 'coco/bbox_mAP_50',
                            'coco/AR@100', 'coco/AR@1000'], 1)
    assert not any('segm' in key for key in metrics)
    with open(tmp_path / 'det.pkl', 'rb') as file:
        predictions = pickle.load(file)
    assert len(predictions) == NUM_TEST_IMAGES['detection']
    assert {'bboxes', 'scores', 'labels'} <= set(
        predictions[0]['pred_instances'])


def coco_recall(gt_file, predictions, max_dets=(100, 300, 1000)):
    """pycocotools' class-agnostic average recall (IoU 0.50:0.95) of the
    pickled predictions, at each detection budget."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    with contextlib.redirect_stdout(None):
        gt = COCO(gt_file)
        detections = []
        for prediction in predictions:
            instances = prediction['pred_instances']
            for (x1, y1, x2, y2), score in zip(instances['bboxes'].tolist(),
                                               instances['scores'].tolist()):
                detections.append(dict(
                    image_id=prediction['img_id'], category_id=1,
                    bbox=[x1, y1, x2 - x1, y2 - y1], score=score))
        evaluation = COCOeval(gt, gt.loadRes(detections), 'bbox')
        evaluation.params.useCats = 0
        evaluation.params.maxDets = list(max_dets)
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    return dict(zip(max_dets, evaluation.stats[6:9]))


def test_detection_eval_proposal_alone(setup, checkpoints, tmp_path):
    """--eval proposal (the 2.x name, in the README) on its own: CocoMetric
    scores the detections as class-agnostic proposals, AR@100/300/1000 and
    no mAP; the recalls are pycocotools' on the --out predictions."""
    args = ['--eval', 'proposal', '--out', str(tmp_path / 'det.pkl')]
    metrics = run_test_py(setup, checkpoints, 'det_box', 'det_box', args,
                          tmp_path, tmp_path / 'work')
    assert not any('mAP' in key for key in metrics), sorted(metrics)
    with open(tmp_path / 'det.pkl', 'rb') as file:
        predictions = pickle.load(file)
    assert len(predictions) == NUM_TEST_IMAGES['detection']
    expected = coco_recall(
        str(setup['base'] / 'coco' / 'annotations' /
            'instances_val2017.json'), predictions)
    # one epoch on 4 images: a low recall, but some object is found
    assert 0 < metrics['coco/AR@100'] <= metrics['coco/AR@300'] <= metrics[
        'coco/AR@1000'] <= 1
    for budget, recall in expected.items():
        assert metrics[f'coco/AR@{budget}'] == pytest.approx(recall,
                                                             abs=1e-3)


def test_classification_show_dir_and_single_label_metrics(
        setup, checkpoints, tmp_path):
    """An absolute --show-dir is used as given; the mmcls 2.x names
    precision/recall/f1_score/support become mmpretrain's
    SingleLabelMetric next to Accuracy; --out pickles every prediction."""
    show_dir = tmp_path / 'drawn'
    args = ['--eval', 'accuracy', 'precision', 'recall', 'f1_score',
            'support', '--show-dir', str(show_dir), '--out',
            str(tmp_path / 'cls.pkl')]
    metrics = run_test_py(setup, checkpoints, 'cls', 'cls', args, tmp_path,
                          tmp_path / 'work')
    assert len(drawn(show_dir)) == NUM_TEST_IMAGES['classification']
    assert_scores(metrics, ['accuracy/top1', 'single-label/precision',
                            'single-label/recall', 'single-label/f1-score'],
                  100)
    assert metrics['single-label/support'] == NUM_TEST_IMAGES[
        'classification']
    with open(tmp_path / 'cls.pkl', 'rb') as file:
        predictions = pickle.load(file)
    assert len(predictions) == NUM_TEST_IMAGES['classification']
    assert predictions[0]['pred_score'].shape == (3, )


# -- --eval on the other evaluators, --tta -----------------------------------


def test_voc_metric_on_coco_data_with_tta(setup, checkpoints, tmp_path):
    """VOCMetric takes the 2.x VOC name mAP (scored on the COCO data's
    gt_instances and ignored_instances); with flip TTA of a box-only
    detector."""
    metrics = run_test_py(setup, checkpoints, 'det_voc', 'det_box',
                          ['--eval', 'mAP', '--tta'], tmp_path,
                          tmp_path / 'work')
    assert_scores(metrics, ['pascal_voc/mAP', 'pascal_voc/AP50'], 1)
    dumped = glob.glob(str(tmp_path / 'work' / '*' / 'vis_data' /
                           'config.py'))
    assert 'DetTTAModel' in open(dumped[0]).read()


def test_multi_label_metrics(setup, checkpoints, tmp_path):
    """A multi-label evaluator takes the mmcls 2.x names: mAP becomes
    AveragePrecision, CP/CR/CF1 MultiLabelMetric(average='macro'),
    OP/OR/OF1 MultiLabelMetric(average='micro'); with flip TTA."""
    args = ['--eval', 'mAP', 'CP', 'CR', 'CF1', 'OP', 'OR', 'OF1', '--tta']
    metrics = run_test_py(setup, checkpoints, 'cls_multi_label', 'cls', args,
                          tmp_path, tmp_path / 'work')
    assert_scores(metrics, [
        'multi-label/mAP', 'multi-label/precision', 'multi-label/recall',
        'multi-label/f1-score', 'multi-label/precision_micro',
        'multi-label/recall_micro', 'multi-label/f1-score_micro'
    ], 100)


def test_segmentation_eval_out_and_default_flip_tta(setup, checkpoints,
                                                    tmp_path):
    """IoUMetric takes mIoU mDice mFscore; a config without tta_pipeline
    gets SegTTAModel over a flip of its test pipeline, and --show-dir
    draws the merged predictions."""
    args = ['--eval', 'mIoU', 'mDice', 'mFscore', '--tta', '--out',
            str(tmp_path / 'seg.pkl'), '--show-dir', 'vis', '--cfg-options',
            'tta_pipeline=None']
    metrics = run_test_py(setup, checkpoints, 'seg', 'seg', args, tmp_path,
                          tmp_path / 'work')
    assert_scores(metrics, ['aAcc', 'mIoU', 'mDice', 'mFscore'], 100)
    assert len(drawn(tmp_path / 'work' / 'vis')) == NUM_TEST_IMAGES[
        'segmentation']
    with open(tmp_path / 'seg.pkl', 'rb') as file:
        predictions = pickle.load(file)
    assert len(predictions) == NUM_TEST_IMAGES['segmentation']
    assert predictions[0]['pred_sem_seg']['data'].shape[-2:] == (64, 64)
    from mmengine.config import Config
    (dumped, ) = glob.glob(str(tmp_path / 'work' / '*' / 'vis_data' /
                                'config.py'))
    dumped = Config.fromfile(dumped)
    assert dumped.model.type == 'SegTTAModel'
    flips = dumped.tta_pipeline[-1].transforms[0]
    assert [(t.type, t.prob) for t in flips] == [('RandomFlip', 1.),
                                                 ('RandomFlip', 0.)]


# -- --format-only -----------------------------------------------------------


def test_format_only_detection_and_segmentation(setup, checkpoints,
                                                tmp_path):
    """CocoMetric writes <work_dir>/format_only/results.bbox.json, IoUMetric
    one png label map per image into <work_dir>/format_only/."""
    import json
    metrics = run_test_py(setup, checkpoints, 'det_box', 'det_box',
                          ['--format-only'], tmp_path, tmp_path / 'det')
    assert not metrics
    results = json.loads((tmp_path / 'det' / 'format_only' /
                          'results.bbox.json').read_text())
    images = json.loads((setup['base'] / 'coco' / 'annotations' /
                         'instances_val2017.json').read_text())['images']
    assert results and {r['image_id'] for r in results} <= {
        image['id'] for image in images}
    assert {'bbox', 'score', 'category_id'} <= set(results[0])

    run_test_py(setup, checkpoints, 'seg', 'seg', ['--format-only'],
                tmp_path, tmp_path / 'seg')
    maps = drawn(tmp_path / 'seg' / 'format_only')
    assert len(maps) == NUM_TEST_IMAGES['segmentation']
    # reduce_zero_label configs write the dataset's own ids (1..4)
    assert set(np.unique(np.array(Image.open(maps[0])))) <= {1, 2, 3, 4}


# -- bad input: one argparse error, before anything is built ------------------


BAD_INPUT = [
    ('seg', ['--eval', 'bbox'], ['IoUMetric', 'choose from mIoU, mDice']),
    ('det_mask', ['--eval', 'mIoU'],
     ['CocoMetric', 'choose from bbox, segm, proposal, proposal_fast']),
    ('det_box', ['--eval', 'bbox', 'segm'],
     ['--eval segm', 'no mask head', 'choose from bbox, proposal,']),
    ('det_voc', ['--eval', 'bbox'], ['VOCMetric', 'choose from mAP']),
    pytest.param('det_voc', ['--eval', 'mAP', 'recall'],
                 ['--eval recall', 'ragged numpy array', 'proposal'],
                 marks=pytest.mark.skipif(
                     np.lib.NumpyVersion(np.__version__) < '1.24.0',
                     reason='mmdet computes VOC recall under numpy < 1.24')),
    ('cls', ['--eval', 'mAP'],
     ['Accuracy', 'choose from accuracy, precision, recall, f1_score']),
    ('cls_multi_label', ['--eval', 'accuracy'],
     ['MultiLabelMetric', 'choose from mAP, CP, CR, CF1, OP, OR, OF1']),
    ('seg', ['--eval', 'mIoU', '--cfg-options',
             'test_evaluator.type=CityscapesMetric'],
     ['cannot set metrics', 'CityscapesMetric', '--cfg-options']),
    ('cls', ['--eval', 'accuracy', '--cfg-options',
             'test_evaluator.type=NoSuchMetric'],
     ['NoSuchMetric (not registered)']),
    ('det_voc', ['--format-only'],
     ['VOCMetric', 'no format-only mode', '--out']),
    ('cls', ['--format-only'], ['Accuracy', 'no format-only mode']),
    ('det_box', ['--format-only', '--eval', 'bbox'],
     ['--eval with --format-only']),
    ('seg', ['--out', 'predictions.json'], ['.pkl']),
    ('det_box', ['--show'], ['--show:', 'agg', 'use --show-dir']),
    ('det_mask', ['--tta'], ['does not support instance segmentation']),
    ('cls', ['--tta', '--show-dir', 'vis'], ['single-view']),
    ('det_box', ['--show-dir', 'vis', '--cfg-options',
                 'default_hooks.visualization.type=TrackVisualizationHook'],
     ['TrackVisualizationHook', 'default_hooks.visualization']),
]


@pytest.mark.parametrize('config,args,expected', BAD_INPUT,
                         ids=lambda v: ' '.join(v) if isinstance(v, list)
                         else v)
def test_bad_input_is_one_argparse_error(setup, tmp_path, capsys, config,
                                         args, expected):
    """No checkpoint exists: the option is refused before the Runner would
    load it."""
    import matplotlib
    matplotlib.use('agg')  # no display, wherever the test runs
    if '--cfg-options' not in args:
        args = args + ['--cfg-options']
    argv = [setup['configs'][config], str(tmp_path / 'missing.pth'),
            '--work-dir', str(tmp_path / 'work'), *args,
            *setup['options'][config]]
    with pytest.raises(SystemExit) as error:
        run_tool('test', argv, cwd=tmp_path)
    assert error.value.code == 2
    message = capsys.readouterr().err
    assert message.count('error:') == 1
    for fragment in expected:
        assert fragment in message, message
    assert not (tmp_path / 'work').exists()


def test_show_with_show_dir_is_refused_for_segmentation(setup):
    """On a machine with a display: mmseg's SegVisualizationHook drops the
    visualizer's storage backends when it shows, so nothing would be
    saved."""
    from mmengine.config import Config

    from mmfasternet.engine.test_options import apply_visualization
    cfg = Config.fromfile(setup['configs']['seg'])
    cfg.work_dir = 'work'
    with pytest.raises(ValueError, match='SegVisualizationHook saves nothing'):
        apply_visualization(cfg, 'segmentation', 'vis', show=True)
    # each alone is fine
    apply_visualization(cfg, 'segmentation', None, show=True)
    assert cfg.default_hooks.visualization.interval == 1
