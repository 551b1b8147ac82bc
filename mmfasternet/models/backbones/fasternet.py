"""FasterNet backbone ("Run, Don't Walk", CVPR 2023) for OpenMMLab.

Module names follow the original implementation exactly (``patch_embed``,
``stages.{0..6}`` interleaving stages and mergings, ``spatial_mixing``,
``mlp.{0,1,3}``, ``norm{0,2,4,6}``), so the original ImageNet checkpoints load
without conversion.
"""
import warnings
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.utils.checkpoint as cp
from mmcv.cnn import build_activation_layer, build_norm_layer
from mmcv.cnn.bricks import DropPath
from mmengine.model import BaseModule
from mmengine.registry import MODELS
from torch.nn.modules.batchnorm import _BatchNorm

from ..utils.arch_settings import ARCH_SETTINGS
from ..utils.checkpoint_diagnosis import (
    CheckpointMismatchError,
    check_backbone_state,
)
from ..utils.checkpoint_loading import (
    adapt_classifier_state_dict,
    load_pretrained_backbone,
)
from ..utils.fusion import conv_with_folded_bn
from ..utils.pconv_forms import (
    DEPLOY_FW_TYPES,
    deploy_forward_conv,
    deploy_forward_gemm,
    pconv_mlp_input,
    resolve_deploy_fw_type,
)
from ..utils.state_dict_layouts import to_original_layout

PCONV_FORWARD_TYPES = ('split_cat', 'split_mlp')


