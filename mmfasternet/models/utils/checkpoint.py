"""Reading FasterNet weights from every checkpoint layout users hold.

Layouts (see ``docs`` and REFERENCE):

- ``original``: the original ImageNet release, a flat state dict whose names
  mmfasternet keeps (``stages.{0..6}``, ``avgpool_pre_head.1``, ``head``).
- ``timm``: timm >= 1.0.16 ``fasternet_*`` (``stages.{0..3}`` with
  ``downsample``, ``conv_head``, ``classifier``).
- a wrapped checkpoint (``{'state_dict': ...}``, ``{'model': ...}``) of a
  detector, segmentor or classifier: its ``backbone.`` part, e.g. the
  original mmdet 2.x COCO release or an mmfasternet / mmpretrain run.
"""
import os.path as osp
import re
from collections import OrderedDict
from typing import Dict, List, NamedTuple, Optional, Tuple, Union

import torch
import torch.nn as nn
from mmengine.logging import print_log

# Keys of the classification head in the original layout: present in
# ImageNet checkpoints, absent from the backbone.
HEAD_KEY_PATTERN = re.compile(r'^(avgpool_pre_head|head)\.')
OUT_NORM_PATTERN = re.compile(r'^norm[0246]\.')
_TIMM_STAGE = re.compile(r'^stages[._](\d+)\.(downsample\.)?(.*)$')
_TIMM_ONLY = re.compile(r'^(stages[._]\d+\.downsample\.|stages_\d+\.|'
                        r'conv_head\.|classifier\.)')
_WRAPPER_KEYS = ('state_dict', 'model', 'module', 'model_state_dict')


class CheckpointMismatchError(ValueError):
    """The checkpoint does not hold weights for this FasterNet model."""


def read_checkpoint(filename: str, map_location='cpu') -> dict:
    """Load a checkpoint file (or URL) with one clear error per failure."""
    is_remote = re.match(r'^[a-z0-9+]+://', filename) is not None
    if not is_remote and not osp.isfile(filename):
        raise FileNotFoundError(
            f'FasterNet checkpoint not found: {filename!r}. Download the '
            f'weights to that path (see the README, "Pretrained weights"), '
            f'fix the path, or set the backbone\'s init_cfg=None (to train '
            f'from scratch, or when load_from provides all weights).')
    from mmengine.runner.checkpoint import CheckpointLoader
    try:
        checkpoint = CheckpointLoader.load_checkpoint(
            filename, map_location=map_location)
    except Exception as error:  # torch.load raises many unrelated types
        raise CheckpointMismatchError(
            f'{filename!r} could not be read as a PyTorch checkpoint '
            f'({type(error).__name__}: {error}). Pass a .pth/.pt file '
            f'saved by torch.save.') from error
    if not isinstance(checkpoint, dict):
        raise CheckpointMismatchError(
            f'{filename!r} holds a {type(checkpoint).__name__}, not a '
            f'state dict or a dict with a "state_dict" entry.')
    return checkpoint


def unwrap_state_dict(checkpoint: dict) -> Dict[str, torch.Tensor]:
    """The tensor dict inside a checkpoint, with a DDP ``module.`` prefix
    removed."""
    for key in _WRAPPER_KEYS:
        if isinstance(checkpoint.get(key), dict):
            checkpoint = checkpoint[key]
            break
    state_dict = OrderedDict(
        (key, value) for key, value in checkpoint.items()
        if isinstance(value, torch.Tensor))
    if state_dict and all(key.startswith('module.') for key in state_dict):
        state_dict = OrderedDict(
            (key[len('module.'):], value) for key, value in state_dict.items())
    return state_dict


