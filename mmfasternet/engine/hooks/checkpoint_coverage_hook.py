"""Refuse a checkpoint that does not hold the model it is meant to test or
resume."""
from mmengine.hooks import Hook
from mmengine.model import BaseTTAModel, is_model_wrapper
from mmengine.registry import HOOKS

from ...models.utils.checkpoint_loading import require_whole_model

__all__ = ['CheckpointCoverageHook']


@HOOKS.register_module()
class CheckpointCoverageHook(Hook):
    """Check a whole-model checkpoint against the model before the Runner
    loads it, when the run tests it or resumes from it.

    mmengine's Runner loads checkpoints non-strictly: tensors the file
    lacks, or has in another shape, keep their initial values with a
    warning, so a file of another model tests or resumes as if it were
    this one (a detector evaluated from random weights, mAP 0.0, exit code
    0). With this hook the load follows
    :func:`~mmfasternet.models.utils.require_whole_model`: every tensor of
    the model must be in the file with its shape, or one
    ``CheckpointMismatchError`` says what the file holds and what to do with
    it, and nothing is loaded. ``tools/test.py`` and ``tools/train.py
    --resume`` install it; fine-tuning (``load_from``) is left to mmengine,
    where the FasterNet backbone checks its own part.
    """

    priority = 'VERY_HIGH'

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        model = runner.model
        # mmengine loads into what DDP and test-time augmentation wrap.
        while is_model_wrapper(model) or isinstance(model, BaseTTAModel):
            model = model.module
        meta = checkpoint.get('meta') if isinstance(checkpoint, dict) else None
        require_whole_model(model, runner.cfg.get('load_from') or
                            'the checkpoint', meta)
