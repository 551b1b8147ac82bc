"""Wrong weights are refused on every whole-model loading path, with the
real cause named; legitimate partial loads (fine-tuning with another number
of classes) keep working and are reported in one line.

Paths: tools/test.py's checkpoint, tools/train.py's load_from and --resume
(Runner), the mmdet/mmseg/mmpretrain inferencers and init helpers (plain
mmengine loading, where the FasterNet backbone checks its own part)."""
import os.path as osp
from collections import OrderedDict

import pytest
import torch

from mmfasternet import FasterNet
from mmfasternet.models.utils import CheckpointMismatchError
from tests.helpers import load_tool, make_demo_data

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DET_DEMO = osp.join(REPO, 'configs', 'demo',
                    'maskrcnn_fasternet_t0_shapes_demo.py')
SEG_DEMO = osp.join(REPO, 'configs', 'demo', 'fpn_fasternet_t0_shapes_demo.py')
CLS_DEMO = osp.join(REPO, 'configs', 'demo', 'fasternet_t0_shapes_demo.py')



@pytest.fixture(scope='module')
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp('data')
    for kind, size in (('coco', 64), ('ade20k', 64), ('imagenet', 40)):
        make_demo_data(kind, root / kind, train=4, val=2, size=size)
    return root


def data_options(config, data_root):
    options = []
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        options += [f'{loader}.dataset.data_root={data_root}/',
                    f'{loader}.num_workers=0',
                    f'{loader}.persistent_workers=False']
    if config == DET_DEMO:
        ann = f'{data_root}/annotations/instances_val2017.json'
        options += [f'val_evaluator.ann_file={ann}',
                    f'test_evaluator.ann_file={ann}',
                    # the demo's Resize steps, at the data's 64x64
                    'train_dataloader.dataset.pipeline.2.scale=(64,64)',
                    'test_dataloader.dataset.pipeline.1.scale=(64,64)']
    return options


def build_model(config, **model_changes):
    from mmfasternet.engine.tasks import build_model_from_config, read_config
    cfg = read_config(config, {f'model.{key}': value
                               for key, value in model_changes.items()})
    return build_model_from_config(cfg, seed=0)


def save_model(path, model, classes=None):
    meta = dict(dataset_meta=dict(classes=classes)) if classes else {}
    torch.save(dict(meta=meta, state_dict=model.state_dict()), path)
    return str(path)


@pytest.fixture(scope='module')
def files(tmp_path_factory, data):
    """Checkpoints a user may hold, made from the real models."""
    root = tmp_path_factory.mktemp('checkpoints')
    backbone = FasterNet(arch='t0', out_norm=False)
    original = OrderedDict(backbone.state_dict())
    original['avgpool_pre_head.1.weight'] = torch.zeros(1280, 320, 1, 1)
    original['head.weight'] = torch.zeros(1000, 1280)
    original['head.bias'] = torch.zeros(1000)
    torch.save(original, root / 'fasternet_t0-imagenet.pth')
    t1 = FasterNet(arch='t1', out_norm=False)
    torch.save(t1.state_dict(), root / 'fasternet_t1-imagenet.pth')
    coco80 = build_model(
        DET_DEMO, **{'roi_head.bbox_head.num_classes': 80,
                     'roi_head.mask_head.num_classes': 80})
    # a real training checkpoint (meta, optimizer, message hub) of the
    # classifier, as tools/train.py writes it
    load_tool('train').main(
        [CLS_DEMO, '--work-dir', str(root / 'cls_run'), '--cfg-options',
         *data_options(CLS_DEMO, data / 'imagenet'),
         'train_dataloader.batch_size=2', 'train_cfg.max_epochs=1',
         'train_cfg.val_interval=100', 'default_hooks.checkpoint.interval=1'])
    return dict(
        backbone=str(root / 'fasternet_t0-imagenet.pth'),
        other_variant=str(root / 'fasternet_t1-imagenet.pth'),
        detector=save_model(root / 'det.pth', build_model(DET_DEMO),
                            ('circle', 'square', 'triangle')),
        detector_80=save_model(root / 'det80.pth', coco80,
                               tuple(f'c{i}' for i in range(80))),
        segmentor=save_model(root / 'seg.pth', build_model(SEG_DEMO)),
        classifier=save_model(root / 'cls.pth', build_model(CLS_DEMO)),
        classifier_run=str(root / 'cls_run' / 'epoch_1.pth'),
    )