def select_prefix(state_dict: Dict[str, torch.Tensor],
                  prefix: Optional[str]) -> Dict[str, torch.Tensor]:
    """Keys under ``prefix`` with it removed; with ``prefix=None`` the
    ``backbone.`` part of a whole-model checkpoint, else everything."""
    if prefix is None:
        if any(key.startswith('backbone.') for key in state_dict):
            prefix = 'backbone.'
        else:
            return state_dict
    if not prefix.endswith('.'):
        prefix += '.'
    return OrderedDict((key[len(prefix):], value)
                       for key, value in state_dict.items()
                       if key.startswith(prefix))


def is_timm_layout(state_dict: Dict[str, torch.Tensor]) -> bool:
    return any(_TIMM_ONLY.match(key) for key in state_dict)


def timm_to_original(
        state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Rename timm ``fasternet_*`` keys to the original (and mmfasternet)
    names: timm stage ``i`` holds the original's merging ``2i-1`` as
    ``downsample`` and the original's stage ``2i`` as ``blocks``."""
    renamed = OrderedDict()
    for key, value in state_dict.items():
        stage = _TIMM_STAGE.match(key)
        if stage:
            index, is_merging, rest = stage.groups()
            index = int(index)
            new_index = 2 * index - 1 if is_merging else 2 * index
            key = f'stages.{new_index}.{rest}'
        elif key.startswith('conv_head.'):
            key = 'avgpool_pre_head.1.' + key[len('conv_head.'):]
        elif key.startswith('classifier.'):
            key = 'head.' + key[len('classifier.'):]
        renamed[key] = value
    return renamed


def to_original_layout(
        state_dict: Dict[str, torch.Tensor]) -> Tuple[Dict, str]:
    """Bring a FasterNet state dict of any known layout to the original
    names; returns it and the name of the layout it came in."""
    if is_timm_layout(state_dict):
        return timm_to_original(state_dict), 'timm'
    return state_dict, 'original'


def infer_arch(state_dict: Dict[str, torch.Tensor]) -> Optional[dict]:
    """``embed_dims``, ``depths`` and the matching arch name (or
    ``'custom'``) of the FasterNet weights in an original-layout state dict;
    None when it has no FasterNet stem."""
    from ..backbones.fasternet import FasterNet  # avoid an import cycle
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
    for arch, setting in FasterNet.arch_settings.items():
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


def _shorten(keys: List[str], limit: int = 6) -> str:
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
                       f'are absent: {_shorten(match["missing_weights"])}')
    # Tensors of the stem and the stages that the model has no place for
    # (deeper stages, layer scales, other norms) would be dropped silently.
    extra = [key for key in match['ignored']
             if key.startswith(('patch_embed.', 'stages.'))]
    if match['loaded'] and extra:
        reasons.append(f'{len(extra)} backbone tensors have no place in the '
                       f'model: {_shorten(extra)}')
    return reasons


def _mismatch_error(source: str, arch_name: str, reasons: List[str],
                    state_dict: Dict[str, torch.Tensor],
                    fix: str) -> CheckpointMismatchError:
    return CheckpointMismatchError(
        f'{source} does not fit FasterNet arch {arch_name!r}: '
        f'{"; ".join(reasons)}. The checkpoint holds '
        f'{describe_variant(state_dict)}. {fix}')


def checkpoint_settings(
        state_dict: Dict[str, torch.Tensor]) -> Optional[dict]:
    """The constructor options an original-layout FasterNet state dict was
    built with, as far as its tensors tell: ``embed_dims``, ``depths``,
    ``in_channels``, ``n_div``, ``mlp_ratio``, ``layer_scale`` (bool) and
    ``norm_has_running_stats`` (BN-like norms); None without a stem."""
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
    mlp_in = state_dict.get(first_block + 'mlp.0.weight')
    if mlp_in is not None:
        settings['mlp_ratio'] = mlp_in.shape[0] / channels
    return settings


