"""Classification with mmpretrain: the ImageNet configs follow the original
recipe and build; original and timm checkpoints load into the whole
classifier; the real tools train and test on a generated ImageNet-format
set; a trained classifier initialises the detection and segmentation
backbones; mmpretrain's, mmdet's and mmseg's inferencers run our configs."""
import glob
import os.path as osp
import re
import subprocess
import sys
from collections import OrderedDict

import numpy as np
import pytest
import torch
from mmengine.config import Config

from tests.helpers import (
    load_tool,
    make_demo_data,
    randomize_norm_stats,
    run_tool,
)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CLS_CONFIGS = sorted(glob.glob(osp.join(REPO, 'configs',
                                        'fasternet_*_imagenet.py')))
DEMO_CONFIG = osp.join(REPO, 'configs', 'demo',
                       'fasternet_t0_shapes_demo.py')

# The original recipe (REFERENCE.md): weight decay, RandAugment magnitude
# (None: off), mixup alpha, gradient clip and drop path. The total batch and
# the exact classifier parameter counts come from the model zoo.
RECIPE = dict(
    t0=(0.005, None, 0.05, None, 0.0),
    t1=(0.01, 3, 0.1, None, 0.02),
    t2=(0.02, 5, 0.1, None, 0.05),
    s=(0.03, 7, 0.3, None, 0.1),
    m=(0.05, 7, 0.5, 1.0, 0.2),
    l=(0.05, 7, 0.7, 0.01, 0.3),
)


def zoo_metadata(config):
    from mmfasternet.model_zoo import find_model
    return find_model(osp.relpath(config, REPO)).metadata


def tool(name):
    return osp.join(REPO, 'tools', name)


def run(args, expect_ok=True, timeout=600):
    result = subprocess.run([sys.executable, *args], cwd=REPO,
                            capture_output=True, text=True, timeout=timeout)
    if expect_ok:
        assert result.returncode == 0, (
            f'{args} failed:\n{result.stdout[-3000:]}\n'
            f'{result.stderr[-3000:]}')
    return result


def build_classifier(config):
    from mmfasternet.engine.tasks import build_model_from_config
    return build_model_from_config(config, seed=0)


def test_every_variant_is_shipped():
    names = {osp.basename(c) for c in CLS_CONFIGS}
    assert names == {f'fasternet_{arch}_imagenet.py' for arch in RECIPE}


@pytest.mark.parametrize('config', CLS_CONFIGS, ids=osp.basename)
def test_config_follows_the_original_recipe(config):
    arch = osp.basename(config).split('_')[1]
    weight_decay, magnitude, mixup, clip, drop_path = RECIPE[arch]
    batch = zoo_metadata(config)['Batch Size']
    cfg = Config.fromfile(config)
    optimizer = cfg.optim_wrapper.optimizer
    assert optimizer.type == 'AdamW'
    assert optimizer.lr == pytest.approx(0.001 * batch / 1024)
    assert cfg.auto_scale_lr.base_batch_size == batch
    assert optimizer.weight_decay == weight_decay
    assert not cfg.optim_wrapper.paramwise_cfg  # decay on every tensor
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert (cfg.optim_wrapper.get('clip_grad') or {}).get('max_norm') == clip
    warmup, cosine = cfg.param_scheduler
    assert warmup.type == 'LinearLR' and warmup.end == 20
    assert warmup.start_factor * optimizer.lr == pytest.approx(1e-6)
    assert (cosine.type, cosine.begin, cosine.end, cosine.eta_min) == (
        'CosineAnnealingLR', 20, 300, 1e-5)
    assert cfg.train_cfg.max_epochs == 300
    assert cfg.model.backbone.arch == arch
    assert cfg.model.backbone.drop_path_rate == drop_path
    assert cfg.model.head.loss.label_smooth_val == 0.1
    assert [(a.type, a.alpha) for a in cfg.model.train_cfg.augments] == [
        ('Mixup', mixup), ('CutMix', 1.0)]

    def crop_and_magnitude(pipeline):
        crop = [t for t in pipeline if t.type == 'RandomResizedCrop'][0]
        assert crop.interpolation == 'bicubic'
        levels = [t.magnitude_level for t in pipeline
                  if t.type == 'RandAugment']
        return crop.scale, (levels[0] if levels else None)

    assert crop_and_magnitude(cfg.train_dataloader.dataset.pipeline) == (
        192, magnitude)
    (switch, ) = cfg.custom_hooks
    assert switch.type == 'SwitchRecipeHook'
    (recipe, ) = switch.schedule
    # 1-based epoch 281 = the original's 0-based epoch 280
    assert recipe.action_epoch == 281
    assert crop_and_magnitude(recipe.train_pipeline) == (224, magnitude)
    resize, crop = cfg.test_dataloader.dataset.pipeline[1:3]
    assert (resize.type, resize.scale, resize.interpolation) == (
        'ResizeEdge', 248, 'bicubic')
    assert crop.crop_size == 224


