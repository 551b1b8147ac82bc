"""Testing in the inference form."""
from typing import Optional

from mmengine.hooks import EMAHook, Hook
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

    With an ``EMAHook`` (RTMDet's recipe), whose copy of the model is
    swapped with the model's weights at the start and the end of the test,
    that copy is switched to the inference form too, so that the swaps
    pair the same folded weights. (At test time the copy holds the
    checkpoint's weights, as the model does: the averaged ones, which
    ``EMAHook`` saves as the checkpoint's ``state_dict``.)

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
        model = getattr(model, 'module', model)
        switch_to_deploy(model)
        for hook in runner.hooks:
            if isinstance(hook, EMAHook):
                switch_to_deploy(hook.ema_model.module)
                _check_same_tensors(model, hook.ema_model.module)
        runner.logger.info('FasterNet switched to its deploy form.')
        self._backbone = use_backbone_runtime(model, self.backbone_runtime,
                                              int8_model=self.int8_model)

    @property
    def report(self) -> dict:
        backbone = self._backbone
        return backbone.report if isinstance(backbone,
                                              BackboneRuntime) else {}


def _check_same_tensors(model, averaged) -> None:
    """EMAHook swaps ``model``'s parameters and buffers with those of its
    ``averaged`` copy in order, by position: refuse copies whose shapes do
    not pair up, before the swap would mix them."""
    shapes = [[tuple(t.shape) for t in (*m.parameters(), *m.buffers())]
              for m in (model, averaged)]
    if shapes[0] != shapes[1]:
        raise RuntimeError(
            'EMAHook\'s copy of the model does not have the model\'s '
            'parameters and buffers after the switch to the deploy form; '
            'test without the EMAHook (the checkpoint holds its averaged '
            'weights).')
