"""INT8 models on the user's data: compare_runtimes.py calibrates on the
config's training images (never the evaluated ones), keeps the model next
to the checkpoint and reuses it, marks it accepted or refused by the
metric drop, and tools/test.py uses only an accepted model calibrated with
the same settings."""
import json
import os
import os.path as osp

import pytest

from tests.helpers import REPO_ROOT, load_tool, make_demo_data

pytest.importorskip('onnxruntime')
pytest.importorskip('onnx')

CONFIG = osp.join(REPO_ROOT, 'configs', 'demo', 'fasternet_t0_shapes_demo.py')


@pytest.fixture(scope='module')
def demo(tmp_path_factory):
    """12 training and 6 validation images of the classification demo, and
    a seeded random checkpoint of its model."""
    from mmengine.runner import save_checkpoint

    from mmfasternet.engine.tasks import build_model_from_config, read_config
    from tests.helpers import randomize_norm_stats
    base = tmp_path_factory.mktemp('int8_calibration')
    root = make_demo_data('imagenet', base / 'imagenet', 12, 6, 72)
    options = []
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        options += [f'{loader}.dataset.data_root={root}',
                    f'{loader}.num_workers=0',
                    f'{loader}.persistent_workers=False']
    model = build_model_from_config(read_config(CONFIG), seed=0)
    model.init_weights()
    randomize_norm_stats(model)
    checkpoint = str(base / 'model.pth')
    save_checkpoint({'state_dict': model.state_dict(), 'meta': {}},
                    checkpoint)
    return dict(root=root, base=base, options=options, checkpoint=checkpoint)


def compare(demo, *args):
    return load_tool('deployment/compare_runtimes').main([
        CONFIG, demo['checkpoint'], '--work-dir', str(demo['base'] / 'work'),
        *args, '--cfg-options', *demo['options']])


def run_test_tool(demo, *args):
    return load_tool('test').main([
        CONFIG, demo['checkpoint'], '--work-dir', str(demo['base'] / 'test'),
        '--deploy', *args, '--cfg-options', *demo['options']])


def records(demo):
    folder = demo['checkpoint'] + '.int8'
    found = {}
    for name in sorted(os.listdir(folder)):
        if name.endswith('.json'):
            with open(osp.join(folder, name)) as f:
                found[name] = json.load(f)
    return found


def test_calibrate_check_reuse_and_test(demo, capsys):
    # 1. calibrated on 5 of the 12 training images, evenly spaced
    assert compare(demo, '--runtimes', 'onnxruntime-int8', '--calib-images',
                   '5', '--max-drop', '100') == 0
    out = capsys.readouterr().out
    assert 'INT8 model calibrated on 5 training images' in out
    (name, record), = records(demo).items()
    train_list = (demo['root'] / 'meta' / 'train.txt').read_text().split()
    train_files = [str(demo['root'] / 'train' / f) for f in train_list[::2]]
    assert record['calibration']['files'] == [
        train_files[i] for i in (0, 3, 6, 8, 11)]
    assert record['calibration']['input_shapes'] == [[1, 3, 64, 64]]
    assert record['calib_images'] == 5
    onnx_file = demo['checkpoint'] + '.int8/' + name[:-5] + '.onnx'
    mtime = os.stat(onnx_file).st_mtime_ns
    assert record['evaluations']['onnxruntime-int8']['accepted'] is True

    # 2. the same settings: reused, not calibrated again
    assert compare(demo, '--runtimes', 'openvino-int8', '--calib-images',
                   '5', '--max-drop', '100') == 0
    out = capsys.readouterr().out
    assert f'INT8 model reused: {onnx_file}' in out
    assert 'calibrated on' not in out.replace('calibrated with', '')
    assert os.stat(onnx_file).st_mtime_ns == mtime
    (_, record), = records(demo).items()
    assert set(record['evaluations']) == {'onnxruntime-int8',
                                          'openvino-int8'}

    # 3. tools/test.py runs the accepted model, checked on its first batch
    metrics = run_test_tool(demo, '--backbone-runtime', 'onnxruntime-int8',
                        '--calib-images', '5')
    assert 'accuracy/top1' in metrics
    assert 'backbone runtime: onnxruntime-int8 (requested' in \
        capsys.readouterr().out

    # 4. ... and refuses one calibrated with other settings
    with pytest.raises(SystemExit) as exit_:
        run_test_tool(demo, '--backbone-runtime', 'onnxruntime-int8',
                  '--calib-images', '6')
    assert exit_.value.code == 2
    error = capsys.readouterr().err
    assert 'no INT8 model of this checkpoint was calibrated with 6 images' \
        in error
    assert 'differing in: calib_images (5 there)' in error
    assert ('python tools/deployment/compare_runtimes.py '
            f'{CONFIG} {demo["checkpoint"]} --runtimes onnxruntime-int8 '
            '--calib-images 6') in error


def test_a_drop_above_max_drop_is_refused_and_not_used(demo, capsys):
    """--max-drop -50 demands a gain of 50 points, which no INT8 model
    gives: the tool refuses it (exit status 1) and tools/test.py will not
    use it, naming the tool."""
    assert compare(demo, '--runtimes', 'openvino-int8', '--calib-images',
                   '4', '--max-drop', '-50') == 1
    out = capsys.readouterr().out
    assert 'REFUSED: drop above --max-drop -50.0' in out
    record, = [r for r in records(demo).values() if r['calib_images'] == 4]
    evaluation = record['evaluations']['openvino-int8']
    assert evaluation['accepted'] is False and evaluation['max_drop'] == -50
    with pytest.raises(SystemExit):
        run_test_tool(demo, '--backbone-runtime', 'openvino-int8',
                  '--calib-images', '4')
    error = capsys.readouterr().err
    assert 'lost more accuracy in openvino-int8 than allowed' in error
    assert 'compare_runtimes.py' in error and '--max-drop DROP' in error
    # not checked in the other INT8 runtime: not used there either
    with pytest.raises(SystemExit):
        run_test_tool(demo, '--backbone-runtime', 'onnxruntime-int8',
                  '--calib-images', '4')
    assert 'was not checked for accuracy in onnxruntime-int8' in \
        capsys.readouterr().err


def test_calibration_never_reads_the_evaluated_images(demo):
    """A training set that holds evaluated images is refused."""
    from mmengine.registry import init_default_scope

    from mmfasternet.deploy.calibration import calibration_dataset
    from mmfasternet.engine.tasks import load_config
    cfg, _ = load_config(CONFIG, cfg_options=dict(
        option.split('=', 1) for option in demo['options']
        if 'data_root' in option))
    init_default_scope('mmpretrain')
    _, indices, paths = calibration_dataset(cfg, 3)
    assert indices == [0, 6, 11] and all('/train/' in p for p in paths)
    with pytest.raises(ValueError, match='also in the evaluated set'):
        calibration_dataset(cfg, 3, evaluated=[paths[1]])