@pytest.mark.parametrize('config', CLS_CONFIGS, ids=osp.basename)
def test_config_builds_and_runs(config):
    """Exact parameter count, a training step through the data preprocessor
    (mixup/cutmix on) and prediction."""
    from mmpretrain.structures import DataSample
    model = build_classifier(config)
    assert sum(p.numel() for p in model.parameters()) == zoo_metadata(
        config)['Parameters']
    model.init_weights()
    samples = [DataSample().set_gt_label(label) for label in (3, 999)]
    data = dict(inputs=[torch.randint(0, 256, (3, 64, 64), dtype=torch.uint8)
                        for _ in samples], data_samples=samples)
    model.train()
    batch = model.data_preprocessor(data, training=True)
    assert batch['data_samples'][0].gt_score.shape == (1000, )  # mixed
    losses = model(**batch, mode='loss')
    losses['loss'].backward()
    assert torch.isfinite(losses['loss'])
    assert model.backbone.patch_embed.proj.weight.grad is not None
    model.eval()
    with torch.no_grad():
        predictions = model(**model.data_preprocessor(data), mode='predict')
    assert predictions[0].pred_score.shape == (1000, )


def timm_fasternet(arch, seed=0, num_classes=1000):
    timm = pytest.importorskip('timm')
    torch.manual_seed(seed)
    model = timm.create_model(f'fasternet_{arch}', num_classes=num_classes)
    return randomize_norm_stats(model, seed).eval()


def original_to_timm(state_dict):
    """The inverse of mmfasternet's timm_to_original (REFERENCE.md)."""
    renamed = OrderedDict()
    for key, value in state_dict.items():
        stage = re.match(r'stages\.(\d+)\.(.*)', key)
        if stage:
            index, rest = int(stage.group(1)), stage.group(2)
            key = (f'stages.{(index + 1) // 2}.downsample.{rest}'
                   if index % 2 else f'stages.{index // 2}.{rest}')
        elif key.startswith('avgpool_pre_head.1.'):
            key = 'conv_head.' + key[len('avgpool_pre_head.1.'):]
        elif key.startswith('head.'):
            key = 'classifier.' + key[len('head.'):]
        renamed[key] = value
    return renamed


@pytest.mark.parametrize('arch', ['t0', 't2'])
def test_timm_and_original_weights_give_timm_logits(tmp_path, arch):
    """Random weights in timm's FasterNet, saved in timm's and in the
    original layout, loaded with mmengine into our classifier (no
    conversion step): the same logits."""
    from mmengine.runner import load_checkpoint

    from mmfasternet.models.utils.state_dict_layouts import timm_to_original
    reference_model = timm_fasternet(arch)
    state_dict = reference_model.state_dict()
    torch.save(state_dict, tmp_path / 'timm.pth')
    torch.save(timm_to_original(state_dict), tmp_path / 'original.pth')
    inputs = torch.rand(2, 3, 96, 96)
    with torch.no_grad():
        reference = reference_model(inputs)
    config = osp.join(REPO, 'configs', f'fasternet_{arch}_imagenet.py')
    for name in ('timm.pth', 'original.pth'):
        model = build_classifier(config).eval()
        load_checkpoint(model, str(tmp_path / name))
        with torch.no_grad():
            logits = model(inputs)
        scale = reference.abs().max()
        assert (logits - reference).abs().max() <= 1e-5 * scale, name


