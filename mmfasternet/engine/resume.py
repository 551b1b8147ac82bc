"""Which checkpoint ``tools/train.py --resume`` continues from."""
import glob
import os.path as osp
from typing import List, NamedTuple, Optional, Tuple

import torch


class _Progress(NamedTuple):
    epoch: int
    iteration: int
    has_optimizer: bool
    run_id: Optional[str]  # SafeCheckpointHook's, None in other files


def _read_progress(path: str) -> Tuple[Optional[_Progress], str]:
    """How far into training a checkpoint is, or None and why it cannot be
    resumed from."""
    try:
        # mmap: the tensors are not read, but the archive and its pickle
        # are, which is what a crash during writing breaks. Files in the
        # legacy (non-zip) format cannot be mapped and are read whole.
        try:
            checkpoint = torch.load(
                path, map_location='cpu', mmap=True, weights_only=True)
        except RuntimeError as error:
            if 'zipfile' not in str(error):
                raise
            checkpoint = torch.load(
                path, map_location='cpu', weights_only=True)
    except Exception as error:  # torch.load raises many unrelated types
        first_line = str(error).strip().splitlines()[0][:120]
        return None, f'unreadable ({type(error).__name__}: {first_line})'
    meta = checkpoint.get('meta') if isinstance(checkpoint, dict) else None
    if not isinstance(meta, dict) or 'iter' not in meta or \
            'state_dict' not in checkpoint:
        return None, 'not a training checkpoint (no meta.iter/state_dict)'
    return _Progress(meta.get('epoch', 0), meta['iter'],
                     'optimizer' in checkpoint, meta.get('run_id')), ''


def find_resumable_checkpoint(
        work_dir: str,
        checkpoint_dirs: Tuple[str, ...] = ()) -> Tuple[Optional[str], str]:
    """The checkpoint training should resume from.

    The one ``last_checkpoint`` names, whenever it loads: checkpoints are
    written completely before ``last_checkpoint`` names them, so it is the
    last checkpoint of the last run in ``work_dir``, even when an earlier
    run there went further. When it is missing or does not load (deleted,
    truncated, or ``last_checkpoint`` cut short by a crash), the
    ``.pth`` file of ``work_dir`` and ``checkpoint_dirs`` that loads and is
    furthest into training (the most iterations), preferring files with
    optimizer state (mmengine's ``best_*`` checkpoints have none). Unlike
    mmengine's ``find_latest_checkpoint``, which trusts ``last_checkpoint``
    even when the file it names is gone or broken.

    Returns:
        tuple: the path (None if nothing can be resumed) and one line that
        says which file was chosen and why, which files were skipped, and
        which belong to another run (checkpoints written by
        ``SafeCheckpointHook`` carry the run they belong to).
    """
    paths = set()
    for directory in (work_dir, *checkpoint_dirs):
        paths.update(osp.abspath(path)
                     for path in glob.glob(osp.join(directory, '*.pth')))
    named, skipped = None, []
    pointer = osp.join(work_dir, 'last_checkpoint')
    if osp.isfile(pointer):
        with open(pointer) as f:
            named = f.read().strip() or None
        if named and osp.isfile(named):
            paths.add(osp.abspath(named))
        elif named:
            skipped.append(f'{named} (named by last_checkpoint, missing)')
    usable = {}
    for path in sorted(paths):
        progress, why = _read_progress(path)
        if progress is None:
            skipped.append(f'{osp.basename(path)} ({why})')
        else:
            usable[path] = progress
    named = osp.abspath(named) if named else None
    if named in usable:
        chosen = named
        why = 'the checkpoint last_checkpoint names'
    elif usable:
        with_optimizer = [p for p in usable if usable[p].has_optimizer]
        skipped += [f'{osp.basename(p)} (no optimizer state)'
                    for p in usable if with_optimizer and p not in
                    with_optimizer]
        chosen = max(with_optimizer or usable,
                     key=lambda p: (usable[p].iteration, usable[p].epoch,
                                    osp.getmtime(p)))
        why = 'the furthest complete checkpoint'
        if named:
            why += ' (the one last_checkpoint names does not load)'
    else:
        note = f'No checkpoint to resume from in {work_dir}'
        if skipped:
            note += '; skipped: ' + ', '.join(skipped)
        return None, note + '. Training starts from the beginning.'
    progress = usable[chosen]
    note = (f'Resuming from {chosen} (epoch {progress.epoch}, iteration '
            f'{progress.iteration}), {why} in {work_dir}')
    if skipped:
        note += '; skipped: ' + ', '.join(skipped)
    others = sorted(osp.basename(p) for p, other in usable.items()
                    if progress.run_id and other.run_id
                    and other.run_id != progress.run_id)
    if others:
        note += (f'; {", ".join(others)} belong to another run in the same '
                 f'work dir and are not used')
    return chosen, note + '.'


def checkpoint_dirs_of(cfg) -> List[str]:
    """Where the config's checkpoint hook writes, if not the work dir."""
    hook = cfg.get('default_hooks', {}).get('checkpoint') or {}
    out_dir = hook.get('out_dir')
    if not out_dir:
        return []
    return [osp.join(out_dir, osp.basename(cfg.work_dir.rstrip(osp.sep)))]


def apply_resume(cfg, resume: Optional[str]) -> Optional[str]:
    """Set ``cfg.resume`` / ``cfg.load_from`` for ``tools/train.py
    --resume [CKPT]``: ``'auto'`` picks :func:`find_resumable_checkpoint`
    (and keeps the config's ``load_from`` when there is nothing to resume),
    a path resumes from that file, None leaves the config as it is.

    Returns:
        str | None: the line to log about the choice.
    """
    if resume is None:
        return None
    if resume != 'auto':
        cfg.resume, cfg.load_from = True, resume
        return None
    path, note = find_resumable_checkpoint(cfg.work_dir,
                                           tuple(checkpoint_dirs_of(cfg)))
    if path is not None:
        cfg.resume, cfg.load_from = True, path
    else:
        cfg.resume = False
    return note
