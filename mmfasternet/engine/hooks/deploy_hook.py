"""Testing in the inference form."""
from typing import Optional

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
        int8_model (str): for ``'onnxruntime-int8'`` and
            ``'openvino-int8'``, the calibrated INT8 ONNX file of the
            backbone (:mod:`mmfasternet.deploy.calibration`; ``tools/test.py``
            takes it from the checkpoint's cache).

    Attributes:
        report (dict): the backbone runtime's report once the first batch
            has run (:attr:`~mmfasternet.deploy.runtime.BackboneRuntime.
            report`), else empty.

    Raises:
        ValueError: for an unknown ``backbone_runtime``, or an int8 one
            without ``int8_model``.
        ImportError, RuntimeError: a runtime whose package is missing or
            which the CPU cannot run
            (:func:`~mmfasternet.deploy.runtime.check_backbone_runtime`;
            when the hook is built, before the model and data are).
    """

    priority = 'VERY_HIGH'

    def __init__(self, backbone_runtime: str = 'auto',
                 int8_model: Optional[str] = None):
        check_backbone_runtime(backbone_runtime)
        if backbone_runtime.endswith('-int8') and int8_model is None:
            raise ValueError(
                f'the {backbone_runtime} backbone runtime needs int8_model, '
                f'an INT8 model calibrated and checked by '
                f'tools/deployment/compare_runtimes.py.')
        self.backbone_runtime = backbone_runtime
        self.int8_model = int8_model
        self._backbone = None

    def before_test(self, runner) -> None:
        model = runner.model
        switch_to_deploy(getattr(model, 'module', model))
        runner.logger.info('FasterNet switched to its deploy form.')
        self._backbone = use_backbone_runtime(model, self.backbone_runtime,
                                              int8_model=self.int8_model)

    @property
    def report(self) -> dict:
        backbone = self._backbone
        return backbone.report if isinstance(backbone,
                                              BackboneRuntime) else {}