class PartialConv(nn.Module):
    """Partial convolution: a 3x3 conv on the first ``channels // n_div``
    channels, the other channels pass through untouched.

    Args:
        channels (int): Number of input (and output) channels C.
        n_div (int): The convolved part is ``C // n_div`` channels.

    Shape:
        (N, C, H, W) -> (N, C, H, W)
    """

    def __init__(self, channels: int, n_div: int = 4):
        super().__init__()
        self.conv_channels = channels // n_div
        self.untouched_channels = channels - self.conv_channels
        self.partial_conv3 = nn.Conv2d(
            self.conv_channels, self.conv_channels, 3, 1, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        convolved, untouched = torch.split(
            x, [self.conv_channels, self.untouched_channels], dim=1)
        return torch.cat((self.partial_conv3(convolved), untouched), dim=1)


class FasterNetBlock(nn.Module):
    """PConv -> 1x1 conv (C->rC) -> norm -> act -> 1x1 conv (rC->C), plus the
    residual.

    ``pconv_fw_type`` selects how PConv feeds the first 1x1 conv:

    - ``'split_cat'``: split, convolve, concatenate, then the 1x1 conv
      (the original's trainable form).
    - ``'split_mlp'``: the first 1x1 conv is applied to the convolved and the
      untouched channels separately and the two products are summed into one
      buffer. Same result, but no concatenated copy of the feature map is
      made and the input, which the residual reads, is never written.

    With ``deploy=True`` the block is built in its inference form (what
    :meth:`switch_to_deploy` turns the trained block into): the norm and
    the layer scale folded into ``mlp_in_weight`` / ``mlp_in_bias`` /
    ``mlp_out_weight``, no drop path, computed in the form
    ``deploy_fw_type`` names (see :mod:`mmfasternet.models.utils.pconv_forms`).

    Shape:
        (N, C, H, W) -> (N, C, H, W)
    """

    def __init__(self,
                 channels: int,
                 n_div: int,
                 mlp_ratio: float,
                 drop_path_rate: float,
                 layer_scale_init_value: float,
                 norm_cfg: dict,
                 act_cfg: dict,
                 pconv_fw_type: str = 'split_cat',
                 with_cp: bool = False,
                 deploy: bool = False,
                 deploy_fw_type: str = 'auto'):
        super().__init__()
        hidden_channels = int(channels * mlp_ratio)
        self.spatial_mixing = PartialConv(channels, n_div)
        if deploy:
            # The original's init for the 1x1 convs; a deployed checkpoint
            # is expected to replace it.
            self.mlp_in_weight = nn.Parameter(
                nn.init.trunc_normal_(torch.empty(hidden_channels, channels),
                                      std=.02))
            self.mlp_in_bias = nn.Parameter(torch.zeros(hidden_channels))
            self.mlp_out_weight = nn.Parameter(
                nn.init.trunc_normal_(torch.empty(channels, hidden_channels),
                                      std=.02))
            self.act = build_activation_layer(act_cfg)
        else:
            self.mlp = nn.Sequential(
                nn.Conv2d(channels, hidden_channels, 1, bias=False),
                build_norm_layer(norm_cfg, hidden_channels)[1],
                build_activation_layer(act_cfg),
                nn.Conv2d(hidden_channels, channels, 1, bias=False))
            if layer_scale_init_value > 0:
                self.layer_scale = nn.Parameter(
                    torch.full((channels, ), float(layer_scale_init_value)))
            else:
                self.layer_scale = None
            self.drop_path = (
                DropPath(drop_path_rate)
                if drop_path_rate > 0 else nn.Identity())
        self.pconv_fw_type = pconv_fw_type
        self.deploy_fw_type = deploy_fw_type
        self.with_cp = with_cp
        self.deploy = deploy

    def switch_to_deploy(self):
        """Fold the MLP's BN (its running statistics, whatever the mode)
        and the layer scale into the 1x1 convs' weights, and compute the
        block in its deploy form from then on. Irreversible."""
        if self.deploy:
            return
        fused = conv_with_folded_bn(self.mlp[0], self.mlp[1])
        out_weight = self.mlp[3].weight.flatten(1)
        if self.layer_scale is not None:
            out_weight = out_weight * self.layer_scale.view(-1, 1)
        self.mlp_in_weight = nn.Parameter(fused.weight.flatten(1).detach())
        self.mlp_in_bias = nn.Parameter(fused.bias.detach())
        self.mlp_out_weight = nn.Parameter(out_weight.detach())
        self.act = self.mlp[2]
        del self.mlp, self.layer_scale, self.drop_path
        self.deploy = True

    def _forward_deploy(self, x: torch.Tensor) -> torch.Tensor:
        form = resolve_deploy_fw_type(self.deploy_fw_type)
        forward = deploy_forward_conv if form == 'conv' else \
            deploy_forward_gemm
        return forward(x, self.spatial_mixing.partial_conv3,
                       self.mlp_in_weight, self.mlp_in_bias, self.act,
                       self.mlp_out_weight)

    def _residual_branch(self, x: torch.Tensor) -> torch.Tensor:
        if self.pconv_fw_type == 'split_cat':
            hidden = self.mlp[0](self.spatial_mixing(x))
        else:
            hidden = pconv_mlp_input(x, self.spatial_mixing.partial_conv3,
                                     self.mlp[0].weight.flatten(1))
        out = self.mlp[3](self.mlp[2](self.mlp[1](hidden)))
        if self.layer_scale is not None:
            out = out * self.layer_scale.view(1, -1, 1, 1)
        return x + self.drop_path(out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.deploy:
            return self._forward_deploy(x)
        if self.with_cp and x.requires_grad:
            return cp.checkpoint(self._residual_branch, x, use_reentrant=False)
        return self._residual_branch(x)


class FasterNetStage(nn.Module):
    """A sequence of FasterNet blocks at one resolution (``blocks``)."""

    def __init__(self, depth: int, drop_path_rates: Sequence[float],
                 **block_kwargs):
        super().__init__()
        self.blocks = nn.Sequential(*[
            FasterNetBlock(drop_path_rate=drop_path_rates[i], **block_kwargs)
            for i in range(depth)
        ])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(x)


def _conv_and_norm(in_channels: int, out_channels: int, kernel_size: int,
                   norm_cfg: dict, deploy: bool) -> Tuple[nn.Conv2d,
                                                          nn.Module]:
    """A conv without bias and its norm, or with ``deploy`` the conv with a
    bias (the norm folded in) and an identity."""
    conv = nn.Conv2d(in_channels, out_channels, kernel_size, kernel_size,
                     bias=deploy)
    norm = (nn.Identity()
            if deploy else build_norm_layer(norm_cfg, out_channels)[1])
    return conv, norm


class PatchEmbed(nn.Module):
    """Stem: non-overlapping ``patch_size`` conv (no bias) + norm; with
    ``deploy`` the conv with the norm folded in.

    Shape:
        (N, in_channels, H, W) -> (N, out_channels, H // p, W // p)
    """

    def __init__(self, in_channels: int, out_channels: int, patch_size: int,
                 norm_cfg: dict, deploy: bool = False):
        super().__init__()
        self.proj, self.norm = _conv_and_norm(in_channels, out_channels,
                                              patch_size, norm_cfg, deploy)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.proj(x))

    def switch_to_deploy(self):
        """Fold the norm into the conv (which gains a bias)."""
        if isinstance(self.norm, nn.Identity):
            return
        self.proj = conv_with_folded_bn(self.proj, self.norm)
        self.norm = nn.Identity()


class PatchMerging(nn.Module):
    """Downsampling between stages: 2x2 stride-2 conv (C->2C, no bias) +
    norm; with ``deploy`` the conv with the norm folded in.

    Shape:
        (N, C, H, W) -> (N, 2C, H // 2, W // 2)
    """

    def __init__(self, in_channels: int, norm_cfg: dict,
                 deploy: bool = False):
        super().__init__()
        self.reduction, self.norm = _conv_and_norm(
            in_channels, 2 * in_channels, 2, norm_cfg, deploy)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.reduction(x))

    def switch_to_deploy(self):
        """Fold the norm into the conv (which gains a bias)."""
        if isinstance(self.norm, nn.Identity):
            return
        self.reduction = conv_with_folded_bn(self.reduction, self.norm)
        self.norm = nn.Identity()