def test_wrong_variant_or_foreign_checkpoint_raises(tmp_path):
    from mmengine.runner import load_checkpoint

    from mmfasternet.models.utils import CheckpointMismatchError
    from mmfasternet.models.utils.state_dict_layouts import timm_to_original
    torch.save(timm_to_original(timm_fasternet('t1').state_dict()),
               tmp_path / 't1.pth')
    torch.save({'conv.weight': torch.zeros(3)}, tmp_path / 'foreign.pth')
    model = build_classifier(
        osp.join(REPO, 'configs', 'fasternet_t0_imagenet.py'))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(CheckpointMismatchError,
                       match=r"arch 't0'.*FasterNet-T1"):
        load_checkpoint(model, str(tmp_path / 't1.pth'))
    with pytest.raises(CheckpointMismatchError, match='none of its'):
        load_checkpoint(model, str(tmp_path / 'foreign.pth'))
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_the_head_is_registered_by_its_module_with_mmpretrain_losses():
    """``import mmfasternet`` neither imports mmpretrain nor registers the
    head; importing ``mmfasternet.models.heads.fasternet_head`` (what the
    classification configs' custom_imports do) registers the class, which
    takes its loss from mmpretrain's registry under any scope: mmdet's
    would give its own CrossEntropyLoss and has no LabelSmoothLoss."""
    code = ('import sys, mmfasternet\n'
            'from mmengine.registry import MODELS, DefaultScope\n'
            'assert "mmpretrain" not in sys.modules\n'
            'assert "FasterNetClsHead" not in MODELS.module_dict\n'
            'import mmdet.registry\n'
            'import mmfasternet.models.heads.fasternet_head as module\n'
            'assert MODELS.get("FasterNetClsHead") is '
            'module.FasterNetClsHead\n'
            'with DefaultScope.overwrite_default_scope("mmdet"):\n'
            '    heads = [MODELS.build(dict(type="FasterNetClsHead", '
            'num_classes=5, in_channels=8, **loss)) for loss in '
            '(dict(), dict(loss=dict(type="LabelSmoothLoss", '
            'label_smooth_val=0.1, mode="original")))]\n'
            'print(type(heads[0]).__mro__[1].__module__)\n'
            'print(*(type(h.loss_module).__module__ for h in heads))\n'
            # a misspelt argument is an error naming it, under that scope
            'with DefaultScope.overwrite_default_scope("mmdet"):\n'
            '    try:\n'
            '        MODELS.build(dict(type="FasterNetClsHead", '
            'num_classes=5, in_channel=8))\n'
            '    except Exception as error:\n'
            '        print("refused:", repr(str(error)))\n')
    result = run(['-c', code])
    built, misspelt = result.stdout.split('refused:')
    assert built.split() == [
        'mmpretrain.models.heads.cls_head',
        'mmpretrain.models.losses.cross_entropy_loss',
        'mmpretrain.models.losses.label_smooth_loss'
    ]
    assert 'in_channel' in misspelt


def test_classification_configs_import_the_head():
    from mmengine.registry import MODELS
    for config in CLS_CONFIGS + [DEMO_CONFIG]:
        cfg = Config.fromfile(config)
        assert cfg.custom_imports.imports == [
            'mmfasternet', 'mmfasternet.models.heads.fasternet_head']
        assert MODELS.get(cfg.model.head.type) is not None


# -- end to end on a generated ImageNet-format set ---------------------------

def loader_options(root):
    options = []
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        options += [f'{loader}.dataset.data_root={root}',
                    f'{loader}.num_workers=0',
                    f'{loader}.persistent_workers=False']
    return options


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """The demo recipe (T0 from scratch, mixup/cutmix, label smoothing,
    progressive resolution), shortened: 600 training images instead of
    1200, 10 epochs instead of 20."""
    base = tmp_path_factory.mktemp('classification')
    root = base / 'demo_imagenet'
    make_demo_data('imagenet', root, train=600, val=90, size=72)
    options = loader_options(root) + [
        'train_cfg.max_epochs=10', 'train_cfg.val_interval=10',
        'custom_hooks.0.schedule.0.action_epoch=9',
        'param_scheduler.1.end=10', 'default_hooks.checkpoint.interval=10',
        'randomness.seed=0'
    ]
    work = base / 'work'
    result = run([tool('train.py'), DEMO_CONFIG, '--work-dir', str(work),
                  '--cfg-options', *options])
    return dict(root=root, work=work, options=options,
                checkpoint=work / 'epoch_10.pth',
                train_log=result.stdout + result.stderr)