@pytest.mark.parametrize('config,checkpoint,expected', [
    # the reported input: an ImageNet backbone file evaluated as a detector
    (DET_DEMO, 'backbone', ['a FasterNet-T0 backbone (original layout)',
                            'model.backbone.init_cfg']),
    (DET_DEMO, 'classifier', ['a classifier (backbone, head)',
                              '(backbone.norm0.weight']),
    (DET_DEMO, 'detector_80', ['trained on 80 classes',
                               'roi_head.bbox_head.fc_cls.weight: (81, 256)'
                               ' in the file vs (4, 256) in the model']),
    (SEG_DEMO, 'detector', ['a detector (backbone, neck, roi_head, rpn_head)'
                            ' with a FasterNet-T0 backbone']),
    (CLS_DEMO, 'segmentor', ['a segmentor (backbone, decode_head, neck)',
                             'head.fc.weight']),
], ids=['backbone->det', 'classifier->det', 'det80->det3', 'det->seg',
        'seg->cls'])
def test_tools_test_refuses_a_file_that_is_not_the_model(
        data, files, config, checkpoint, expected):
    test_tool = load_tool('test')
    kind = {DET_DEMO: 'coco', SEG_DEMO: 'ade20k', CLS_DEMO: 'imagenet'}
    argv = [config, files[checkpoint], '--work-dir',
            str(data / 'work'), '--cfg-options',
            *data_options(config, data / kind[config])]
    with pytest.raises(CheckpointMismatchError) as error:
        test_tool.main(argv)
    message = str(error.value)
    assert 'does not hold this config\'s model, so it cannot test' in message
    for text in expected:
        assert text in message


def test_tools_test_takes_the_right_checkpoint(data, files):
    test_tool = load_tool('test')
    metrics = test_tool.main(
        [DET_DEMO, files['detector'], '--work-dir', str(data / 'work'),
         '--eval', 'bbox', '--cfg-options',
         *data_options(DET_DEMO, data / 'coco')])
    assert 'coco/bbox_mAP' in metrics


def train_argv(data, files, *extra):
    return [DET_DEMO, '--work-dir', str(data / 'train'), '--cfg-options',
            *data_options(DET_DEMO, data / 'coco'), 'train_cfg.max_epochs=1',
            'train_cfg.val_begin=100', 'default_hooks.logger.interval=1',
            *extra]


def checkpoints_in(work_dir):
    return sorted(p.name for p in work_dir.glob('*.pth')) \
        if work_dir.exists() else []


def test_load_from_fine_tunes_a_detector_of_other_classes(data, files):
    """Fine-tuning a 80-class detector on 3 classes: every tensor but the
    class-specific layers is loaded (trained with lr 0 for one epoch, the
    saved weights are the file's), those layers keep their initial values."""
    train_tool = load_tool('train')
    work_dir = data / 'fine_tune'
    argv = train_argv(data, files, f'load_from={files["detector_80"]}',
                      'optim_wrapper.optimizer.lr=0')
    argv[argv.index('--work-dir') + 1] = str(work_dir)
    train_tool.main(argv)
    source = torch.load(files['detector_80'], weights_only=True)['state_dict']
    tuned = torch.load(work_dir / 'epoch_1.pth',
                       weights_only=True)['state_dict']
    buffers = ('running_mean', 'running_var', 'num_batches_tracked')
    class_layers = {key for key in tuned
                    if tuned[key].shape != source[key].shape}
    assert class_layers == {
        f'roi_head.{head}.{layer}.{kind}'
        for head, layer in (('bbox_head', 'fc_cls'), ('bbox_head', 'fc_reg'),
                            ('mask_head', 'conv_logits'))
        for kind in ('weight', 'bias')}
    for key in set(tuned) - class_layers:
        if not key.endswith(buffers):
            assert torch.equal(tuned[key], source[key]), key