@MODELS.register_module()
class FasterNet(BaseModule):
    """FasterNet backbone.

    A PyTorch implementation of `Run, Don't Walk: Chasing Higher FLOPS for
    Faster Neural Networks <https://arxiv.org/abs/2303.03667>`_.

    Args:
        arch (str | dict): ``'t0'``, ``'t1'``, ``'t2'``, ``'s'``, ``'m'``,
            ``'l'``, or a dict with ``embed_dims`` (int), ``depths``
            (4 ints) and optionally ``act_cfg``. Defaults to ``'s'``.
        in_channels (int): Input image channels. Defaults to 3.
        out_indices (Sequence[int] | int): Stages (0..3, negative counts
            from the end) whose outputs are returned. Stages after the last
            of them are not run; their parameters stay (checkpoints load as
            usual) with ``requires_grad=False``. Defaults to
            ``(0, 1, 2, 3)``.
        out_norm (bool): Pass each returned stage output through its own
            new norm layer (``norm0/2/4/6``), as the original's
            dense-prediction mode does. Defaults to True.
        frozen_stages (int): ``-1`` freezes nothing, ``0`` the stem, ``k`` the
            stem and the first ``k`` stages (with the merging layers in
            front of them and their output norms). Defaults to -1.
        norm_eval (bool): Keep all BatchNorm layers in eval mode during
            training (their running statistics stay fixed). Defaults to False.
        with_cp (bool): Gradient checkpointing per block. Defaults to False.
        drop_path_rate (float): Stochastic depth, rising linearly over all
            blocks from 0. Defaults to 0.
        layer_scale_init_value (float): Initial per-channel scale of the MLP
            output; 0 disables it (as in every released model).
        mlp_ratio (float): Hidden width of the block MLP. Defaults to 2.
        n_div (int): PConv convolves ``C // n_div`` channels. Defaults to 4.
        pconv_fw_type (str): ``'split_cat'`` (default; the original's
            trainable form) or ``'split_mlp'`` (same outputs, no
            concatenated copy; see :class:`FasterNetBlock`).
        deploy (bool): Build the backbone directly in its inference form,
            the one :meth:`switch_to_deploy` gives (every norm except the
            output norms folded into the conv before it, layer scales
            folded, no drop path), to load a checkpoint saved after
            ``switch_to_deploy()``. Needs BatchNorm in ``norm_cfg``;
            ``drop_path_rate``, ``layer_scale_init_value`` and
            ``pconv_fw_type`` then have no effect. Defaults to False.
        deploy_fw_type (str): How the inference form computes each block
            (:mod:`mmfasternet.models.utils.pconv_forms`): ``'gemm'``
            (GEMMs over channel views of the input; fastest in eager
            PyTorch), ``'conv'`` (1x1 convs on channel slices; for ONNX
            export and ``torch.compile``) or ``'auto'`` (``'conv'`` while
            exporting or compiling, else ``'gemm'``). Defaults to
            ``'auto'``.
        norm_cfg (dict): Norm layers. Defaults to ``dict(type='BN')``.
        act_cfg (dict, optional): Activation; ``None`` takes the arch's
            (GELU for T0/T1, ReLU otherwise).
        pretrained (str, optional): Deprecated, use ``init_cfg``.
        init_cfg (dict, optional): ``dict(type='Pretrained',
            checkpoint=PATH)`` loads an original ImageNet ``.pth``, a timm
            ``fasternet_*`` state dict, an mmdet 2.x/3.x or mmpretrain
            checkpoint (the ``backbone.`` part) or an mmfasternet one.

    Shape:
        Input (N, 3, H, W); output ``i`` is
        (N, embed_dims * 2**i, H // 2**(i + 2), W // 2**(i + 2)).

    Example:
        >>> import torch
        >>> from mmfasternet.models import FasterNet
        >>> model = FasterNet(arch='t0').eval()
        >>> for out in model(torch.rand(1, 3, 224, 224)):
        ...     print(tuple(out.shape))
        (1, 40, 56, 56)
        (1, 80, 28, 28)
        (1, 160, 14, 14)
        (1, 320, 7, 7)
    """

    arch_settings: Dict[str, dict] = ARCH_SETTINGS
    num_stages = 4

    def __init__(self,
                 arch: Union[str, dict] = 's',
                 in_channels: int = 3,
                 out_indices: Union[int, Sequence[int]] = (0, 1, 2, 3),
                 out_norm: bool = True,
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 with_cp: bool = False,
                 drop_path_rate: float = 0.,
                 layer_scale_init_value: float = 0.,
                 mlp_ratio: float = 2.,
                 n_div: int = 4,
                 pconv_fw_type: str = 'split_cat',
                 deploy: bool = False,
                 deploy_fw_type: str = 'auto',
                 norm_cfg: dict = dict(type='BN', requires_grad=True),
                 act_cfg: Optional[dict] = None,
                 pretrained: Optional[str] = None,
                 init_cfg: Optional[dict] = None):
        if pretrained is not None:
            if init_cfg is not None:
                raise ValueError('FasterNet: set either `init_cfg` or the '
                                 'deprecated `pretrained`, not both.')
            warnings.warn(
                'FasterNet: `pretrained` is deprecated, use '
                '`init_cfg=dict(type="Pretrained", checkpoint=...)`.',
                DeprecationWarning)
            init_cfg = dict(type='Pretrained', checkpoint=pretrained)
        if init_cfg is None:
            # The original's init: truncated normal for conv and linear.
            init_cfg = dict(
                type='TruncNormal', layer=['Conv2d', 'Linear'], std=.02,
                bias=0.)
        super().__init__(init_cfg=init_cfg)

        self.arch = self._resolve_arch(arch)
        self.embed_dims = self.arch['embed_dims']
        self.depths = tuple(self.arch['depths'])
        if act_cfg is None:
            act_cfg = self.arch.get('act_cfg', dict(type='ReLU', inplace=True))
        if pconv_fw_type not in PCONV_FORWARD_TYPES:
            hint = (' The original\'s in-place "slicing" form is not offered:'
                    ' it overwrites the tensor the residual reads; use '
                    '"split_mlp" for fast inference.'
                    if pconv_fw_type == 'slicing' else '')
            raise ValueError(f'FasterNet: pconv_fw_type must be one of '
                             f'{PCONV_FORWARD_TYPES}, got {pconv_fw_type!r}.'
                             f'{hint}')
        if deploy_fw_type not in DEPLOY_FW_TYPES:
            raise ValueError(f'FasterNet: deploy_fw_type must be one of '
                             f'{DEPLOY_FW_TYPES}, got {deploy_fw_type!r}.')
        if deploy and not isinstance(
                build_norm_layer(norm_cfg, self.embed_dims)[1], _BatchNorm):
            raise ValueError(
                f'FasterNet: deploy=True builds the inference form, whose '
                f'stem, merging and block norms are folded into the conv '
                f'before them: that needs BatchNorm, got norm_cfg '
                f'{norm_cfg!r}.')
        if not -1 <= frozen_stages <= self.num_stages:
            raise ValueError(f'FasterNet: frozen_stages must be in '
                             f'[-1, {self.num_stages}], got {frozen_stages}.')
        self.out_indices = self._resolve_out_indices(out_indices)
        self.in_channels = in_channels
        self.n_div = n_div
        self.mlp_ratio = mlp_ratio
        self.layer_scale_init_value = layer_scale_init_value
        self.norm_cfg = norm_cfg
        self.out_norm = out_norm
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.channels = tuple(self.embed_dims * 2**i
                              for i in range(self.num_stages))

        self.patch_embed = PatchEmbed(in_channels, self.embed_dims, 4,
                                      norm_cfg, deploy)
        block_drop_rates = torch.linspace(0, drop_path_rate,
                                          sum(self.depths)).tolist()
        layers = []
        for i, depth in enumerate(self.depths):
            if i > 0:
                layers.append(
                    PatchMerging(self.channels[i - 1], norm_cfg, deploy))
            first = sum(self.depths[:i])
            layers.append(
                FasterNetStage(
                    depth,
                    block_drop_rates[first:first + depth],
                    channels=self.channels[i],
                    n_div=n_div,
                    mlp_ratio=mlp_ratio,
                    layer_scale_init_value=layer_scale_init_value,
                    norm_cfg=norm_cfg,
                    act_cfg=act_cfg,
                    pconv_fw_type=pconv_fw_type,
                    with_cp=with_cp,
                    deploy=deploy,
                    deploy_fw_type=deploy_fw_type))
        # One Sequential interleaving stages (even) and mergings (odd), as
        # in the original, so that checkpoint keys match one to one.
        self.stages = nn.Sequential(*layers)

        if out_norm:
            for i in self.out_indices:
                self.add_module(f'norm{2 * i}',
                                build_norm_layer(norm_cfg,
                                                 self.channels[i])[1])

        self.deploy = deploy
        self._freeze_stages()

    def _resolve_arch(self, arch: Union[str, dict]) -> dict:
        if isinstance(arch, str):
            key = arch.lower()
            if key not in self.arch_settings:
                raise ValueError(
                    f'FasterNet: unknown arch {arch!r}; choose one of '
                    f'{sorted(self.arch_settings)} or pass a dict with '
                    f'"embed_dims" and "depths".')
            return dict(self.arch_settings[key], name=key)
        if not isinstance(arch, dict):
            raise TypeError(f'FasterNet: arch must be a str or a dict, got '
                            f'{type(arch).__name__}.')
        allowed = {'embed_dims', 'depths', 'act_cfg'}
        unknown = set(arch) - allowed
        missing = {'embed_dims', 'depths'} - set(arch)
        if unknown or missing:
            raise ValueError(f'FasterNet: a custom arch dict needs keys '
                             f'"embed_dims" and "depths" (optionally '
                             f'"act_cfg"); missing {sorted(missing)}, '
                             f'unknown {sorted(unknown)}.')
        if len(arch['depths']) != self.num_stages:
            raise ValueError(f'FasterNet: arch "depths" must have '
                             f'{self.num_stages} entries, got '
                             f'{list(arch["depths"])}.')
        return dict(arch, name='custom')

    def _resolve_out_indices(
            self, out_indices: Union[int, Sequence[int]]) -> Tuple[int, ...]:
        if isinstance(out_indices, int):
            out_indices = (out_indices, )
        resolved = []
        for index in out_indices:
            if not -self.num_stages <= index < self.num_stages:
                raise ValueError(f'FasterNet: out_indices must be in '
                                 f'[-{self.num_stages}, {self.num_stages - 1}]'
                                 f', got {index}.')
            resolved.append(index % self.num_stages)
        if len(set(resolved)) != len(resolved):
            raise ValueError(f'FasterNet: out_indices {tuple(out_indices)} '
                             f'name a stage twice.')
        return tuple(sorted(resolved))

    def stage_layers(self, stage: int) -> Tuple[nn.Module, ...]:
        """Modules that make up stage ``stage``: the merging in front of it
        (stages 1..3), its blocks and its output norm if present."""
        layers = [self.stages[2 * stage]]
        if stage > 0:
            layers.insert(0, self.stages[2 * stage - 1])
        out_norm = getattr(self, f'norm{2 * stage}', None)
        if out_norm is not None:
            layers.append(out_norm)
        return tuple(layers)

    def get_layer_depth(self, param_name: str, prefix: str = '',
                        decay_type: str = 'layer_wise') -> Tuple[int, int]:
        """Depth of a parameter for layer-wise learning-rate decay, and the
        number of depths (mmpretrain's convention, see ConvNeXt).

        ``layer_wise``: the stem is 0, the ``i``-th block of the network
        ``i + 1``; a merging shares the depth of the first block it feeds,
        an output norm that of its stage's last block. ``stage_wise``: the
        stem is 0, stage ``s`` (merging, blocks, output norm) ``s + 1``.
        Parameters outside the backbone (names not starting with
        ``prefix``: neck, heads) get the last depth.
        """
        if decay_type == 'layer_wise':
            num_layers = sum(self.depths) + 2
        elif decay_type == 'stage_wise':
            num_layers = self.num_stages + 2
        else:
            raise ValueError(f'decay_type must be "layer_wise" or '
                             f'"stage_wise", got {decay_type!r}.')
        if not param_name.startswith(prefix):
            return num_layers - 1, num_layers
        name = param_name[len(prefix):]
        if name.startswith('patch_embed.'):
            return 0, num_layers
        if name.startswith('stages.'):
            parts = name.split('.')
            index = int(parts[1])
            stage = (index + 1) // 2
            if decay_type == 'stage_wise':
                return stage + 1, num_layers
            first_block = sum(self.depths[:stage])
            block = int(parts[3]) if index % 2 == 0 else 0
            return first_block + block + 1, num_layers
        if name.startswith('norm'):
            stage = int(name[len('norm')]) // 2
            if decay_type == 'stage_wise':
                return stage + 1, num_layers
            return sum(self.depths[:stage + 1]), num_layers
        return num_layers - 1, num_layers

    def _freeze_stages(self):
        frozen = []
        if self.frozen_stages >= 0:
            frozen.append(self.patch_embed)
        for stage in range(self.frozen_stages):
            frozen.extend(self.stage_layers(stage))
        for module in frozen:
            module.eval()
            for param in module.parameters():
                param.requires_grad = False
        # Stages after the last returned one never run, so their parameters
        # never get a gradient, which DistributedDataParallel would wait for.
        for stage in range(self.out_indices[-1] + 1, self.num_stages):
            for module in self.stage_layers(stage):
                for param in module.parameters():
                    param.requires_grad = False

    def train(self, mode: bool = True):
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for module in self.modules():
                if isinstance(module, _BatchNorm):
                    module.eval()
        return self

    def init_weights(self):
        is_pretrained = (
            isinstance(self.init_cfg, dict)
            and self.init_cfg.get('type') == 'Pretrained')
        if not is_pretrained:
            super().init_weights()
            return
        unexpected = set(self.init_cfg) - {'type', 'checkpoint', 'prefix',
                                           'map_location'}
        if unexpected or 'checkpoint' not in self.init_cfg:
            raise ValueError(
                f'FasterNet: init_cfg of type "Pretrained" takes '
                f'"checkpoint" and optionally "prefix" and "map_location"; '
                f'got {sorted(self.init_cfg)}.')
        # The loader accepts only checkpoints that cover every conv, so no
        # default init is needed first, and a refused file leaves the model
        # exactly as it was.
        load_pretrained_backbone(
            self,
            self.init_cfg['checkpoint'],
            prefix=self.init_cfg.get('prefix'),
            map_location=self.init_cfg.get('map_location', 'cpu'))
        self._is_init = True

    def _load_from_state_dict(self, state_dict: dict, prefix: str,
                              local_metadata: dict, strict: bool,
                              missing_keys: list, unexpected_keys: list,
                              error_msgs: list):
        """Check the part of ``state_dict`` meant for this backbone before
        anything is loaded, whoever loads it (mmengine's ``load_checkpoint``
        and Runner, the mmdet/mmseg/mmpretrain inferencers and init
        helpers, ``nn.Module.load_state_dict``): nothing under ``prefix``,
        another variant, or tensors that other constructor options would
        need raise :class:`CheckpointMismatchError` instead of leaving the
        backbone silently at its initial weights. timm names are renamed
        to ours in place."""
        local = {key[len(prefix):]: state_dict[key]
                 for key in state_dict if key.startswith(prefix)}
        if local:
            renamed, layout = to_original_layout(local)
            if layout != 'original':
                for key in local:
                    del state_dict[prefix + key]
                state_dict.update(
                    (prefix + key, value) for key, value in renamed.items())
            arch_name = self.arch['name']
            check_backbone_state(
                self, renamed,
                f'The state dict loaded into FasterNet-{arch_name}'
                + (f' (at {prefix!r})' if prefix else ''),
                f'Load a checkpoint of the same model and arch {arch_name!r}'
                f', or change the config to match the checkpoint.')
        elif prefix:
            raise CheckpointMismatchError(
                f'The state dict loaded into this model has no tensor for '
                f'its FasterNet backbone (none under {prefix!r}), which would '
                f'stay at its initial weights. A backbone or ImageNet '
                f'checkpoint goes into model.backbone.init_cfg=dict('
                f'type=\'Pretrained\', checkpoint=...); a checkpoint of a '
                f'whole model must hold its backbone under {prefix!r}.')
        super()._load_from_state_dict(state_dict, prefix, local_metadata,
                                      strict, missing_keys, unexpected_keys,
                                      error_msgs)

    def _checkpoint_filter(self, state_dict: dict, prefix: str,
                           local_metadata: dict, strict: bool,
                           missing_keys: list, unexpected_keys: list,
                           error_msgs: list):
        """Load-state-dict pre-hook that mmpretrain's ``ImageClassifier``
        installs on itself when its backbone has this method: original and
        timm ImageNet checkpoints then load into the whole classifier with
        no conversion step (see :func:`adapt_classifier_state_dict`)."""
        adapt_classifier_state_dict(self, state_dict, prefix)

    def switch_to_deploy(self):
        """Turn the trained backbone into its inference form, in place
        (mmpretrain's convention for re-parameterisable backbones): every
        BN that follows a conv folded into it (stem, mergings, block MLPs),
        the layer scales folded, PConv and the MLP computed without the
        concatenated copy and without writing the block input, in the form
        ``deploy_fw_type`` names. Irreversible: call it on a copy if the
        training form is still needed (``mmfasternet.deploy.switch_to_deploy
        (model, copy=True)``). Calling it again changes nothing.

        It can be called in training or eval mode and leaves the mode as it
        is. Folding always uses the BN running statistics, which is what the
        BN layers compute in eval mode: the inference form gives the eval
        outputs of the trained backbone, in either mode. (In training mode
        the unfolded BN layers would have used the batch statistics, and the
        running statistics at that moment are what gets folded, so switch
        after training, not in the middle of it.) The output norms
        ``norm0/2/4/6`` are not folded and keep following the mode.
        """
        for module in self.modules():
            if module is not self and hasattr(module, 'switch_to_deploy'):
                module.switch_to_deploy()
        self.deploy = True

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """(N, C_in, H, W) -> tuple of the stage outputs in ``out_indices``."""
        x = self.patch_embed(x)
        outs = []
        for stage in range(self.out_indices[-1] + 1):
            if stage > 0:
                x = self.stages[2 * stage - 1](x)
            x = self.stages[2 * stage](x)
            if stage in self.out_indices:
                outs.append(
                    getattr(self, f'norm{2 * stage}')(x) if self.out_norm
                    else x)
        return tuple(outs)
