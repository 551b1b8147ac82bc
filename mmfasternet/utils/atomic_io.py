"""Writes that a crash cannot leave half done.

A file is written under a temporary name in the same directory, flushed and
fsynced, then renamed over the target (``os.replace`` is atomic on POSIX and
Windows), and the directory entry is fsynced: at any instant the target
holds either its old or its new content in full.
"""
import os
import os.path as osp
from typing import Union

from mmengine.fileio import LocalBackend, register_backend

__all__ = [
    'AtomicLocalBackend', 'PARTIAL_SUFFIX', 'atomic_write',
    'remove_partial_files'
]

# Suffix of the files being written; a crash can leave one behind, which
# ``remove_partial_files`` deletes and ``tools/train.py --resume`` ignores.
PARTIAL_SUFFIX = '.partial'


def _fsync_directory(path: str):
    if not hasattr(os, 'O_DIRECTORY'):  # Windows: directories cannot be opened
        return
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Union[str, os.PathLike], data: Union[bytes, str],
                 encoding: str = 'utf-8') -> None:
    """Write ``data`` (bytes, or str encoded with ``encoding``) to ``path``
    atomically: readers and a later run see the old file or the new one,
    never a truncated one, whenever the process dies.

    Raises:
        OSError: the write failed (disk full, permission, ...); ``path`` is
            left as it was and the partial file is removed.
    """
    path = os.fspath(path)
    directory = osp.dirname(osp.abspath(path))
    os.makedirs(directory, exist_ok=True)
    if isinstance(data, str):
        data = data.encode(encoding)
    partial = path + PARTIAL_SUFFIX
    try:
        with open(partial, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(partial, path)
    except BaseException:
        if osp.exists(partial):
            os.remove(partial)
        raise
    _fsync_directory(directory)


def remove_partial_files(directory: str) -> list:
    """Delete what interrupted :func:`atomic_write` calls left in
    ``directory``; returns the paths removed."""
    removed = []
    if not osp.isdir(directory):
        return removed
    for name in sorted(os.listdir(directory)):
        if name.endswith(PARTIAL_SUFFIX):
            os.remove(osp.join(directory, name))
            removed.append(osp.join(directory, name))
    return removed


@register_backend('atomic_local')
class AtomicLocalBackend(LocalBackend):
    """mmengine's local file backend whose ``put`` and ``put_text`` write
    atomically (see :func:`atomic_write`). Selected with
    ``backend_args=dict(backend='atomic_local')``."""

    def put(self, obj: bytes, filepath) -> None:
        atomic_write(filepath, obj)

    def put_text(self, obj: str, filepath, encoding: str = 'utf-8') -> None:
        atomic_write(filepath, obj, encoding)