def _option_differences(backbone: nn.Module,
                        found: Optional[dict]) -> List[str]:
    """The constructor options of ``backbone`` that explain why a
    checkpoint with the same widths and depths does not fit it."""
    if found is None or found['embed_dims'] != backbone.embed_dims or \
            tuple(found['depths']) != tuple(backbone.depths):
        return []
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
    that differ (``in_channels``, ``n_div``, ``mlp_ratio``, layer scale,
    norm type) when the checkpoint has the backbone's widths and depths,
    otherwise the variant the checkpoint holds, and ``fix``.

    Returns:
        dict: the match of :func:`_match_backbone`.
    """
    own_state = backbone.state_dict()
    match = _match_backbone(own_state, state_dict)
    reasons = _mismatch_reasons(match, own_state, state_dict, prefix)
    if reasons:
        options = _option_differences(backbone,
                                      checkpoint_settings(state_dict))
        if options:
            reasons.append('the backbone was built with ' +
                           '; '.join(options))
            fix = ('The checkpoint has this variant\'s widths and depths: '
                   'change the options above rather than the arch.')
        arch_name = getattr(backbone, 'arch', {}).get('name', '?')
        raise _mismatch_error(source, arch_name, reasons, state_dict, fix)
    return match


def load_pretrained_backbone(model: nn.Module,
                             filename: str,
                             prefix: Optional[str] = None,
                             map_location='cpu') -> Dict[str, List[str]]:
    """Load FasterNet weights from ``filename`` into the backbone ``model``.

    Accepts every layout in this module's docstring. Output norms
    (``norm0/2/4/6``, new in dense prediction) and the classification head
    may be absent from one side; anything else that does not match raises
    :class:`CheckpointMismatchError`, so a wrong file never leaves the model
    silently at random init. Logs one summary line.

    Returns:
        dict: ``loaded``, ``missing`` and ``ignored`` key lists.
    """
    checkpoint = read_checkpoint(filename, map_location)
    state_dict = select_prefix(unwrap_state_dict(checkpoint), prefix)
    state_dict, layout = to_original_layout(state_dict)
    arch_name = getattr(model, 'arch', {}).get('name', '?')
    match = check_backbone_state(
        model, state_dict, repr(filename),
        f'Build the backbone with the matching arch, or point init_cfg '
        f'at the checkpoint of arch {arch_name!r}.', prefix)

    loaded, missing, ignored = (match['loaded'], match['missing'],
                                match['ignored'])
    incompatible = model.load_state_dict(
        OrderedDict((key, state_dict[key]) for key in loaded), strict=False)
    assert not incompatible.unexpected_keys
    summary = (f'FasterNet-{arch_name}: loaded {len(loaded)} tensors from '
               f'{filename} ({layout} layout')
    summary += f', prefix {prefix!r})' if prefix else ')'
    if missing:
        summary += (f'; kept fresh (not in the checkpoint): '
                    f'{_shorten(missing)}')
    if ignored:
        summary += f'; ignored (not in the backbone): {_shorten(ignored)}'
    print_log(summary, logger='current')
    return dict(loaded=loaded, missing=missing, ignored=ignored)


# Where the original classifier's head tensors live in an mmpretrain
# ImageClassifier with a FasterNetClsHead.
_CLASSIFIER_HEAD_NAMES = (('avgpool_pre_head.', 'head.avgpool_pre_head.'),
                          ('head.', 'head.fc.'))


def classifier_head_to_original(
        state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """The FasterNetClsHead tensors of an mmpretrain classifier state dict
    (``head.avgpool_pre_head.*``, ``head.fc.*``) under the original names
    (``avgpool_pre_head.*``, ``head.*``); empty if it has none."""
    head = OrderedDict()
    for key, value in state_dict.items():
        for original, ours in reversed(_CLASSIFIER_HEAD_NAMES):
            if key.startswith(ours):
                head[original + key[len(ours):]] = value
                break
    return head


def adapt_classifier_state_dict(backbone: nn.Module,
                                state_dict: Dict[str, torch.Tensor],
                                prefix: str = '') -> Optional[str]:
    """Make a whole-classifier checkpoint fit an mmpretrain
    ``ImageClassifier`` with a FasterNet backbone, in place.

    An original or timm ImageNet state dict (``patch_embed.``, ``stages.``,
    ``avgpool_pre_head.1.``, ``head.``; or timm's names) under ``prefix`` is
    renamed to the classifier's (``backbone.``, ``head.avgpool_pre_head.1.``,
    ``head.fc.``); an mmpretrain/mmfasternet one (``backbone.``) is kept.
    Either way, FasterNet weights that do not fit ``backbone`` (another
    variant, missing tensors) raise :class:`CheckpointMismatchError` instead
    of mmengine's warning, and so does a state dict with nothing for the
    backbone at all.

    Returns:
        str | None: the layout found (``'original'``, ``'timm'``,
        ``'classifier'``), None for an empty state dict.
    """
    local = OrderedDict((key[len(prefix):], state_dict[key])
                        for key in list(state_dict)
                        if key.startswith(prefix))
    if not local:
        return None
    if any(key.startswith('backbone.') for key in local):
        layout = 'classifier'
    else:
        local, layout = to_original_layout(local)
        renamed = OrderedDict()
        for key, value in local.items():
            for old, new in _CLASSIFIER_HEAD_NAMES:
                if key.startswith(old):
                    key = new + key[len(old):]
                    break
            else:
                key = 'backbone.' + key
            renamed[key] = value
        for key in list(state_dict):
            if key.startswith(prefix):
                del state_dict[key]
        state_dict.update(
            (prefix + key, value) for key, value in renamed.items())
        local = renamed

    arch_name = getattr(backbone, 'arch', {}).get('name', '?')
    check_backbone_state(
        backbone, select_prefix(local, 'backbone.'),
        f'The checkpoint loaded into this FasterNet classifier '
        f'({layout} layout)',
        f'Load the checkpoint of arch {arch_name!r} (configs/'
        f'fasternet_{arch_name}_imagenet.py), or the config of the '
        f'checkpoint\'s variant.')
    return layout


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


class CheckpointInfo(NamedTuple):
    """What :func:`inspect_checkpoint` found in a checkpoint."""
    layout: str  # 'original', 'timm' or 'classifier' (mmpretrain's names)
    arch: Optional[dict]  # infer_arch(): name, embed_dims, depths
    state_dict: Dict[str, torch.Tensor]  # FasterNet tensors, original names
    meta: dict  # the checkpoint's ``meta``, if any
    description: str  # describe_checkpoint()


def inspect_checkpoint(checkpoint: Union[str, dict],
                       prefix: Optional[str] = None) -> CheckpointInfo:
    """Read any FasterNet checkpoint (a path, or what ``torch.load`` gave)
    and say what it holds: its layout, the variant, and its FasterNet
    tensors under the original names (backbone, output norms, and the
    ImageNet head, also from an mmpretrain classifier's
    ``FasterNetClsHead``). ``prefix`` selects a sub-module as in
    ``init_cfg``; by default the ``backbone.`` part of a whole model.

    Raises:
        FileNotFoundError, CheckpointMismatchError: as
            :func:`read_checkpoint`.
    """
    if isinstance(checkpoint, str):
        checkpoint = read_checkpoint(checkpoint)
    unwrapped = unwrap_state_dict(checkpoint)
    state_dict = select_prefix(unwrapped, prefix)
    state_dict, layout = to_original_layout(state_dict)
    head = classifier_head_to_original(unwrapped) if prefix is None else {}
    if head:
        layout = 'classifier'
        state_dict.update(head)
    meta = checkpoint.get('meta') if isinstance(checkpoint.get('meta'),
                                                dict) else {}
    return CheckpointInfo(layout, infer_arch(state_dict), state_dict, meta,
                          describe_checkpoint(unwrapped, meta))
