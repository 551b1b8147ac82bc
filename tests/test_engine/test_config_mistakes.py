"""Configuration mistakes are named, with the key to change, before any
work: options that set a variable the file already copied, class names
written as a string, a backbone changed without its neck or heads (in every
detector family of the model zoo), heads left at COCO's classes, the lr
of accumulated batches, batches a BatchNorm layer cannot train on, and
folders a run cannot write to. The real tools run in this process on
small generated sets."""
import os.path as osp

import pytest
from mmengine.config import Config

from tests.helpers import REPO_ROOT, load_tool, make_demo_data

DET_DEMO = osp.join(REPO_ROOT, 'configs', 'demo',
                    'maskrcnn_fasternet_t0_shapes_demo.py')
SEG_DEMO = osp.join(REPO_ROOT, 'configs', 'demo',
                    'fpn_fasternet_t0_shapes_demo.py')
UPERNET_DEMO = osp.join(REPO_ROOT, 'configs', 'demo',
                        'upernet_fasternet_t0_shapes_demo.py')
CLS_DEMO = osp.join(REPO_ROOT, 'configs', 'demo',
                    'fasternet_t0_shapes_demo.py')
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')
TRAIN = load_tool('train')
TEST = load_tool('test')


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp('data')
    make_demo_data('coco', root / 'coco', 4, 2, 64)
    make_demo_data('ade20k', root / 'ade', 4, 2, 64)
    make_demo_data('imagenet', root / 'imagenet', 16, 3, 40)
    return root


def options(config, data, batch=2):
    """The demo config on the generated data: one short epoch (or two
    iterations), no validation, no worker processes."""
    kind = {DET_DEMO: 'coco', SEG_DEMO: 'ade', UPERNET_DEMO: 'ade',
            CLS_DEMO: 'imagenet'}[config]
    root = data / kind
    result = []
    for loader in LOADERS:
        result += [f'{loader}.dataset.data_root={root}/',
                   f'{loader}.num_workers=0',
                   f'{loader}.persistent_workers=False']
    result += [f'train_dataloader.batch_size={batch}', 'val_dataloader=None',
               'val_cfg=None', 'val_evaluator=None',
               'default_hooks.checkpoint.save_last=False',
               'default_hooks.logger.interval=1']
    if config == DET_DEMO:
        ann = f'{root}/annotations/instances_val2017.json'
        result += [f'test_evaluator.ann_file={ann}',
                   'train_dataloader.dataset.pipeline.2.scale=(64,64)',
                   'test_dataloader.dataset.pipeline.1.scale=(64,64)',
                   'train_cfg.max_epochs=1']
    elif config in (SEG_DEMO, UPERNET_DEMO):
        result += ['train_cfg.max_iters=2']
    else:
        result += ['train_cfg.max_epochs=1']
    return result


def train(config, work_dir, cfg_options, extra=()):
    TRAIN.main([str(config), '--work-dir', str(work_dir), *extra,
                '--cfg-options', *cfg_options])
    return open(next(work_dir.glob('*/*.log'))).read()


def refused(call, *args):
    """The exception (SystemExit included) ``call`` raises; the test fails
    if it raises none."""
    with pytest.raises(BaseException) as error:
        call(*args)
    return error.value


# -- 1. options that set a variable of the file ------------------------------

