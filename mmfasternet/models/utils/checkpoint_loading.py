"""Reading FasterNet weights from any checkpoint a user holds (the layouts
of :mod:`.state_dict_layouts`) and loading them into a backbone or a whole
mmpretrain classifier, refusing files that do not fit."""
import os.path as osp
from collections import OrderedDict
from typing import Dict, List, NamedTuple, Optional, Union

import torch
import torch.nn as nn
from mmengine.logging import print_log

from ...utils.uri import is_remote
from ..heads.fasternet_head_keys import (
    CLASSIFIER_HEAD_PREFIX,
    classifier_head_to_original,
    original_to_classifier_key,
)
from .checkpoint_diagnosis import (
    CheckpointMismatchError,
    describe_checkpoint,
    infer_arch,
    shorten_keys,
)
from .state_dict_layouts import select_prefix, to_original_layout
from .weights import local_weights

__all__ = [
    'CheckpointInfo', 'adapt_classifier_state_dict', 'inspect_checkpoint',
    'load_pretrained_backbone', 'load_whole_model', 'read_checkpoint',
    'require_whole_model', 'unwrap_state_dict'
]

_WRAPPER_KEYS = ('state_dict', 'model', 'module', 'model_state_dict')


def read_checkpoint(filename: str, map_location='cpu') -> dict:
    """Load a checkpoint file (or URL) with one clear error per failure.

    An ``http(s)://`` URL is read from its local copy, downloaded once if
    needed (:func:`~.weights.local_weights`).

    Raises:
        FileNotFoundError: a local ``filename`` that does not exist.
        WeightsNotAvailableError: a URL that could not be downloaded.
        CheckpointMismatchError: a file torch cannot read, or one that
            holds something other than a dict.
    """
    filename = local_weights(filename)
    if not is_remote(filename) and not osp.isfile(filename):
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


def load_pretrained_backbone(model: nn.Module,
                             filename: str,
                             prefix: Optional[str] = None,
                             map_location='cpu') -> Dict[str, List[str]]:
    """Load FasterNet weights from ``filename`` into the backbone ``model``.

    Accepts every layout of :mod:`.state_dict_layouts`. The weights go
    through ``model.load_state_dict``, where the backbone checks them (see
    ``FasterNet._load_from_state_dict``): output norms (``norm0/2/4/6``,
    new in dense prediction) and the classification head may be absent
    from one side; anything else that does not fit raises
    :class:`CheckpointMismatchError` naming the file, so a wrong file never
    leaves the model silently at random init. Logs one summary line.

    Returns:
        dict: ``loaded``, ``missing`` and ``ignored`` key lists.

    Raises:
        FileNotFoundError, CheckpointMismatchError: see
            :func:`read_checkpoint` and
            :func:`~.checkpoint_diagnosis.check_backbone_state`.
    """
    checkpoint = read_checkpoint(filename, map_location)
    state_dict = select_prefix(unwrap_state_dict(checkpoint), prefix)
    state_dict, layout = to_original_layout(state_dict)
    try:
        incompatible = model.load_state_dict(state_dict, strict=False)
    except CheckpointMismatchError as error:
        raise CheckpointMismatchError(f'{filename}: {error}') from None
    missing, ignored = incompatible.missing_keys, \
        incompatible.unexpected_keys
    loaded = [key for key in state_dict if key not in ignored]
    arch_name = getattr(model, 'arch', {}).get('name', '?')
    summary = (f'FasterNet-{arch_name}: loaded {len(loaded)} tensors from '
               f'{filename} ({layout} layout')
    summary += f', prefix {prefix!r})' if prefix else ')'
    if missing:
        summary += (f'; kept fresh (not in the checkpoint): '
                    f'{shorten_keys(missing)}')
    if ignored:
        summary += f'; ignored (not in the backbone): {shorten_keys(ignored)}'
    print_log(summary, logger='current')
    return dict(loaded=loaded, missing=missing, ignored=ignored)


