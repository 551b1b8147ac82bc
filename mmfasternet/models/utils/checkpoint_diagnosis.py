"""What a checkpoint holds, and why it does not fit a FasterNet: the
variant and constructor options a state dict was made with, one phrase
describing any checkpoint, and the check that raises
:class:`CheckpointMismatchError` naming the real cause."""
import re
from typing import Dict, List, Optional

import torch
import torch.nn as nn

from .arch_settings import ARCH_SETTINGS
from .state_dict_layouts import (
    OUT_NORM_PATTERN,
    select_prefix,
    to_original_layout,
)

__all__ = [
    'CheckpointMismatchError', 'check_backbone_state', 'checkpoint_settings',
    'describe_checkpoint', 'describe_variant', 'infer_arch',
    'is_deploy_state', 'shorten_keys'
]


class CheckpointMismatchError(ValueError):
    """The checkpoint does not hold weights for this FasterNet model."""


def infer_arch(state_dict: Dict[str, torch.Tensor]) -> Optional[dict]:
    """``embed_dims``, ``depths`` and the matching arch name (or
    ``'custom'``) of the FasterNet weights in an original-layout state dict
    (training or deploy form); None when it has no FasterNet stem."""
    stem = state_dict.get('patch_embed.proj.weight')
    if stem is None or stem.dim() != 4:
        return None
    depths = []
    for stage in (0, 2, 4, 6):
        blocks = {
            int(m.group(1))
            for m in (re.match(rf'^stages\.{stage}\.blocks\.(\d+)\.', key)
                      for key in state_dict) if m
        }
        depths.append(max(blocks) + 1 if blocks else 0)
    embed_dims = stem.shape[0]
    name = 'custom'
    for arch, setting in ARCH_SETTINGS.items():
        if (setting['embed_dims'] == embed_dims
                and tuple(setting['depths']) == tuple(depths)):
            name = arch
    return dict(name=name, embed_dims=embed_dims, depths=tuple(depths))


def describe_variant(state_dict: Dict[str, torch.Tensor]) -> str:
    """E.g. ``'FasterNet-S (embed_dims 128, depths 1-2-13-2)'``."""
    arch = infer_arch(state_dict)
    if arch is None:
        return 'no FasterNet stem (patch_embed.proj.weight)'
    return (f'FasterNet-{arch["name"].upper()} (embed_dims '
            f'{arch["embed_dims"]}, depths '
            f'{"-".join(map(str, arch["depths"]))})')


def is_deploy_state(state_dict: Dict[str, torch.Tensor]) -> bool:
    """Whether an original-layout state dict holds the inference form
    (saved after ``switch_to_deploy()``: BN folded, block MLPs as
    ``mlp_in_weight`` / ``mlp_in_bias`` / ``mlp_out_weight``)."""
    return any(key.endswith('.mlp_in_weight') for key in state_dict)


def shorten_keys(keys: List[str], limit: int = 6) -> str:
    """The first ``limit`` keys, and how many there are in all."""
    shown = ', '.join(keys[:limit])
    return shown + (f', ... ({len(keys)} in all)' if len(keys) > limit else '')


def _match_backbone(own_state: Dict[str, torch.Tensor],
                    state_dict: Dict[str, torch.Tensor]) -> dict:
    """Sort the keys of an original-layout ``state_dict`` against the
    backbone's ``own_state``: ``loaded``, ``wrong_shape``, ``ignored`` (not
    in the backbone), ``missing`` and ``missing_weights`` (missing keys
    other than output norms and BN step counters)."""
    match = dict(loaded=[], wrong_shape=[], ignored=[])
    for key, value in state_dict.items():
        if key not in own_state:
            match['ignored'].append(key)
        elif own_state[key].shape != value.shape:
            match['wrong_shape'].append(key)
        else:
            match['loaded'].append(key)
    match['missing'] = [key for key in own_state if key not in state_dict]
    # Output norms are new in dense prediction; BN step counters are
    # not weights and some exporters drop them.
    match['missing_weights'] = [
        key for key in match['missing'] if not OUT_NORM_PATTERN.match(key)
        and not key.endswith('.num_batches_tracked')
    ]
    return match


