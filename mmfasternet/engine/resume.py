"""Which checkpoint ``tools/train.py --resume`` continues from."""
import glob
import os.path as osp
from typing import List, Optional, Tuple

import torch


def _read_progress(path: str) -> Tuple[Optional[tuple], str]:
    """(epoch, iter, has optimizer state) of a checkpoint, or None and why
    it cannot be resumed from."""
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
    return (meta.get('epoch', 0), meta['iter'],
            'optimizer' in checkpoint), ''


def find_resumable_checkpoint(
        work_dir: str,
        checkpoint_dirs: Tuple[str, ...] = ()) -> Tuple[Optional[str], str]:
    """The checkpoint training should resume from: of the ``.pth`` files in
    ``work_dir``, in ``checkpoint_dirs`` and the one ``last_checkpoint``
    names, the one that loads and is furthest into training (the most
    iterations), preferring files with optimizer state (mmengine's
    ``best_*`` checkpoints have none). Files that do not load (e.g.
    truncated by a crash while being written) are skipped.

    Unlike mmengine's ``find_latest_checkpoint``, which trusts
    ``last_checkpoint`` even when the file it names is gone or broken.

    Returns:
        tuple: the path (None if nothing can be resumed) and one line that
        says which file was chosen and why others were skipped.
    """
    candidates, skipped = set(), []
    for directory in (work_dir, *checkpoint_dirs):
        candidates.update(
            osp.abspath(path)
            for path in glob.glob(osp.join(directory, '*.pth')))
    pointer = osp.join(work_dir, 'last_checkpoint')
    if osp.isfile(pointer):
        with open(pointer) as f:
            named = f.read().strip()
        if named and osp.isfile(named):
            candidates.add(osp.abspath(named))
        elif named:
            skipped.append(f'{named} (named by last_checkpoint, missing)')
    usable = []
    for path in sorted(candidates):
        progress, why = _read_progress(path)
        if progress is None:
            skipped.append(f'{osp.basename(path)} ({why})')
        else:
            usable.append((progress, osp.getmtime(path), path))
    if not usable:
        note = f'No checkpoint to resume from in {work_dir}'
        if skipped:
            note += '; skipped: ' + ', '.join(skipped)
        return None, note + '. Training starts from the beginning.'
    if any(has_optimizer for (_, _, has_optimizer), _, _ in usable):
        skipped += [
            f'{osp.basename(path)} (no optimizer state)'
            for (_, _, has_optimizer), _, path in usable if not has_optimizer
        ]
        usable = [entry for entry in usable if entry[0][2]]
    (epoch, iteration, _), _, chosen = max(
        usable, key=lambda entry: (entry[0][1], entry[0][0], entry[1]))
    note = (f'Resuming from {chosen} (epoch {epoch}, iteration {iteration}), '
            f'the furthest complete checkpoint in {work_dir}')
    if skipped:
        note += '; skipped: ' + ', '.join(skipped)
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
