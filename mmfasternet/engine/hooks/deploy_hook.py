"""Testing in the inference form."""
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from ...deploy import switch_to_deploy

__all__ = ['DeployHook']


@HOOKS.register_module()
class DeployHook(Hook):
    """Switch the model to its inference form (see
    :func:`mmfasternet.deploy.switch_to_deploy`) once the checkpoint is
    loaded, right before testing starts. Used by ``tools/test.py
    --deploy``; a config names it as
    ``custom_hooks = [dict(type='DeployHook')]``."""

    priority = 'VERY_HIGH'

    def before_test(self, runner) -> None:
        model = runner.model
        switch_to_deploy(getattr(model, 'module', model))
        runner.logger.info('FasterNet switched to its deploy form.')