def _mismatch_reasons(match: dict, own_state: Dict[str, torch.Tensor],
                      state_dict: Dict[str, torch.Tensor],
                      prefix: Optional[str]) -> List[str]:
    """Why ``state_dict`` cannot initialise the backbone; empty if it can."""
    reasons = []
    if not match['loaded']:
        reasons.append(f'none of its {len(state_dict)} tensors has a '
                       f'FasterNet name'
                       + (f' under prefix {prefix!r}' if prefix else ''))
    if match['wrong_shape']:
        first = match['wrong_shape'][0]
        reasons.append(
            f'{len(match["wrong_shape"])} tensors differ in shape, e.g. '
            f'{first}: {tuple(state_dict[first].shape)} in the checkpoint '
            f'vs {tuple(own_state[first].shape)} in the model')
    if match['missing_weights']:
        reasons.append(f'{len(match["missing_weights"])} backbone tensors '
                       f'are absent: {shorten_keys(match["missing_weights"])}')
    # Tensors of the stem and the stages that the model has no place for
    # (deeper stages, layer scales, other norms) would be dropped silently.
    extra = [key for key in match['ignored']
             if key.startswith(('patch_embed.', 'stages.'))]
    if match['loaded'] and extra:
        reasons.append(f'{len(extra)} backbone tensors have no place in the '
                       f'model: {shorten_keys(extra)}')
    return reasons


def checkpoint_settings(
        state_dict: Dict[str, torch.Tensor]) -> Optional[dict]:
    """The constructor options an original-layout FasterNet state dict was
    built with, as far as its tensors tell: ``embed_dims``, ``depths``,
    ``in_channels``, ``n_div``, ``mlp_ratio``, ``layer_scale`` (bool) and
    ``norm_has_running_stats`` (BN-like norms); None without a stem. (A
    deploy-form state dict has no layer scale and no stem or merging norm:
    they are folded.)"""
    arch = infer_arch(state_dict)
    if arch is None:
        return None
    stem = state_dict['patch_embed.proj.weight']
    channels = arch['embed_dims']
    settings = dict(
        embed_dims=channels, depths=arch['depths'],
        in_channels=stem.shape[1],
        layer_scale=any(key.endswith('.layer_scale') for key in state_dict),
        norm_has_running_stats='patch_embed.norm.running_mean' in state_dict)
    first_block = 'stages.0.blocks.0.'
    pconv = state_dict.get(first_block + 'spatial_mixing.partial_conv3.weight')
    if pconv is not None and pconv.shape[0]:
        settings['n_div'] = channels // pconv.shape[0]
    mlp_in = state_dict.get(first_block + 'mlp.0.weight',
                            state_dict.get(first_block + 'mlp_in_weight'))
    if mlp_in is not None:
        settings['mlp_ratio'] = mlp_in.shape[0] / channels
    return settings


def _option_differences(backbone: nn.Module,
                        state_dict: Dict[str, torch.Tensor]) -> List[str]:
    """The constructor options of ``backbone`` that explain why a
    checkpoint with the same widths and depths does not fit it."""
    found = checkpoint_settings(state_dict)
    if found is None or found['embed_dims'] != backbone.embed_dims or \
            tuple(found['depths']) != tuple(backbone.depths):
        return []
    deploy, found_deploy = getattr(backbone, 'deploy',
                                   False), is_deploy_state(state_dict)
    if deploy and not found_deploy:
        # The other differences would only be consequences of this one.
        return ['deploy=True, but the checkpoint holds the training form: '
                'build with deploy=False and call switch_to_deploy() after '
                'loading it']
    if found_deploy and not deploy:
        return ['deploy=False, but the checkpoint holds the inference form '
                '(saved after switch_to_deploy()): build with deploy=True']
    norm_type = backbone.norm_cfg.get('type', 'BN')
    has_running_stats = any(
        isinstance(module, nn.modules.batchnorm._NormBase)
        and module.track_running_stats for module in backbone.modules())
    differences = []
    if found['in_channels'] != backbone.in_channels:
        differences.append(
            f'in_channels={backbone.in_channels}, but the checkpoint\'s stem '
            f'takes {found["in_channels"]} input channels: build with '
            f'in_channels={found["in_channels"]}, or adapt '
            f'patch_embed.proj.weight to {backbone.in_channels} channels and '
            f'load the result')
    if 'n_div' in found and found['n_div'] != backbone.n_div:
        differences.append(
            f'n_div={backbone.n_div}, but the checkpoint\'s PConv convolves '
            f'1/{found["n_div"]} of the channels: build with '
            f'n_div={found["n_div"]}')
    if 'mlp_ratio' in found and found['mlp_ratio'] != backbone.mlp_ratio:
        differences.append(
            f'mlp_ratio={backbone.mlp_ratio:g}, but the checkpoint\'s MLP '
            f'ratio is {found["mlp_ratio"]:g}: build with '
            f'mlp_ratio={found["mlp_ratio"]:g}')
    if deploy:  # layer scales and norms are folded on both sides
        return differences
    if found['layer_scale'] != (backbone.layer_scale_init_value > 0):
        differences.append(
            f'layer_scale_init_value={backbone.layer_scale_init_value:g}, '
            f'but the checkpoint has {"" if found["layer_scale"] else "no "}'
            f'layer scales: build with layer_scale_init_value'
            f'{" > 0" if found["layer_scale"] else "=0"}')
    if found['norm_has_running_stats'] != has_running_stats:
        differences.append(
            f'norm_cfg type {norm_type!r}, but the checkpoint\'s norms '
            f'{"are" if found["norm_has_running_stats"] else "are not"} '
            f'BatchNorm layers with running statistics: build with the '
            f'norm the checkpoint was trained with')
    return differences


