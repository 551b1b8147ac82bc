"""Testing in the inference form."""
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from ...deploy import switch_to_deploy
from ...deploy.runtime import (
    BackboneRuntime,
    check_backbone_runtime,
    use_backbone_runtime,
)

__all__ = ['DeployHook']


@HOOKS.register_module()
class DeployHook(Hook):
    """Switch the model to its inference form (see
    :func:`mmfasternet.deploy.switch_to_deploy`) once the checkpoint is
    loaded, right before testing starts, and run its backbone in
    ``backbone_runtime`` (:mod:`mmfasternet.deploy.runtime`; the heads
    stay in PyTorch). Used by ``tools/test.py --deploy``; a config names it
    as ``custom_hooks = [dict(type='DeployHook')]``.

    Args:
        backbone_runtime (str): one of
            :data:`~mmfasternet.deploy.runtime.BACKBONE_RUNTIMES`;
            ``'auto'`` (default) takes onnxruntime where it is at least
            5% faster than eager PyTorch on the first test batch.

    Attributes:
        report (dict): the backbone runtime's report once the first batch
            has run (:attr:`~mmfasternet.deploy.runtime.BackboneRuntime.
            report`), else empty.

    Raises:
        ValueError: for an unknown ``backbone_runtime``.
        ImportError: ``'onnxruntime'`` without onnxruntime installed (when
            the hook is built, before the model and data are).
    """

    priority = 'VERY_HIGH'

    def __init__(self, backbone_runtime: str = 'auto'):
        check_backbone_runtime(backbone_runtime)
        self.backbone_runtime = backbone_runtime
        self._backbone = None

    def before_test(self, runner) -> None:
        model = runner.model
        switch_to_deploy(getattr(model, 'module', model))
        runner.logger.info('FasterNet switched to its deploy form.')
        self._backbone = use_backbone_runtime(model, self.backbone_runtime)

    @property
    def report(self) -> dict:
        backbone = self._backbone
        return backbone.report if isinstance(backbone,
                                              BackboneRuntime) else {}