def test_load_from_a_backbone_file_points_to_init_cfg(data, files):
    """A backbone file as load_from would leave the whole detector but the
    backbone at its initial weights: refused before the first iteration."""
    train_tool = load_tool('train')
    work_dir = data / 'backbone_load_from'
    argv = train_argv(data, files, f'load_from={files["backbone"]}')
    argv[argv.index('--work-dir') + 1] = str(work_dir)
    with pytest.raises(CheckpointMismatchError) as error:
        train_tool.main(argv)
    assert "model.backbone.init_cfg=dict(type='Pretrained'" in str(
        error.value)
    assert checkpoints_in(work_dir) == []


def test_resume_refuses_another_model(data, files):
    """A real training checkpoint of the classifier (its FasterNet-T0
    backbone fits the detector's) cannot resume the detector."""
    train_tool = load_tool('train')
    work_dir = data / 'resume_other'
    argv = train_argv(data, files)
    argv[argv.index('--work-dir') + 1] = str(work_dir)
    with pytest.raises(CheckpointMismatchError) as error:
        train_tool.main(argv[:3] + ['--resume', files['classifier_run']]
                        + argv[3:])
    assert 'a classifier (backbone, head)' in str(
        error.value)
    assert checkpoints_in(work_dir) == []


def test_inferencers_and_init_helpers_refuse_wrong_backbone_weights(
        files, tmp_path):
    """No Runner here: mmengine's load_checkpoint loads non-strictly, and
    the FasterNet backbone refuses what is meant for it."""
    from mmdet.apis import DetInferencer, init_detector
    from mmpretrain import ImageClassificationInferencer
    from mmpretrain.apis import get_model
    from mmseg.apis import MMSegInferencer, init_model
    no_backbone = 'no tensor for its FasterNet backbone (none under ' \
                  "'backbone.')"
    with pytest.raises(CheckpointMismatchError, match=r'init_cfg') as error:
        DetInferencer(DET_DEMO, weights=files['backbone'], device='cpu')
    assert no_backbone in str(error.value)
    with pytest.raises(CheckpointMismatchError, match='init_cfg'):
        init_detector(DET_DEMO, files['backbone'], device='cpu')
    with pytest.raises(CheckpointMismatchError, match='init_cfg'):
        MMSegInferencer(SEG_DEMO, weights=files['backbone'], device='cpu')
    with pytest.raises(CheckpointMismatchError, match='init_cfg'):
        init_model(SEG_DEMO, files['backbone'], device='cpu')
    with pytest.raises(CheckpointMismatchError, match='FasterNet-T1'):
        ImageClassificationInferencer(CLS_DEMO,
                                      pretrained=files['other_variant'],
                                      device='cpu')
    with pytest.raises(CheckpointMismatchError, match='FasterNet-T1'):
        get_model(CLS_DEMO, pretrained=files['other_variant'])
    # and the right files load on the same paths
    DetInferencer(DET_DEMO, weights=files['detector'], device='cpu')
    init_model(SEG_DEMO, files['segmentor'], device='cpu')
    get_model(CLS_DEMO, pretrained=files['backbone'])


@pytest.mark.parametrize('tool,argv', [
    ('test', [DET_DEMO, 'work_dirs/nowhere/epoch_12.pth']),
    ('train', [DET_DEMO, '--resume', 'work_dirs/nowhere/epoch_12.pth']),
    ('train', [DET_DEMO, '--cfg-options',
               'load_from=work_dirs/nowhere/epoch_12.pth']),
], ids=['test-checkpoint', 'train-resume', 'train-load_from'])
def test_a_missing_checkpoint_is_one_error_before_anything_is_built(
        tool, argv, capsys, data):
    # The data is there: tools/test.py checks the datasets before the
    # checkpoint, and the test must not depend on data/demo_coco existing.
    options = data_options(DET_DEMO, data / 'coco')
    argv = argv + options if '--cfg-options' in argv else [
        *argv, '--cfg-options', *options]
    with pytest.raises(SystemExit) as error:
        load_tool(tool).main(argv)
    message = str(error.value) + capsys.readouterr().err
    assert "no file 'work_dirs/nowhere/epoch_12.pth'" in message
    assert 'does not exist' in message  # the folder, said too
