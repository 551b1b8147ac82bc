"""Datasets: damaged files and mismatched metadata are found before hours
are spent. The real tools (train.py, test.py, misc/check_dataset.py) run
in this process on small generated sets, damaged the way real ones are."""
import glob
import io
import itertools
import json
import os
import os.path as osp
import re
import shutil

import numpy as np
import pytest
import torch

from tests.helpers import load_tool, make_demo_data

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
REALDATA = '/work/shared/realdata'
DET_DEMO = osp.join(REPO, 'configs', 'demo',
                    'maskrcnn_fasternet_t0_shapes_demo.py')
SEG_DEMO = osp.join(REPO, 'configs', 'demo', 'fpn_fasternet_t0_shapes_demo.py')
CLS_DEMO = osp.join(REPO, 'configs', 'demo', 'fasternet_t0_shapes_demo.py')
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')
_RUNS = itertools.count()


TRAIN = load_tool('train')
TEST = load_tool('test')


def make_data(kind, root, train, val, size=(64, 64)):
    return make_demo_data(kind, root, train, val, size)


def copy_of(root, tmp_path):
    return shutil.copytree(root, tmp_path / osp.basename(root))


def truncate(path, keep=0.5):
    data = open(path, 'rb').read()
    with open(path, 'wb') as f:
        f.write(data[:int(len(data) * keep)])


def damage_four_ways(paths):
    """Truncated, empty, not an image, missing: the damage of interrupted
    copies and downloads."""
    truncate(paths[0])
    open(paths[1], 'wb').close()
    with open(paths[2], 'w') as f:
        f.write('<html><body>403 Forbidden</body></html>')
    os.remove(paths[3])
    return [str(p) for p in paths[:4]]


def loader_options(root, workers=0, batch=2):
    options = []
    for loader in LOADERS:
        options += [f'{loader}.dataset.data_root={root}',
                    f'{loader}.num_workers={workers}',
                    f'{loader}.persistent_workers=False',
                    f'{loader}.batch_size={batch}']
    return options + ['randomness.seed=0', 'default_hooks.logger.interval=1',
                      f'experiment_name=datasets{next(_RUNS)}']


def det_options(root, workers=0, batch=2):
    ann = f'{root}/annotations/instances_val2017.json'
    return loader_options(f'{root}/', workers, batch) + [
        f'val_evaluator.ann_file={ann}', f'test_evaluator.ann_file={ann}',
        # the pipelines' Resize (the config's image_scale is already used)
        'train_dataloader.dataset.pipeline.2.scale=(64,64)',
        'val_dataloader.dataset.pipeline.1.scale=(64,64)',
        'test_dataloader.dataset.pipeline.1.scale=(64,64)',
        'train_cfg.max_epochs=1',
        'train_cfg.val_interval=100', 'default_hooks.checkpoint.interval=100',
        # fewer RoIs: the mask head dominates the time of a step
        'model.train_cfg.rpn_proposal.max_per_img=32',
        'model.train_cfg.rcnn.sampler.num=8'
    ]


# Training tests stop after training: no validation, no checkpoint.
TRAIN_ONLY = ['val_dataloader=None', 'val_cfg=None', 'val_evaluator=None',
              'default_hooks.checkpoint.save_last=False']


def seg_options(root):
    return loader_options(root) + [
        'train_cfg.max_iters=1', 'train_cfg.val_interval=100',
        'default_hooks.checkpoint.interval=100'
    ]


def cls_options(root, workers=0):
    return loader_options(root, workers, batch=6) + [
        'train_cfg.max_epochs=1', 'train_cfg.val_interval=100',
        'default_hooks.checkpoint.interval=100'
    ]


def train(config, work_dir, options, extra=()):
    """tools/train.py in this process; returns its log."""
    TRAIN.main([config, '--work-dir', str(work_dir), *extra,
                '--cfg-options', *options])
    logs = glob.glob(str(work_dir / '*' / '*.log'))
    assert len(logs) == 1, logs
    return open(logs[0]).read()


def raised(call, *args, **kwargs):
    """The exception ``call`` raises, or None. Tests compare its type by
    name, so that on code without these checks the failure shows what
    happened instead (another exception, or none)."""
    try:
        call(*args, **kwargs)
    except Exception as error:  # noqa: BLE001 (the test inspects it)
        return error
    return None