@pytest.mark.parametrize('config,option,holder', [
    (CLS_DEMO, 'max_epochs=2', 'train_cfg.max_epochs=2'),
    (SEG_DEMO, 'crop_size=(64,64)', 'model.data_preprocessor.size'),
    (DET_DEMO, 'image_scale=(64,64)', 'train_dataloader.dataset.pipeline.2'
     '.scale'),
    (DET_DEMO, 'data_root=elsewhere/', 'train_dataloader.dataset.data_root'),
], ids=['max_epochs', 'crop_size', 'image_scale', 'data_root'])
def test_an_option_setting_a_variable_of_the_file_is_refused(
        config, option, holder, data, tmp_path, capsys):
    """``--cfg-options max_epochs=2`` on a config whose file copied
    ``max_epochs`` into ``train_cfg`` would train the file's 20 epochs;
    such an option is one error naming the keys to set instead, before
    anything is built (tools/train.py and tools/test.py alike)."""
    name = option.split('=')[0]
    error = refused(TRAIN.main, [config, '--work-dir', str(tmp_path / 'w'),
                                 '--cfg-options', option])
    assert isinstance(error, SystemExit)
    message = str(error)
    assert f'{name} is a variable of the config file' in message
    assert holder in message
    assert not (tmp_path / 'w').exists()
    checkpoint = tmp_path / 'model.pth'
    checkpoint.touch()
    error = refused(TEST.main, [config, str(checkpoint), '--cfg-options',
                                option])
    assert isinstance(error, SystemExit) and error.code == 2
    assert f'{name} is a variable of the config file' in \
        capsys.readouterr().err


# -- 1. classes written as a string -------------------------------------------

def test_classes_written_as_a_string_name_the_fix(data, tmp_path,
                                                   release_weights_cached):
    """The custom-dataset template with one class written ``('circle')``
    (a string): the error says so and how to write it, instead of listing
    the letters as missing class names."""
    from tests.test_datasets.test_dataset_checks import filled_template
    config = filled_template(tmp_path, data / 'coco', ('circle', ))
    text = open(config).read().replace("classes = ('circle',)",
                                       "classes = ('circle')")
    open(config, 'w').write(text)
    error = refused(train, config, tmp_path / 'work', ['val_cfg=None'])
    assert type(error).__name__ == 'DatasetConfigError', error
    message = str(error)
    assert "is the string 'circle', not a tuple" in message
    assert "classes = ('circle',)" in message
    assert "'c'" not in message and 'num_classes' not in message


# -- 1. a backbone changed without its neck or heads --------------------------

@pytest.mark.parametrize('config,change,expected', [
    (DET_DEMO, 'model.backbone.arch=t1',
     'set model.neck.in_channels=[64, 128, 256, 512]'),
    (UPERNET_DEMO, 'model.backbone.out_indices=(1,2,3)',
     'model.decode_head.in_index [0, 1, 2, 3] reads map(s) [3]'),
    (UPERNET_DEMO, 'model.backbone.arch=t1',
     'set model.auxiliary_head.in_channels=256'),
    (CLS_DEMO, 'model.backbone.arch=t1', 'set model.head.in_channels=512'),
], ids=['detection-arch', 'upernet-out_indices', 'upernet-arch',
        'classification-arch'])
def test_a_backbone_changed_without_its_neck_is_named_before_training(
        config, change, expected, data, tmp_path, capsys):
    error = refused(train, config, tmp_path / 'work',
                    options(config, data) + [change])
    assert type(error).__name__ == 'ChannelMismatchError', error
    assert expected in str(error)
    assert 'Iter(train)' not in str(capsys.readouterr())
    checkpoint = tmp_path / 'model.pth'
    checkpoint.touch()  # checked before any weight is loaded
    error = refused(TEST.main, [config, str(checkpoint), '--work-dir',
                                str(tmp_path / 'test'), '--cfg-options',
                                *options(config, data), change])
    assert type(error).__name__ == 'ChannelMismatchError', error
    assert expected in str(error)


# The model zoo's detectors of other families than Mask R-CNN, on the
# generated shapes: (config, the keys of its heads' num_classes, FasterNet-T0
# widths for its neck, which the S backbone does not return).
FAMILIES = {
    'rtmdet': ('rtmdet_fasternet_s_coco.py', ['model.bbox_head'],
               [80, 160, 320], [256, 512, 1024]),
    'rtmdet-ins': ('rtmdet-ins_fasternet_s_coco.py', ['model.bbox_head'],
                   [80, 160, 320], [256, 512, 1024]),
    'retinanet': ('retinanet_fasternet_s_coco.py', ['model.bbox_head'],
                  [80, 160, 320], [256, 512, 1024]),
    'faster-rcnn': ('fasterrcnn_fasternet_s_coco.py',
                    ['model.roi_head.bbox_head'], [40, 80, 160, 320],
                    [128, 256, 512, 1024]),
    'cascade': ('cascade-maskrcnn_fasternet_s_coco.py',
                [f'model.roi_head.bbox_head.{i}' for i in range(3)] +
                ['model.roi_head.mask_head'], [40, 80, 160, 320],
                [128, 256, 512, 1024]),
}


