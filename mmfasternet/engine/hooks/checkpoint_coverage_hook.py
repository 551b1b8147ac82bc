"""Refuse a checkpoint that does not hold the model it is meant to test or
resume."""
from typing import Dict, List, Optional

import torch
from mmengine.hooks import Hook
from mmengine.model import BaseTTAModel, is_model_wrapper
from mmengine.registry import HOOKS

from ...models.utils.checkpoint_diagnosis import (
    CheckpointMismatchError,
    describe_checkpoint,
    shorten_keys,
)

__all__ = ['CheckpointCoverageHook']


@HOOKS.register_module()
class CheckpointCoverageHook(Hook):
    """Check a whole-model checkpoint against the model before the Runner
    loads it, when the run tests it or resumes from it.

    mmengine's Runner loads checkpoints non-strictly: tensors the file
    lacks, or has in another shape, keep their initial values with a
    warning, so a file of another model tests or resumes as if it were
    this one (a detector evaluated from random weights, mAP 0.0, exit code
    0). With this hook every tensor of the model must be in the file with
    its shape; otherwise :class:`CheckpointMismatchError` says what the
    file holds (e.g. "a FasterNet-T0 backbone (original layout)", "a
    detector (...) trained on 80 classes") and what to do with it, and
    nothing is loaded.

    The check runs as a load-state-dict pre-hook of the model, after the
    model's own (mmpretrain's classifier renames original FasterNet
    checkpoints there), so it sees the names that are actually loaded.
    ``tools/test.py`` and ``tools/train.py --resume`` install it; fine-tuning
    (``load_from``) is left to mmengine, where the FasterNet backbone checks
    its own part.
    """

    priority = 'VERY_HIGH'

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        model = runner.model
        # mmengine loads into what DDP and test-time augmentation wrap.
        while is_model_wrapper(model) or isinstance(model, BaseTTAModel):
            model = model.module
        meta = checkpoint.get('meta') if isinstance(checkpoint, dict) else None
        source = runner.cfg.get('load_from') or 'the checkpoint'
        handle = None

        def check_once(module, state_dict, prefix, *args):
            handle.remove()
            self._check(model, state_dict, meta, source)

        handle = model.register_load_state_dict_pre_hook(check_once)

    def _check(self, model, state_dict: Dict[str, torch.Tensor],
               meta: Optional[dict], source: str) -> None:
        own = model.state_dict()
        missing = [key for key in own if key not in state_dict
                   and not key.endswith('num_batches_tracked')]
        wrong_shape = [key for key in own if key in state_dict
                       and state_dict[key].shape != own[key].shape]
        if not missing and not wrong_shape:
            return
        problems = []
        if missing:
            problems.append(f'{len(missing)} of the model\'s {len(own)} '
                            f'tensors are not in it ({shorten_keys(missing)})')
        if wrong_shape:
            first = wrong_shape[0]
            problems.append(
                f'{len(wrong_shape)} differ in shape ({first}: '
                f'{tuple(state_dict[first].shape)} in the file vs '
                f'{tuple(own[first].shape)} in the model)')
        loaded = sum(key in state_dict for key in own) - len(wrong_shape)
        raise _mismatch(source, state_dict, meta, problems, loaded)


def _mismatch(source: str, state_dict: Dict[str, torch.Tensor],
              meta: Optional[dict], problems: List[str],
              loaded: int) -> CheckpointMismatchError:
    what = describe_checkpoint(state_dict, meta)
    if 'backbone (' in what:
        fix = ('It initialises a backbone only: put it in the config as '
               'model.backbone.init_cfg=dict(type=\'Pretrained\', '
               f'checkpoint={source!r}) and train; to test, pass the '
               'checkpoint of a trained model.')
    else:
        fix = ('Use the config the checkpoint was trained with (a training '
               'run writes it into its work dir), or fine-tune this config '
               'from it with load_from first.')
    return CheckpointMismatchError(
        f'{source} does not hold this config\'s model, so it cannot test '
        f'or resume it: {"; ".join(problems)}; {loaded} tensors match. The '
        f'file holds {what}. {fix}')