def expect_error(error, name):
    assert type(error).__name__ == name, f'expected {name}, got {error!r}'
    return str(error)


def skipped_files(log):
    return set(re.findall(r'Skipped a damaged training sample: (\S+) ', log))


def recorded(config, tmp_path):
    """``config`` with a hook that records the files of every sample the
    model is trained on; returns the new config and a function that reads
    the recorded files back."""
    record = tmp_path / 'trained_on.txt'
    child = tmp_path / ('recorded_' + osp.basename(config))
    child.write_text(
        f'_base_ = {config!r}\n'
        'custom_imports = dict(imports=[\n'
        "    'mmfasternet', 'mmfasternet.models.heads.fasternet_head',\n"
        "    'tests.helpers.fault_hooks'], allow_failed_imports=False)\n"
        f"custom_hooks = [dict(type='RecordTrainedSamplesHook', "
        f'path={str(record)!r})]\n')

    def trained_on():
        return set(record.read_text().split()) if record.exists() else set()

    return str(child), trained_on


@pytest.fixture(scope='module')
def coco_data(tmp_path_factory):
    return make_data('coco', tmp_path_factory.mktemp('coco') / 'demo_coco',
                     6, 2)


@pytest.fixture(scope='module')
def ade_data(tmp_path_factory):
    return make_data('ade20k', tmp_path_factory.mktemp('ade') /
                     'ADEChallengeData2016', 4, 2)


@pytest.fixture(scope='module')
def imagenet_data(tmp_path_factory):
    return make_data('imagenet', tmp_path_factory.mktemp('imagenet') /
                     'demo_imagenet', 6, 3, size=(48, 48))


# -- A. damaged files ---------------------------------------------------------

def real_photos():
    return sorted(
        p for p in glob.glob(osp.join(REALDATA, '**', '*.*'), recursive=True)
        if p.lower().endswith(('.jpg', '.jpeg', '.png')))