def coco_options(data, train_dataset='train_dataloader.dataset'):
    """A COCO config on the generated shapes (three classes), without
    validation or weight loading."""
    root = data / 'coco'
    result = [f'{train_dataset}.data_root={root}/',
              f'{train_dataset}.metainfo.classes=(circle,square,triangle)',
              f'test_dataloader.dataset.data_root={root}/',
              'model.backbone.init_cfg=None', 'val_dataloader=None',
              'val_cfg=None', 'val_evaluator=None']
    for loader in LOADERS[::2]:
        result += [f'{loader}.num_workers=0',
                   f'{loader}.persistent_workers=False']
    return result


def test_a_neck_of_another_variant_is_named_before_training(
        data, tmp_path, capsys):
    """RTMDet with FasterNet-S and the CSPNeXt-PAFPN widths of T0: one error
    from tools/train.py naming the key and the widths that fit."""
    config, heads, wrong, right = FAMILIES['rtmdet']
    error = refused(train, osp.join(REPO_ROOT, 'configs', config),
                    tmp_path / 'work',
                    coco_options(data) +
                    [f'{head}.num_classes=3' for head in heads] +
                    [f'model.neck.in_channels={wrong}'.replace(' ', '')])
    assert type(error).__name__ == 'ChannelMismatchError', error
    assert f'model.neck.in_channels is {wrong}' in str(error)
    assert f'set model.neck.in_channels={right}' in str(error)
    assert 'Iter(train)' not in str(capsys.readouterr())


@pytest.mark.parametrize('family', sorted(FAMILIES))
def test_every_family_names_a_neck_of_another_variant(family):
    """The check tools/train.py and tools/test.py run (ChannelCheckHook)
    reads each family's neck: CSPNeXt-PAFPN (RTMDet, RTMDet-Ins) and FPN
    (RetinaNet from stride 8, Faster and Cascade R-CNN)."""
    from mmfasternet.engine.hooks.channel_check_hook import channel_problems
    from mmfasternet.engine.tasks import build_model_from_config
    config, _, wrong, right = FAMILIES[family]
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', config))
    cfg.model.neck.in_channels = wrong
    problems = channel_problems(build_model_from_config(cfg))
    assert len(problems) == 1
    assert problems[0].startswith(f'model.neck.in_channels is {wrong}, but '
                                  "model.backbone (arch 's'")
    assert f'set model.neck.in_channels={right}' in problems[0]


def test_maps_the_neck_never_reads_are_found():
    """RetinaNet's FPN reads strides 8-32 (``start_level=1`` of four maps in
    mmdet's ResNet config): a FasterNet returning the stride-4 map too
    computes it for nothing, and its output norm gets no gradient. The
    shipped configs return only what their necks read."""
    from mmfasternet.engine.hooks.channel_check_hook import (
        unread_backbone_maps,
    )
    from mmfasternet.engine.tasks import build_model_from_config
    shipped = osp.join(REPO_ROOT, 'configs', 'retinanet_fasternet_t0_coco.py')
    assert unread_backbone_maps(build_model_from_config(shipped)) == []
    cfg = Config.fromfile(shipped)
    cfg.model.backbone.out_indices = (0, 1, 2, 3)
    cfg.model.neck.update(in_channels=[40, 80, 160, 320], start_level=1)
    assert unread_backbone_maps(build_model_from_config(cfg)) == [0]
    assert unread_backbone_maps(build_model_from_config(DET_DEMO)) == []