def test_data_follows_the_imagenet_layout(trained):
    from mmengine.registry import init_default_scope
    from mmpretrain.datasets import ImageNet
    init_default_scope('mmpretrain')
    root = trained['root']
    assert sorted(p.name for p in (root / 'train').iterdir()) == [
        'circle', 'square', 'triangle']
    assert (root / 'val' / 'ILSVRC2012_val_00000001.JPEG').is_file()
    # mmpretrain's own ImageNet dataset reads the layout (and its 1000
    # class names, which the demo replaces with the shapes')
    for split, count in (('train', 600), ('val', 90)):
        dataset = ImageNet(data_root=str(root), split=split)
        assert len(dataset) == count
        labels = [dataset.get_data_info(i)['gt_label'] for i in range(6)]
        assert labels == [0, 1, 2, 0, 1, 2]


def run_test_tool(*argv):
    """tools/test.py's ``main(argv)`` in this process (see
    ``tests.helpers.run_tool``): what it printed and logged."""
    return run_tool('test', argv)[1]


def refused(*argv):
    """What tools/test.py says as it stops with an argparse error (exit
    status 2)."""
    with pytest.raises(SystemExit) as error:
        run_tool('test', argv)
    assert error.value.code == 2
    return error.value.output


def top1_of(out):
    line = [r for r in out.splitlines()
            if r.startswith('metrics: ')][-1]
    return float(re.search(r'accuracy/top1=([\d.]+)', line).group(1))


def test_train_then_test_reports_top1(trained):
    """tools/test.py --eval accuracy reports top-1, which equals the top-1
    of mmpretrain's inferencer on the same images, and is far above
    chance (33.3) after this short run."""
    assert 'Switch train pipeline at epoch 9' in trained['train_log']
    top1 = top1_of(run_test_tool(
        DEMO_CONFIG, trained['checkpoint'], '--eval', 'accuracy',
        '--cfg-options', *trained['options']))

    from mmpretrain import ImageClassificationInferencer
    inferencer = ImageClassificationInferencer(
        DEMO_CONFIG, pretrained=str(trained['checkpoint']), device='cpu')
    lines = (trained['root'] / 'meta' / 'val.txt').read_text().split()
    paths = [str(trained['root'] / 'val' / name) for name in lines[::2]]
    labels = [int(label) for label in lines[1::2]]
    predictions = inferencer(paths, batch_size=16)
    correct = sum(p['pred_label'] == label
                  for p, label in zip(predictions, labels))
    assert top1 == pytest.approx(100 * correct / len(labels), abs=1e-3)
    assert predictions[0]['pred_class'] in ('circle', 'square', 'triangle')
    print(f'demo classifier, 10 epochs: top-1 {top1}')
    # chance is 33.3; guessing reaches 50 on 90 images with p ~ 1e-3
    assert top1 >= 50, top1
    trained['top1'] = top1

    # the other test.py options on a classifier: flip TTA (mmpretrain's
    # AverageClsScoreTTA) with raw predictions; every image drawn
    work = trained['work'] / 'test_options'
    out = run_test_tool(DEMO_CONFIG, trained['checkpoint'],
                    '--work-dir', work, '--tta', '--out',
                    work / 'predictions.pkl', '--cfg-options',
                    *trained['options'])
    assert top1_of(out) >= 50
    assert (work / 'predictions.pkl').is_file()
    out = run_test_tool(DEMO_CONFIG, trained['checkpoint'],
                    '--work-dir', work, '--show-dir', 'vis',
                    '--cfg-options', *trained['options'])
    assert top1_of(out) == top1
    assert len(list(work.glob('vis/*.png'))) == len(labels)
    assert 'single-view' in refused(DEMO_CONFIG,
                                    trained['checkpoint'], '--tta',
                                    '--show-dir', 'vis')
    assert 'choose from accuracy' in refused(
        DEMO_CONFIG, trained['checkpoint'], '--eval', 'mIoU')


