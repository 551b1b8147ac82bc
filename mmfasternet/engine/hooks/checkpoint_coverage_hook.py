"""Refuse a checkpoint that does not hold the model it is loaded into."""
from typing import Dict, List, Optional

import torch
from mmengine.hooks import Hook
from mmengine.model import BaseTTAModel, is_model_wrapper
from mmengine.registry import HOOKS

from ...models.utils.checkpoint_diagnosis import (
    CheckpointMismatchError,
    describe_checkpoint,
)

# The parameters a model may be tested with although the file lacks them:
# BatchNorm step counters are not weights.
_NOT_WEIGHTS = ('num_batches_tracked', )


def _shorten(keys: List[str], limit: int = 4) -> str:
    shown = ', '.join(keys[:limit])
    return shown + (f', ... ({len(keys)} in all)' if len(keys) > limit else '')


@HOOKS.register_module()
class CheckpointCoverageHook(Hook):
    """Check a whole-model checkpoint against the model before the Runner
    loads it (``load_from``, ``resume``, the checkpoint of ``tools/test.py``).

    mmengine loads whole models non-strictly: tensors the file lacks, or has
    in another shape, keep their initial values, and a warning is all that
    is said, so a backbone-only file passed to ``tools/test.py`` evaluates a
    randomly initialised detector and prints mAP 0.0 with exit code 0.

    - ``strict=True`` (testing, resuming): every tensor of the model must be
      in the file with its shape; otherwise :class:`CheckpointMismatchError`
      says what the file is (e.g. "a FasterNet-T0 backbone (original
      layout)") and what to do with it.
    - ``strict=False`` (``load_from`` to fine-tune): partial files are fine
      (e.g. another number of classes), as long as the backbone is covered;
      one log line says what was loaded, what keeps its initial values and
      what in the file was not used (mmengine's warning is then silent).

    Runs after the model's own load pre-hooks (mmpretrain classifiers
    rename original FasterNet checkpoints there), so it sees the names that
    are actually loaded. ``tools/train.py`` and ``tools/test.py`` install it.
    """

    priority = 'VERY_HIGH'

    def __init__(self, strict: bool = True):
        self.strict = strict

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        model = runner.model
        # mmengine loads into what DDP and test-time augmentation wrap.
        while is_model_wrapper(model) or isinstance(model, BaseTTAModel):
            model = model.module
        meta = checkpoint.get('meta') if isinstance(checkpoint, dict) else None
        source = getattr(runner, '_load_from', None) or 'the checkpoint'
        handle = None

        def check_once(state_dict, prefix, *args):
            handle.remove()
            self._check(runner, model, state_dict, meta, source)

        handle = model._register_load_state_dict_pre_hook(check_once)

    def _check(self, runner, model, state_dict: Dict[str, torch.Tensor],
               meta: Optional[dict], source: str) -> None:
        own = model.state_dict()
        missing = [key for key in own if key not in state_dict
                   and not key.endswith(_NOT_WEIGHTS)]
        wrong_shape = [key for key in own if key in state_dict
                       and state_dict[key].shape != own[key].shape]
        unused = [key for key in state_dict if key not in own]
        loaded = sum(key in state_dict for key in own) - len(wrong_shape)
        problems = []
        if missing:
            problems.append(f'{len(missing)} of the model\'s {len(own)} '
                            f'tensors are not in it ({_shorten(missing)})')
        if wrong_shape:
            first = wrong_shape[0]
            problems.append(
                f'{len(wrong_shape)} differ in shape ({first}: '
                f'{tuple(state_dict[first].shape)} in the file vs '
                f'{tuple(own[first].shape)} in the model)')
        backbone_fresh = [key for key in missing + wrong_shape
                          if key.startswith('backbone.')
                          and not key.split('.')[1].startswith('norm')]
        if problems and (self.strict or not loaded or backbone_fresh):
            raise self._error(source, state_dict, meta, problems, loaded)

        # Accepted: make mmengine load exactly what was checked, without its
        # own warning, and say it in one line.
        for key in wrong_shape + unused:
            del state_dict[key]
        for key in missing + wrong_shape:
            state_dict[key] = own[key]
        line = f'{source}: {loaded} of {len(own)} model tensors loaded'
        if missing or wrong_shape:
            line += (f'; kept as initialised: {_shorten(wrong_shape)}'
                     f'{" (shape differs)" if wrong_shape else ""}'
                     f'{"; " if wrong_shape and missing else ""}'
                     f'{_shorten(missing)}'
                     f'{" (not in the file)" if missing else ""}')
        if unused:
            line += f'; not used (not in the model): {_shorten(unused)}'
        runner.logger.info(line + '.')

    def _error(self, source: str, state_dict: Dict[str, torch.Tensor],
               meta: Optional[dict], problems: List[str],
               loaded: int) -> CheckpointMismatchError:
        what = describe_checkpoint(state_dict, meta)
        if 'backbone (' in what:
            fix = ('It initialises a backbone only: put it in the config as '
                   'model.backbone.init_cfg=dict(type=\'Pretrained\', '
                   f'checkpoint={source!r}) and train; to test, pass the '
                   'checkpoint of a trained model.')
        elif self.strict:
            fix = ('Use the config the checkpoint was trained with (a '
                   'training run writes it into its work dir), or train/'
                   'fine-tune this config from it with load_from first.')
        else:
            fix = ('To start a FasterNet backbone from it, put it in '
                   'model.backbone.init_cfg=dict(type=\'Pretrained\', '
                   f'checkpoint={source!r}) instead of load_from.')
        purpose = 'test or resume' if self.strict else 'fine-tune'
        return CheckpointMismatchError(
            f'{source} does not hold this config\'s model, so it cannot '
            f'{purpose} it: {"; ".join(problems)}; {loaded} tensors match. '
            f'The file holds {what}. {fix}')