@pytest.mark.parametrize('family', sorted(FAMILIES) + ['cascade-ms-3x'])
def test_heads_left_at_coco_classes_are_named_before_training(
        family, data, tmp_path):
    """A COCO config trained on three classes with every head left at 80:
    one error naming each head (all three of Cascade's box heads), before
    the model is built. The 3x schedule's data is wrapped in a
    RepeatDataset."""
    if family == 'cascade-ms-3x':
        config = 'cascade-maskrcnn_fasternet_s_ms-3x_coco.py'
        heads = FAMILIES['cascade'][1]
        cfg_options = coco_options(data, 'train_dataloader.dataset.dataset')
    else:
        config, heads = FAMILIES[family][:2]
        cfg_options = coco_options(data)
    error = refused(train, osp.join(REPO_ROOT, 'configs', config),
                    tmp_path / 'work', cfg_options)
    assert type(error).__name__ == 'DatasetConfigError', error
    message = str(error)
    for head in heads:
        assert f'{head}.num_classes = 80' in message
    assert message.count('.num_classes = 80') == len(heads)
    assert 'has 3 classes' in message and 'Set num_classes=3' in message
    assert not list(tmp_path.glob('work/*/*.log'))


# -- 1. --auto-scale-lr with accumulated batches ------------------------------

@pytest.mark.parametrize('counts,ratio', [(4, '1.0'), (2, '0.5'),
                                          (1, '0.25')])
def test_auto_scale_lr_follows_the_effective_batch(counts, ratio, data,
                                                   tmp_path):
    """Batch 8 on one process, base batch 32: the lr is scaled by the
    effective batch, 8 x accumulative_counts, over 32."""
    log = train(CLS_DEMO, tmp_path / 'work',
                options(CLS_DEMO, data, batch=8) +
                [f'optim_wrapper.accumulative_counts={counts}'],
                extra=['--auto-scale-lr'])
    assert f'Scaling the original LR by {ratio}' in log
    assert ('--auto-scale-lr: optim_wrapper.accumulative_counts' in log) == (
        counts > 1)


# -- 2. batches BatchNorm cannot train on -------------------------------------

def test_a_batch_of_one_through_pyramid_pooling_is_refused(data, tmp_path):
    """UperNet's pyramid pooling reduces every map to 1x1 before a
    BatchNorm: with one sample per batch, torch would stop the first
    iteration."""
    error = refused(train, UPERNET_DEMO, tmp_path / 'work',
                    options(UPERNET_DEMO, data, batch=1))
    assert type(error).__name__ == 'BatchTooSmallError', error
    message = str(error)
    assert 'model.decode_head.psp_modules.0' in message
    assert 'train_dataloader.batch_size is 1' in message
    assert 'one value per channel' in message


def test_an_epoch_ending_with_a_batch_of_one_is_refused(data, tmp_path):
    """The classification demo's crops end FasterNet's last stage at 1x1:
    15 images in batches of 2 leave a last batch of one sample, which
    would stop the run at the end of the first epoch; with drop_last it
    trains."""
    cfg_options = options(CLS_DEMO, data) + [
        'train_dataloader.dataset.indices=15']
    error = refused(train, CLS_DEMO, tmp_path / 'work', cfg_options)
    assert type(error).__name__ == 'BatchTooSmallError', error
    message = str(error)
    assert 'model.backbone.' in message
    assert 'an epoch ends with a batch of one sample (15 samples per ' \
        'process, train_dataloader.batch_size=2)' in message
    assert 'train_dataloader.drop_last=True' in message
    log = train(CLS_DEMO, tmp_path / 'dropped',
                cfg_options + ['train_dataloader.drop_last=True'])
    assert 'Epoch(train) [1][7/7]' in log


# -- 5. folders a run cannot write to -----------------------------------------

def test_a_folder_the_run_cannot_write_is_named_before_training(data,
                                                                tmp_path):
    blocked = tmp_path / 'a_file'
    blocked.write_text('not a folder')
    error = refused(train, CLS_DEMO, tmp_path / 'work',
                    options(CLS_DEMO, data) +
                    [f'default_hooks.checkpoint.out_dir={blocked}/ckpts'])
    assert isinstance(error, SystemExit)
    assert 'default_hooks.checkpoint.out_dir: cannot write into' in \
        str(error)
    assert not (tmp_path / 'work').exists()