def test_original_and_timm_layouts_test_the_same(trained, tmp_path):
    """The trained classifier, written as the original release would hold
    it (a flat state dict with avgpool_pre_head/head) and in timm's layout,
    evaluates to the same top-1 straight through tools/test.py; another
    variant's config refuses it with one clear error."""
    from mmfasternet.models.heads.fasternet_head_keys import (
        classifier_head_to_original,
    )
    from mmfasternet.models.utils.checkpoint_loading import unwrap_state_dict
    from mmfasternet.models.utils.state_dict_layouts import select_prefix
    state_dict = unwrap_state_dict(torch.load(
        trained['checkpoint'], map_location='cpu', weights_only=True))
    original = OrderedDict(select_prefix(state_dict, 'backbone.'))
    original.update(classifier_head_to_original(state_dict))
    assert 'head.weight' in original and 'avgpool_pre_head.1.weight' in (
        original)
    torch.save(original, tmp_path / 'original.pth')
    timm_layout = original_to_timm(original)
    # it is timm's layout: timm's own model takes it strictly
    timm_fasternet('t0', num_classes=3).load_state_dict(timm_layout)
    torch.save(timm_layout, tmp_path / 'timm.pth')

    # The reference: the mmfasternet checkpoint itself through the same
    # tool, computed here whatever ran before (and the top-1 of
    # test_train_then_test_reports_top1 when that ran first).
    reference = top1_of(run_test_tool(
        DEMO_CONFIG, trained['checkpoint'], '--eval', 'accuracy',
        '--cfg-options', *trained['options']))
    assert reference == trained.get('top1', reference)
    for name in ('original.pth', 'timm.pth'):
        out = run_test_tool(DEMO_CONFIG, tmp_path / name, '--eval',
                        'accuracy', '--cfg-options', *trained['options'])
        assert top1_of(out) == reference, name
        assert 'do not match exactly' not in out

    from mmfasternet.models.utils import CheckpointMismatchError
    t1_config = osp.join(REPO, 'configs', 'fasternet_t1_imagenet.py')
    with pytest.raises(CheckpointMismatchError, match='FasterNet-T0'):
        run_tool('test', [t1_config, tmp_path / 'original.pth',
                          '--cfg-options', *loader_options(trained['root'])])


@pytest.mark.parametrize('config', [
    'maskrcnn_fasternet_t0_coco.py', 'upernet_fasternet_t0_ade20k.py',
    'fpn_fasternet_t0_ade20k.py'
])
def test_classifier_checkpoint_initialises_downstream_backbones(
        trained, config):
    """The mmpretrain checkpoint goes into the detection / segmentation
    backbone's init_cfg as it is: no prefix, no conversion."""
    from importlib import import_module

    from mmengine.model import revert_sync_batchnorm
    from mmengine.registry import init_default_scope
    cfg = Config.fromfile(osp.join(REPO, 'configs', config))
    cfg.model.backbone.init_cfg = dict(
        type='Pretrained', checkpoint=str(trained['checkpoint']))
    init_default_scope(cfg.default_scope)
    registry = import_module(f'{cfg.default_scope}.registry')
    model = revert_sync_batchnorm(registry.MODELS.build(cfg.model))
    model.init_weights()
    classifier = torch.load(trained['checkpoint'], map_location='cpu',
                            weights_only=True)['state_dict']
    backbone = model.backbone.state_dict()
    backbone_keys = [key for key in classifier if key.startswith('backbone.')]
    assert len(backbone_keys) > 100
    for key in backbone_keys:
        assert torch.equal(backbone[key[len('backbone.'):]],
                           classifier[key]), key


def test_convert_tool_keeps_the_classifier_head(trained, tmp_path):
    run([tool('model_converters/convert_checkpoint.py'),
         str(trained['checkpoint']), str(tmp_path / 'converted.pth')])
    converted = torch.load(tmp_path / 'converted.pth', weights_only=True)
    classifier = torch.load(trained['checkpoint'], weights_only=True)
    assert torch.equal(converted['state_dict']['head.weight'],
                       classifier['state_dict']['head.fc.weight'])
    assert converted['meta']['arch'] == 't0'