def check_backbone_state(backbone: nn.Module,
                         state_dict: Dict[str, torch.Tensor], source: str,
                         fix: str, prefix: Optional[str] = None) -> dict:
    """Sort ``state_dict`` (original layout, backbone names) against
    ``backbone`` and raise :class:`CheckpointMismatchError` when it cannot
    initialise it. The error names the real cause: the constructor options
    that differ (``deploy``, ``in_channels``, ``n_div``, ``mlp_ratio``,
    layer scale, norm type) when the checkpoint has the backbone's widths
    and depths, otherwise the variant the checkpoint holds, and ``fix``.

    Returns:
        dict: ``loaded``, ``wrong_shape``, ``ignored`` (not in the
        backbone), ``missing`` and ``missing_weights`` (missing keys other
        than output norms and BN step counters), lists of keys.
    """
    own_state = backbone.state_dict()
    match = _match_backbone(own_state, state_dict)
    reasons = _mismatch_reasons(match, own_state, state_dict, prefix)
    if reasons:
        options = _option_differences(backbone, state_dict)
        if options:
            reasons.append('the backbone was built with ' +
                           '; '.join(options))
            fix = ('The checkpoint has this variant\'s widths and depths: '
                   'change the options above rather than the arch.')
        arch_name = getattr(backbone, 'arch', {}).get('name', '?')
        raise CheckpointMismatchError(
            f'{source} does not fit FasterNet arch {arch_name!r}: '
            f'{"; ".join(reasons)}. The checkpoint holds '
            f'{describe_variant(state_dict)}. {fix}')
    return match


# Top-level modules that tell which kind of model a whole-model checkpoint
# belongs to (OpenMMLab attribute names).
_MODEL_KINDS = (
    ('a detector', ('rpn_head', 'roi_head', 'bbox_head')),
    ('a segmentor', ('decode_head', 'auxiliary_head')),
    ('a classifier', ('head', )),
)


def describe_checkpoint(state_dict: Dict[str, torch.Tensor],
                        meta: Optional[dict] = None) -> str:
    """One phrase saying what a checkpoint holds, for error messages, e.g.
    ``'a FasterNet-T0 backbone (original layout)'`` or ``'a detector
    (backbone, neck, rpn_head, roi_head) with a FasterNet-S backbone,
    trained on 80 classes'``."""
    original, layout = to_original_layout(state_dict)
    if infer_arch(original) is not None:
        return f'a {describe_variant(original).split(" (")[0]} backbone ' \
               f'({layout} layout)'
    roots = sorted({key.split('.', 1)[0] for key in state_dict})
    kind = 'a model'
    for name, heads in _MODEL_KINDS:
        if any(head in roots for head in heads):
            kind = name
            break
    text = f'{kind} ({", ".join(roots[:8])})'
    if 'backbone' in roots:
        backbone = to_original_layout(select_prefix(state_dict,
                                                    'backbone.'))[0]
        if infer_arch(backbone) is not None:
            text += f' with a {describe_variant(backbone).split(" (")[0]} ' \
                    f'backbone'
        else:
            text += ' whose backbone is not FasterNet (e.g. ' \
                    f'backbone.{next(iter(backbone), "?")})'
    classes = ((meta or {}).get('dataset_meta') or {}).get('classes')
    if classes:
        text += f', trained on {len(classes)} classes'
    return text