def require_whole_model(model: nn.Module, source: str,
                        meta: Optional[dict] = None) -> None:
    """Make the next load into ``model`` (a detector, segmentor or
    classifier) refuse a state dict that does not hold every tensor of the
    model with its shape, before anything is loaded: the rule of
    ``tools/test.py``, ``tools/train.py --resume`` and every tool that
    loads a trained model.

    The check runs as a load-state-dict pre-hook of the model, after the
    model's own (mmpretrain's classifier renames original FasterNet
    checkpoints there), so it sees the names that are actually loaded; BN
    step counters may be missing. ``source`` names the file in the error,
    ``meta`` (the checkpoint's) helps say what it holds.

    Raises:
        CheckpointMismatchError: at that load, saying what the file holds
            and what to do with it.
    """
    handle = None

    def check_once(module, state_dict, prefix, *args):
        handle.remove()
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
        what = describe_checkpoint(state_dict, meta)
        if 'backbone (' in what:
            fix = ('It initialises a backbone only: put it in the config as '
                   'model.backbone.init_cfg=dict(type=\'Pretrained\', '
                   f'checkpoint={source!r}) and train; to test or deploy, '
                   'pass the checkpoint of a trained model.')
        else:
            fix = ('Use the config the checkpoint was trained with (a '
                   'training run writes it into its work dir), or fine-tune '
                   'this config from it with load_from first.')
        raise CheckpointMismatchError(
            f'{source} does not hold this config\'s model, so it cannot '
            f'test, resume or deploy it: {"; ".join(problems)}; {loaded} '
            f'tensors match. The file holds {what}. {fix}')

    handle = model.register_load_state_dict_pre_hook(check_once)


def load_whole_model(model: nn.Module, filename: str,
                     map_location='cpu') -> dict:
    """Load the checkpoint of a whole model (a detector, segmentor or
    classifier) from ``filename`` into ``model``, refusing one that does
    not hold it (:func:`require_whole_model`). Returns the checkpoint.

    Raises:
        FileNotFoundError, CheckpointMismatchError: see
            :func:`read_checkpoint` and :func:`require_whole_model`.
    """
    checkpoint = read_checkpoint(filename, map_location)
    meta = checkpoint.get('meta')
    require_whole_model(model, filename, meta if isinstance(meta, dict)
                        else None)
    model.load_state_dict(unwrap_state_dict(checkpoint), strict=False)
    return checkpoint


def adapt_classifier_state_dict(backbone: nn.Module,
                                state_dict: Dict[str, torch.Tensor],
                                prefix: str = '') -> Optional[str]:
    """Make a whole-classifier checkpoint fit an mmpretrain
    ``ImageClassifier`` with a FasterNet backbone, in place.

    An original or timm ImageNet state dict (``patch_embed.``, ``stages.``,
    ``avgpool_pre_head.1.``, ``head.``; or timm's names) under ``prefix`` is
    renamed to the classifier's (``backbone.``, and the head's names given
    by :mod:`~mmfasternet.models.heads.fasternet_head_keys`); an
    mmpretrain/mmfasternet one (``backbone.``) is kept. The backbone then
    checks the weights meant for it as they load.

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
            head_key = original_to_classifier_key(key, CLASSIFIER_HEAD_PREFIX)
            renamed[head_key or 'backbone.' + key] = value
        for key in list(state_dict):
            if key.startswith(prefix):
                del state_dict[key]
        state_dict.update(
            (prefix + key, value) for key, value in renamed.items())
    return layout


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

    Example:
        >>> from mmfasternet import FasterNet
        >>> from mmfasternet.models.utils import inspect_checkpoint
        >>> weights = FasterNet(arch='t1').state_dict()
        >>> detector = {'state_dict': {
        ...     f'backbone.{key}': value for key, value in weights.items()}}
        >>> info = inspect_checkpoint(detector)
        >>> info.layout, info.arch['name']
        ('original', 't1')
        >>> info.description
        'a model (backbone) with a FasterNet-T1 backbone'
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