def test_truncation_is_found_at_every_point_and_whole_files_pass(tmp_path):
    """A truncated JPEG or PNG is damaged wherever it was cut, also where a
    decoder fills the missing part with grey; whole real photos (and a JPEG
    with bytes after its end marker) are not."""
    from PIL import Image, ImageFile

    from mmfasternet.datasets import damage_of_bytes, damage_of_file
    photos = real_photos()
    if not photos:  # the shared real photos are absent: generated ones
        root = make_data('ade20k', tmp_path / 'ade', 3, 0, size=(96, 128))
        photos = sorted(glob.glob(str(root / '*' / '*' / '*.*')))
    assert [p for p in photos if damage_of_file(p)] == []
    for path in photos[::max(1, len(photos) // 12)]:
        data = open(path, 'rb').read()
        for keep in (16, len(data) // 10, len(data) // 2, len(data) - 100,
                     len(data) - 2, len(data) - 1):
            reason = damage_of_bytes(data[:keep])
            assert reason is not None and 'truncated' in reason, (path, keep)
        if data.startswith(b'\xff\xd8'):
            assert damage_of_bytes(data + b'\x00' * 4 + b'trailer' * 300) \
                is None
    jpeg = next(p for p in photos if p.lower().endswith(('.jpg', '.jpeg')))
    data = open(jpeg, 'rb').read()
    cut = data[:len(data) // 2]
    # What makes the check necessary: Pillow with LOAD_TRUNCATED_IMAGES
    # decodes the half file, the bottom filled with one flat value.
    previous = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = True
    try:
        partial = np.asarray(Image.open(io.BytesIO(cut)).convert('L'))
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = previous
    assert partial.shape[0] > 0 and np.ptp(partial[-4:]) == 0
    assert 'truncated JPEG' in damage_of_bytes(cut)
    assert damage_of_bytes(b'') == 'empty file (0 bytes)'


def test_detection_training_skips_damaged_images_in_worker_processes(
        coco_data, tmp_path):
    """A truncated, an empty, a non-image and a missing JPEG among the
    training images of the detection demo: training runs to the end, each
    file is named in a warning, and the skips made in the two dataloader
    worker processes are counted."""
    root = copy_of(coco_data, tmp_path)
    damaged = damage_four_ways(sorted((root / 'train2017').glob('*.jpg')))
    config, trained_on = recorded(DET_DEMO, tmp_path)
    log = train(config, tmp_path / 'work',
                det_options(root, workers=2, batch=6) + TRAIN_ONLY)
    assert 'Epoch(train) [1][1/1]' in log
    assert skipped_files(log) == set(damaged)
    assert len(trained_on()) == 2  # the two whole images of the six
    assert not trained_on() & set(damaged)
    counted = int(re.search(r'Epoch 1: (\d+) damaged training sample',
                            log).group(1))
    # every damaged sample is drawn once by the sampler, and again whenever
    # a random replacement is damaged too
    assert counted >= 4
    assert f'Damaged training samples skipped during this run: {counted}.' \
        in log


def test_on_damaged_error_stops_at_the_first_damaged_image(imagenet_data,
                                                           tmp_path):
    root = copy_of(imagenet_data, tmp_path)
    path = sorted((root / 'train').glob('*/*.JPEG'))[0]
    truncate(path)
    message = expect_error(
        raised(train, CLS_DEMO, tmp_path / 'work',
               cls_options(root) + TRAIN_ONLY,
               extra=['--on-damaged', 'error']), 'DamagedFileError')
    assert str(path) in message
    assert 'truncated JPEG' in message
    assert 'check_dataset.py' in message


def test_training_skips_a_truncated_image_that_the_decoder_would_fill(
        imagenet_data, tmp_path, monkeypatch):
    """A truncated training JPEG that the pipeline's decoder (Pillow with
    ``LOAD_TRUNCATED_IMAGES``) would decode, grey-filled, is skipped like
    any damaged file, and the model is never trained on it."""
    from PIL import ImageFile
    root = copy_of(imagenet_data, tmp_path)
    path = sorted((root / 'train').glob('*/*.JPEG'))[0]
    truncate(path)
    monkeypatch.setattr(ImageFile, 'LOAD_TRUNCATED_IMAGES', True)
    config, trained_on = recorded(CLS_DEMO, tmp_path)
    log = train(config, tmp_path / 'work', cls_options(root) + TRAIN_ONLY + [
        'train_dataloader.dataset.pipeline.0.imdecode_backend=pillow'])
    assert 'Epoch(train) [1][1/1]' in log
    assert skipped_files(log) == {str(path)}
    whole = {str(p) for p in (root / 'train').glob('*/*.JPEG') if p != path}
    assert trained_on() == whole  # and one of them took its place


def test_damaged_test_image_is_one_error_even_when_the_decoder_fills_it(
        imagenet_data, tmp_path, monkeypatch):
    """Evaluation stops on a damaged image (skipping would change the
    metrics), also when the pipeline's decoder would decode the half file
    and fill the rest with grey."""
    from PIL import ImageFile

    from tests.helpers import build_from_config
    root = copy_of(imagenet_data, tmp_path)
    path = sorted((root / 'val').glob('*.JPEG'))[1]
    truncate(path)
    checkpoint = tmp_path / 'model.pth'
    model = build_from_config('demo/fasternet_t0_shapes_demo.py')
    torch.save({'state_dict': model.state_dict()}, checkpoint)
    monkeypatch.setattr(ImageFile, 'LOAD_TRUNCATED_IMAGES', True)
    options = cls_options(root) + [
        'test_dataloader.dataset.pipeline.0.imdecode_backend=pillow'
    ]
    message = expect_error(
        raised(TEST.main, [CLS_DEMO, str(checkpoint), '--work-dir',
                           str(tmp_path / 'test'), '--cfg-options',
                           *options]), 'DamagedFileError')
    assert str(path) in message
    assert 'truncated JPEG' in message
    assert 'evaluation stops' in message


def test_segmentation_training_skips_a_truncated_label_map(ade_data,
                                                           tmp_path):
    root = copy_of(ade_data, tmp_path)
    label = sorted((root / 'annotations' / 'training').glob('*.png'))[0]
    truncate(label, keep=0.7)
    config, trained_on = recorded(SEG_DEMO, tmp_path)
    log = train(config, tmp_path / 'work', seg_options(root) + TRAIN_ONLY)
    assert 'Iter(train) [1/1]' in log
    assert skipped_files(log) == {str(label)}
    labels = {p for p in trained_on() if p.endswith('.png')}
    assert labels and str(label) not in labels
    assert 'truncated PNG' in log
    counted = int(re.search(r'skipped during this run: (\d+)', log).group(1))
    assert counted >= 1


def wrong_label_maps(root):
    """Two of the training label maps of an ADE20K-layout set made wrong:
    one saved as an RGB image (R = G = B = the class index), one holding a
    value that is no class of the seg demo's 4. Returns their paths."""
    from PIL import Image
    labels = sorted((root / 'annotations' / 'training').glob('*.png'))
    Image.open(labels[0]).convert('RGB').save(labels[0])
    values = np.array(Image.open(labels[1]))
    values[:8, :8] = 9
    Image.fromarray(values).save(labels[1])
    return str(labels[0]), str(labels[1])


def test_segmentation_training_skips_label_maps_that_are_no_classes(
        ade_data, tmp_path):
    """An RGB label map (mmseg would warn, then iteration 1 would die in
    the loss naming no file) and one with values beyond the classes are
    skipped like damaged files, each named with what is wrong, and never
    trained on; with --on-damaged error the first one stops the run."""
    root = copy_of(ade_data, tmp_path)
    rgb, beyond = wrong_label_maps(root)
    config, trained_on = recorded(SEG_DEMO, tmp_path)
    options = seg_options(root) + TRAIN_ONLY + ['train_cfg.max_iters=2']
    log = train(config, tmp_path / 'work', options)
    assert 'Iter(train) [2/2]' in log
    assert skipped_files(log) == {rgb, beyond}
    assert f'{rgb} (listed in' in log and \
        'a label map of shape (64, 64, 3)' in log
    assert 'values [9] beyond the 4 classes (highest valid: 4' in log
    assert not trained_on() & {rgb, beyond}
    message = expect_error(
        raised(train, SEG_DEMO, tmp_path / 'stop', options,
               extra=['--on-damaged', 'error']), 'DamagedFileError')
    assert rgb in message or beyond in message


def test_classification_training_skips_damaged_images_in_workers(
        imagenet_data, tmp_path):
    root = copy_of(imagenet_data, tmp_path)
    images = sorted((root / 'train').glob('*/*.JPEG'))
    truncate(images[0])
    with open(images[1], 'w') as f:
        f.write('not an image')
    config, trained_on = recorded(CLS_DEMO, tmp_path)
    log = train(config, tmp_path / 'work',
                cls_options(root, workers=2) + TRAIN_ONLY)
    assert 'Epoch(train) [1][1/1]' in log
    assert skipped_files(log) == {str(images[0]), str(images[1])}
    assert not trained_on() & {str(images[0]), str(images[1])}
    counted = int(re.search(r'Epoch 1: (\d+) damaged training sample',
                            log).group(1))
    assert counted >= 2


# -- B. class names and num_classes -------------------------------------------

def filled_template(tmp_path, root, classes):
    """configs/examples/maskrcnn_fasternet_s_custom_dataset.py with its
    four marked lines filled in, as a user does."""
    template = osp.join(REPO, 'configs', 'examples',
                        'maskrcnn_fasternet_s_custom_dataset.py')
    text = open(template).read()
    replacements = [
        ("'../maskrcnn_fasternet_s_coco.py'",
         repr(osp.join(REPO, 'configs', 'maskrcnn_fasternet_s_coco.py'))),
        ("data_root = 'my_data/'", f"data_root = '{root}/'"),
        ("classes = ('cat', 'dog')", f'classes = {tuple(classes)!r}'),
        ("'annotations/train.json'", "'annotations/instances_train2017.json'"),
        ("'annotations/val.json'", "'annotations/instances_val2017.json'"),
        ("dict(img='images/')", "dict(img='train2017/')"),
        ("dict(img='images/')", "dict(img='val2017/')"),
    ]
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new, 1)
    config = tmp_path / 'my_maskrcnn.py'
    config.write_text(text)
    return str(config)


def test_misspelt_class_name_is_an_error_before_training(
        coco_data, tmp_path, release_weights_cached):
    config = filled_template(tmp_path, coco_data,
                             ('circle', 'sqaure', 'triangle'))
    message = expect_error(
        raised(train, config, tmp_path / 'work', ['experiment_name=typo']),
        'DatasetConfigError')
    assert "'sqaure' not in the categories of" in message
    assert "('circle', 'square', 'triangle')" in message
    assert not (tmp_path / 'work').exists()  # nothing was built


def test_class_order_other_than_the_json_is_an_error(
        coco_data, tmp_path, release_weights_cached):
    config = filled_template(tmp_path, coco_data,
                             ('square', 'circle', 'triangle'))
    message = expect_error(
        raised(train, config, tmp_path / 'work', ['experiment_name=order']),
        'DatasetConfigError')
    assert ("is not the order of the categories in "
            f"{coco_data}/annotations/instances_train2017.json: "
            "('circle', 'square', 'triangle')") in message


@pytest.mark.parametrize('ann_file', ['meta/train.txt', ''],
                         ids=['list', 'folders'])
def test_classification_class_order_other_than_the_labels_is_an_error(
        imagenet_data, tmp_path, ann_file):
    options = cls_options(imagenet_data) + [
        f'{loader}.dataset.metainfo.classes=[square,circle,triangle]'
        for loader in LOADERS
    ] + [f'train_dataloader.dataset.ann_file={ann_file}']
    message = expect_error(raised(train, CLS_DEMO, tmp_path / 'work',
                                  options), 'DatasetConfigError')
    assert "('square', 'circle', 'triangle')" in message
    if ann_file:
        assert 'circle/ has label 0' in message
    else:
        assert "sorted order of the class folders" in message


@pytest.mark.parametrize('task', ['detection', 'segmentation',
                                  'classification', 'preprocessor'])
def test_head_num_classes_other_than_the_classes_is_an_error(
        task, coco_data, ade_data, imagenet_data, tmp_path,
        release_weights_cached):
    if task == 'detection':
        config, options = DET_DEMO, det_options(coco_data) + [
            'model.roi_head.mask_head.num_classes=80'
        ]
        expected = ['model.roi_head.mask_head.num_classes = 80',
                    'has 3 classes']
    elif task == 'segmentation':
        config = osp.join(REPO, 'configs', 'upernet_fasternet_t0_ade20k.py')
        options = seg_options(ade_data) + [
            'model.auxiliary_head.num_classes=19'
        ]
        expected = ['model.auxiliary_head.num_classes = 19',
                    'has 150 classes']
    elif task == 'classification':
        config, options = CLS_DEMO, cls_options(imagenet_data) + [
            'model.head.num_classes=1000'
        ]
        expected = ['model.head.num_classes = 1000', 'has 3 classes']
    else:  # the batch mixup/cutmix of mmpretrain's data preprocessor
        config, options = CLS_DEMO, cls_options(imagenet_data) + [
            'data_preprocessor.num_classes=5'
        ]
        expected = ['data_preprocessor.num_classes = 5', 'has 3 classes']
    message = expect_error(raised(train, config, tmp_path / 'work', options),
                           'DatasetConfigError')
    for text in expected:
        assert text in message
    assert 'Set num_classes=' in message


@pytest.mark.parametrize('config', [
    'maskrcnn_fasternet_s_ms-3x_coco.py', 'upernet_fasternet_t0_ade20k.py',
    'fasternet_t0_imagenet.py'
])
def test_shipped_configs_fit_their_classes(config):
    """No false alarm on the COCO (through RepeatDataset), ADE20K (decode
    and auxiliary heads) and ImageNet (head and data preprocessor) configs;
    the demo configs pass the check in the training tests above."""
    from mmengine.config import Config

    from mmfasternet.datasets.config_checks import num_classes_problems
    cfg = Config.fromfile(osp.join(REPO, 'configs', config))
    assert num_classes_problems(cfg, 'train') == []


def test_coco_categories_are_read_without_parsing_the_rest(tmp_path):
    from mmfasternet.datasets import DatasetConfigError, read_coco_categories
    categories = [dict(id=3, name='b', supercategory='x'),
                  dict(id=1, name='a', supercategory='x')]
    images = [dict(id=i, file_name=f'{i}.jpg', width=9, height=9,
                   categories='"categories": [not this]')
              for i in range(3000)]
    decoy = dict(description='"categories": [{"id": 9, "name": "decoy"}]')
    for name, document in [
        ('last', dict(info=decoy, images=images, annotations=[],
                      categories=categories)),
        ('first', dict(categories=categories, info=decoy, images=images)),
        ('pretty', dict(images=images[:5], categories=categories)),
    ]:
        path = tmp_path / f'{name}.json'
        path.write_text(json.dumps(document, indent=2 if name == 'pretty'
                                   else None))
        assert read_coco_categories(str(path)) == categories, name
    path = tmp_path / 'none.json'
    path.write_text(json.dumps(dict(images=images[:3])))
    with pytest.raises(DatasetConfigError, match='no "categories" list'):
        read_coco_categories(str(path))
    real = osp.join(REALDATA, 'coco128', 'annotations',
                    'instances_train2017.json')
    if osp.exists(real):
        with open(real) as f:
            assert read_coco_categories(real) == json.load(f)['categories']


# -- C. missing dataset -------------------------------------------------------

@pytest.mark.parametrize('tool,config,path,key,section', [
    ('train', 'maskrcnn_fasternet_s_coco.py', 'data/coco/',
     'train_dataloader.dataset.data_root', 'COCO'),
    ('test', 'upernet_fasternet_t0_ade20k.py', 'data/ade/ADEChallengeData2016',
     'test_dataloader.dataset.data_root', 'ADE20K'),
    ('train', 'fasternet_t0_imagenet.py', 'data/imagenet',
     'train_dataloader.dataset.data_root', 'ImageNet'),
    ('train', 'maskrcnn_fasternet_s_coco.py',
     'data/coco/annotations/instances_train2017.json',
     'train_dataloader.dataset.ann_file', 'COCO'),
], ids=['coco-train', 'ade20k-test', 'imagenet-train', 'coco-no-ann-file'])
def test_missing_dataset_is_one_error_naming_path_key_and_docs(
        tool, config, path, key, section, tmp_path, monkeypatch,
        release_weights_cached):
    monkeypatch.chdir(tmp_path)
    if key.endswith('ann_file'):
        for folder in ('train2017', 'val2017'):
            os.makedirs(tmp_path / 'data' / 'coco' / folder)
    config = osp.join(REPO, 'configs', config)
    (tmp_path / 'none.pth').touch()  # found: the dataset is what is missing
    argv = ([config] if tool == 'train' else [config, 'none.pth']) + [
        '--work-dir', str(tmp_path / 'work')
    ]
    message = expect_error(raised((TRAIN if tool == 'train' else TEST).main,
                                  argv), 'DatasetNotFoundError')
    line = next(row for row in message.splitlines() if repr(path) in row)
    assert key in line
    assert f'docs/datasets.md, section "{section}"' in message
    anchor = re.search(r'docs/datasets\.md#([\w-]+)', message).group(1)
    headings = re.findall(r'^## (.+)$', open(
        osp.join(REPO, 'docs', 'datasets.md')).read(), re.M)
    assert section in headings
    assert anchor == section.lower().replace(' ', '-')
    assert not (tmp_path / 'work').exists()


# -- the full check ----------------------------------------------------------

def check_dataset(argv, capsys):
    code = load_tool('misc/check_dataset').main(argv)
    return code, capsys.readouterr().out


def test_check_dataset_lists_damaged_files_and_size_mismatches(
        coco_data, tmp_path, capsys):
    root = copy_of(coco_data, tmp_path)
    damaged = damage_four_ways(sorted((root / 'train2017').glob('*.jpg')))
    ann_path = root / 'annotations' / 'instances_val2017.json'
    annotations = json.loads(ann_path.read_text())
    annotations['images'][0]['width'] = 80
    ann_path.write_text(json.dumps(annotations))
    options = det_options(root)
    code, out = check_dataset([DET_DEMO, '--cfg-options', *options], capsys)
    assert code == 1
    for path, reason in zip(damaged, ['truncated JPEG', 'empty file',
                                      'not an image', 'missing']):
        assert re.search(rf'{re.escape(path)}: {reason}', out), (path, out)
    first = root / 'val2017' / annotations['images'][0]['file_name']
    assert f'{first}: 64x64 (width x height), but the annotation says ' \
        '80x64' in out
    assert 'test: test_dataloader.dataset is the dataset of ' \
        'val_dataloader.dataset' in out
    # train.py --check-data runs the same check first
    message = expect_error(raised(train, DET_DEMO, tmp_path / 'work', options,
                                  extra=['--check-data']),
                           'DatasetCheckError')
    assert f'{damaged[0]}: truncated JPEG' in message


def test_check_dataset_compares_sizes_as_the_loader_turns_the_image(
        tmp_path, capsys):
    """Image sizes are compared with the annotations after the EXIF
    orientation that mmcv's loader applies: a photo stored on its side with
    the orientation tag that turns it upright matches its 64x48 annotation;
    an upright 64x48 photo whose tag turns it on its side (48x64 as loaded)
    does not."""
    from PIL import Image
    root = make_data('coco', tmp_path / 'coco', 2, 2, size=(48, 64))
    images = sorted((root / 'val2017').glob('*.jpg'))
    turned = Image.Exif()
    turned[0x0112] = 6  # rotate 90 degrees clockwise to display
    upright = Image.open(images[0])
    # stored as the camera held it: 48 wide, 64 high, turned by the tag
    upright.transpose(Image.Transpose.ROTATE_90).save(images[0], exif=turned)
    Image.open(images[1]).save(images[1], exif=turned)
    code, out = check_dataset([DET_DEMO, '--split', 'val', '--cfg-options',
                               *det_options(root)], capsys)
    assert code == 1, out
    assert str(images[0]) not in out
    assert (f'{images[1]}: 48x64 (width x height) after its EXIF orientation'
            ' (stored as 64x48), but the annotation says 64x48') in out


def test_check_dataset_segmentation_and_classification(
        ade_data, imagenet_data, tmp_path, capsys):
    from PIL import Image
    root = copy_of(ade_data, tmp_path)
    labels = sorted((root / 'annotations' / 'training').glob('*.png'))
    truncate(labels[0], keep=0.8)
    Image.open(labels[1]).resize((32, 32)).save(labels[1])
    Image.fromarray(np.full((64, 64), 9, np.uint8)).save(labels[2])
    code, out = check_dataset(
        [SEG_DEMO, '--split', 'train', '--cfg-options',
         *seg_options(root)], capsys)
    assert code == 1
    assert f'{labels[0]}: truncated PNG' in out
    assert f'{labels[1]}: label map 32x32, image 64x64' in out
    assert f'{labels[2]}: values [9] beyond the 4 classes' in out
    Image.open(labels[3]).convert('RGB').save(labels[3])
    code, out = check_dataset(
        [SEG_DEMO, '--split', 'train', '--cfg-options',
         *seg_options(root)], capsys)
    assert f'{labels[3]}: a label map of shape (64, 64, 3)' in out

    root = copy_of(imagenet_data, tmp_path)
    lines = (root / 'meta' / 'val.txt').read_text().splitlines()
    lines[0] = lines[0].rsplit(' ', 1)[0] + ' 7'
    (root / 'meta' / 'val.txt').write_text('\n'.join(lines) + '\n')
    code, out = check_dataset([CLS_DEMO, '--cfg-options', *cls_options(root)],
                              capsys)
    assert code == 1
    assert 'label 7 outside [0, 3) for 3 classes' in out


@pytest.mark.skipif(not osp.isdir(osp.join(REALDATA, 'coco128')),
                    reason='the shared real photos are absent')
def test_check_dataset_passes_real_coco128(capsys):
    root = osp.join(REALDATA, 'coco128') + '/'
    ann = 'annotations/instances_train2017.json'
    options = [f'val_evaluator.ann_file={root}{ann}']
    for loader in LOADERS:
        options += [f'{loader}.dataset.data_root={root}',
                    f'{loader}.dataset.ann_file={ann}',
                    f'{loader}.dataset.data_prefix.img=train2017/']
    code, out = check_dataset(
        [osp.join(REPO, 'configs', 'maskrcnn_fasternet_t0_coco.py'),
         '--split', 'train', 'val', '--cfg-options', *options], capsys)
    assert code == 0, out
    assert 'train: train_dataloader.dataset: 126 samples' in out
    assert 'val: val_dataloader.dataset: 128 samples' in out
    assert 'No problems found.' in out