def test_detection_and_segmentation_inferencers(tmp_path):
    """mmdet's DetInferencer and mmseg's MMSegInferencer with our demo
    configs and checkpoints saved by the real model with the dataset meta
    a training run stores (freshly initialised: the wiring, not the
    accuracy, is under test), on a generated image."""
    render_shapes = load_tool('misc/make_demo_data').render_shapes
    image, _ = render_shapes(np.random.default_rng(0), 96, 128)
    image_path = str(tmp_path / 'shapes.jpg')
    image.save(image_path)

    def checkpoint_of(config, scope):
        from mmfasternet.engine.tasks import build_model_from_config
        cfg = Config.fromfile(config)
        assert cfg.default_scope == scope
        model = build_model_from_config(cfg, revert_sync_bn=True, seed=0)
        model.init_weights()
        path = str(tmp_path / f'{scope}.pth')
        torch.save(dict(state_dict=model.state_dict(), meta=dict(
            dataset_meta=dict(cfg.metainfo))),
            path)
        return path

    from mmdet.apis import DetInferencer
    det_config = osp.join(REPO, 'configs', 'demo',
                          'maskrcnn_fasternet_t0_shapes_demo.py')
    detector = DetInferencer(det_config, checkpoint_of(
        det_config, 'mmdet'),
                             device='cpu', show_progress=False)
    result = detector(image_path, out_dir=str(tmp_path / 'det'),
                      no_save_pred=False)
    (prediction, ) = result['predictions']
    assert len(prediction['labels']) == len(prediction['scores']) == len(
        prediction['bboxes'])
    assert all(0 <= label < 3 for label in prediction['labels'])
    assert list((tmp_path / 'det' / 'vis').glob('*.jpg'))

    from mmseg.apis import MMSegInferencer
    seg_config = osp.join(REPO, 'configs', 'demo',
                          'fpn_fasternet_t0_shapes_demo.py')
    segmentor = MMSegInferencer(
        seg_config, checkpoint_of(seg_config, 'mmseg'), device='cpu')
    result = segmentor(image_path, out_dir=str(tmp_path / 'seg'))
    prediction = np.asarray(result['predictions'])
    assert prediction.shape == (96, 128)
    assert set(np.unique(prediction)) <= {0, 1, 2, 3}
    assert list((tmp_path / 'seg').rglob('*.png'))


def test_onnx_export_takes_the_trained_classifier(trained):
    """tools/deployment/export_onnx.py --what classifier reads the mmpretrain
    checkpoint (variant and classes inferred) and its deploy form gives the
    classifier's logits."""
    from mmengine.runner import load_checkpoint

    from mmfasternet.deploy.models import build_model
    exported = build_model(what='classifier',
                           checkpoint=str(trained['checkpoint']))
    classifier = build_classifier(DEMO_CONFIG).eval()
    load_checkpoint(classifier, str(trained['checkpoint']), logger='silent')
    inputs = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        expected = classifier(inputs)
        got = exported(inputs)
    assert got.shape == (2, 3)
    assert (got - expected).abs().max() <= 1e-4 * expected.abs().max()


def test_imagenet_config_evaluates_an_original_release_file(trained,
                                                           tmp_path):
    """The documented command, `tools/test.py configs/fasternet_t0_imagenet.py
    <original .pth>`, on the generated set in the ImageNet layout: the
    real config's ImageNet dataset, 248/224 test pipeline and top-1/top-5
    evaluator, with a 1000-class file in the original release's layout
    (random weights, so only the wiring is checked)."""
    from mmfasternet.models.utils.state_dict_layouts import timm_to_original
    path = tmp_path / 'fasternet_t0-epoch.281-val_acc1.71.9180.pth'
    torch.save(timm_to_original(timm_fasternet('t0').state_dict()), path)
    config = osp.join(REPO, 'configs', 'fasternet_t0_imagenet.py')
    out = run_test_tool(config, path, '--eval', 'accuracy',
                    '--work-dir', tmp_path / 'test', '--cfg-options',
                    'test_dataloader.batch_size=30',
                    *loader_options(trained['root']))
    line = [r for r in out.splitlines() if r.startswith('metrics: ')][-1]
    assert 'accuracy/top1=' in line and 'accuracy/top5=' in line
    assert 'Epoch(test) [3/3]' in out
    # every tensor of the file found its place, and nothing is missing
    assert 'do not match exactly' not in out
