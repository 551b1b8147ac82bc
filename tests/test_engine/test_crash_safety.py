"""A crash while a checkpoint is written costs nothing that was saved, and
a resumed two-process run repeats the losses of every process: real runs of
tools/train.py on the classification demo made tiny, with faults injected
by tests/helpers/fault_hooks.py."""
import os
import signal

import pytest
import torch

from tests.helpers import make_demo_data, run_tool
from tests.helpers.training_runs import (
    dist_train,
    recorded_losses,
    train,
    write_cls_config,
)


@pytest.fixture(scope='module')
def imagenet_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('data') / 'imagenet'
    return make_demo_data('imagenet', root, train=16, val=4, size=40)


@pytest.mark.parametrize('killed', [True, False],
                         ids=['killed-mid-write', 'disk-full-mid-write'])
def test_crash_while_writing_a_checkpoint_loses_nothing(
        tmp_path, imagenet_root, killed):
    config = write_cls_config(
        tmp_path, imagenet_root,
        f"[dict(type='FailCheckpointWriteHook', epoch=2, killed={killed})]")
    work_dir = tmp_path / 'work'
    crashed = train(config, work_dir, expect_ok=False)
    if killed:
        assert crashed.returncode == -signal.SIGXFSZ
        # It died with the new checkpoint half written.
        assert (work_dir / 'epoch_2.pth.partial').is_file()
    else:
        assert crashed.returncode == 1
        assert 'File too large' in crashed.stderr
    assert not (work_dir / 'epoch_2.pth').exists()
    first = work_dir / 'epoch_1.pth'
    assert torch.load(first, weights_only=True)['meta']['epoch'] == 1
    assert (work_dir / 'last_checkpoint').read_text() == str(first)

    # the resumed run: tools/train.py's main in this process
    _, log = run_tool('train', [write_cls_config(tmp_path, imagenet_root),
                                '--work-dir', work_dir, '--resume'])
    assert f'Resuming from {first} (epoch 1, iteration 8)' in log
    assert 'Epoch(train) [2][8/8]' in log and 'Epoch(train) [1]' not in log
    assert sorted(os.listdir(work_dir)) == sorted(
        [name for name in os.listdir(work_dir) if not name.endswith('.pth')]
        + ['epoch_2.pth'])  # the older one removed once the new one was done
    if killed:
        assert 'epoch_2.pth.partial, the partial file' in log
    assert torch.load(work_dir / 'epoch_2.pth',
                      weights_only=True)['meta']['epoch'] == 2


@pytest.mark.parametrize('killed', [True, False],
                         ids=['killed-mid-write', 'disk-full-mid-write'])
def test_crash_while_writing_a_best_checkpoint_keeps_the_previous_best(
        tmp_path, imagenet_root, killed):
    """``save_best``: the previous best checkpoint is deleted only once the
    new one is complete."""
    config = write_cls_config(
        tmp_path, imagenet_root,
        f"[dict(type='FailCheckpointWriteHook', epoch=2, killed={killed}, "
        "stage='val')]",
        checkpoint="save_best='count/evaluations', rule='greater'",
        evaluator="dict(_delete_=True, type='EvaluationCountMetric')")
    work_dir = tmp_path / 'work'
    crashed = train(config, work_dir, expect_ok=False)
    assert crashed.returncode == (-signal.SIGXFSZ if killed else 1), \
        crashed.stdout[-3000:] + crashed.stderr[-3000:]
    best = work_dir / 'best_count_evaluations_epoch_1.pth'
    assert torch.load(best, weights_only=True)['meta']['epoch'] == 1
    assert not (work_dir / 'best_count_evaluations_epoch_2.pth').exists()
    # the epoch checkpoint written before the validation is complete
    assert torch.load(work_dir / 'epoch_2.pth',
                      weights_only=True)['meta']['epoch'] == 2


def test_two_process_resume_restores_the_states_of_every_rank(
        tmp_path, imagenet_root):
    """Killed in epoch 2 of a 2-process run and resumed from epoch_1.pth:
    every process computes the losses of the uninterrupted run, which
    takes the random states of every rank, each from its own seed, and
    a validation between the epochs that leaves them as they were. The
    backbone trains with the options users set under DDP: frozen stages,
    activation checkpointing and the split_mlp PConv form (the detector's
    and segmentor's are in test_distributed.py)."""
    options = ("model['backbone'].update(frozen_stages=2, with_cp=True, "
               "pconv_fw_type='split_mlp')\n")
    result = dist_train(
        write_cls_config(tmp_path, imagenet_root, losses='uninterrupted',
                         extra=options), tmp_path / 'uninterrupted', 29540)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    log = result.stdout + result.stderr
    assert 'Distributed launcher: pytorch' in log and 'GPU number: 2' in log
    work_dir = tmp_path / 'work'
    killed = dist_train(
        write_cls_config(tmp_path, imagenet_root,
                         "[dict(type='KillAtIterHook', iteration=6)]",
                         name='killed.py', losses='resumed', extra=options),
        work_dir, 29541)
    assert killed.returncode != 0
    result = dist_train(
        write_cls_config(tmp_path, imagenet_root, losses='resumed',
                         extra=options), work_dir, 29542, '--resume')
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-5000:]
    state = torch.load(work_dir / 'epoch_2.pth', weights_only=True)
    assert state['meta']['cfg'].count("pconv_fw_type='split_mlp'") == 1
    assert 'epoch_1.pth (epoch 1, iteration 4)' in log
    assert 'Random generator states restored' in log
    for rank in (0, 1):
        expected = recorded_losses(tmp_path, 'uninterrupted', rank)
        resumed = recorded_losses(tmp_path, 'resumed', rank)
        assert sorted(expected) == sorted(resumed) == list(range(1, 9))
        assert [resumed[i] for i in range(5, 9)] == \
            [expected[i] for i in range(5, 9)], rank


