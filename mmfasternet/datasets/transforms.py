"""Loading steps that find damaged files instead of stopping a run on them.

``tools/train.py`` and ``tools/test.py`` wrap each file-loading step of a
config's pipelines (``LoadImageFromFile``, and ``LoadAnnotations`` for label
maps) in :class:`CheckedLoading`; see
:func:`mmfasternet.datasets.guard_data_loading`.
"""
import logging
import multiprocessing
from typing import List, Optional, Sequence, Union

from mmcv.transforms import BaseTransform
from mmengine.fileio import LocalBackend, get_file_backend
from mmengine.logging import print_log
from mmengine.registry import TRANSFORMS

from .integrity import damage_of_file, decode_problem

ON_DAMAGED = ('skip', 'error')


class DamagedFileError(OSError):
    """An image or label file is missing, empty, truncated or cannot be
    decoded, or a label map holds what is no class: ``path`` and ``reason``
    say which and why, ``kind`` is ``'damaged_file'`` or
    ``'label_range'``."""

    def __init__(self, message: str, path: str, reason: str,
                 kind: str = 'damaged_file'):
        super().__init__(message)
        self.path = path
        self.reason = reason
        self.kind = kind


class SharedCounter:
    """A count that dataloader worker processes add to and the main process
    reads.

    Created with the dataset in the main process; worker processes get the
    same shared memory whether they are forked or spawned. A deep copy of a
    pipeline shares it too.
    """

    def __init__(self):
        self._value = multiprocessing.Value('q', 0)

    def increment(self) -> None:
        with self._value.get_lock():
            self._value.value += 1

    @property
    def value(self) -> int:
        return self._value.value

    def __deepcopy__(self, memo):
        return self


@TRANSFORMS.register_module()
class CheckedLoading(BaseTransform):
    """Run loading transforms; a sample whose file is damaged is skipped
    with a warning (training) or stops the run with one error naming the
    file (evaluation), instead of failing somewhere inside a decoder or, for
    a truncated file that a decoder fills with grey, not failing at all.

    Before the wrapped transforms run, each file named by ``file_keys`` is
    checked for being missing, empty or truncated (a JPEG without its
    end-of-image marker, a PNG without its IEND chunk; see
    :func:`mmfasternet.datasets.integrity.damage_of_file`; local files
    only). If a wrapped transform then raises, the file is decoded once
    more on its own: if it cannot be, the sample is damaged; if it can, the
    original exception is raised unchanged (it is not the file's fault).
    A label map the transforms loaded (``gt_seg_map``) must then have one
    value per pixel, and with ``num_classes`` every value must be a class
    or ``ignore_index`` (after mmseg's ``reduce_zero_label`` shift, as the
    model sees it); one that does not is handled like a damaged file.

    Args:
        transforms (list[dict | callable]): the loading transforms, e.g.
            ``[dict(type='LoadImageFromFile')]``, built in the current
            default scope.
        file_keys (Sequence[str]): keys of the results dict that name the
            files these transforms read (``'img_path'``,
            ``'seg_map_path'``); a key that is absent or None is passed.
        on_damaged (str): ``'skip'``: log a warning naming the file and
            return None, so that mmengine's ``BaseDataset`` (in training
            mode) loads another sample in its place; the skips are counted
            in :attr:`skipped`. ``'error'``: raise :class:`DamagedFileError`.
        ann_file (str, optional): the annotation file or folder the sample
            came from, named in the messages.
        num_classes (int, optional): the number of classes label maps may
            hold; None leaves their values unchecked.
        ignore_index (int): the label value the loss ignores.

    Raises:
        DamagedFileError: with ``on_damaged='error'``, for a damaged file.
        ValueError: for an ``on_damaged`` other than 'skip' or 'error'.
    """

    def __init__(self,
                 transforms: List[Union[dict, callable]],
                 file_keys: Sequence[str] = ('img_path', ),
                 on_damaged: str = 'skip',
                 ann_file: Optional[str] = None,
                 num_classes: Optional[int] = None,
                 ignore_index: int = 255):
        if on_damaged not in ON_DAMAGED:
            raise ValueError(f'on_damaged={on_damaged!r}: choose one of '
                             f'{ON_DAMAGED}')
        self.transforms = [
            TRANSFORMS.build(t) if isinstance(t, dict) else t
            for t in transforms
        ]
        self.file_keys = tuple(file_keys)
        self.on_damaged = on_damaged
        self.ann_file = ann_file
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.skipped = SharedCounter()
        self.backend_args = next(
            (t.backend_args for t in self.transforms
             if getattr(t, 'backend_args', None)), None)

    def _paths(self, results: dict):
        return [(key, results[key]) for key in self.file_keys
                if results.get(key)]

    def _damaged(self, path: str, reason: str, cause=None,
                 kind: str = 'damaged_file'):
        source = f' (listed in {self.ann_file})' if self.ann_file else ''
        if self.on_damaged == 'error':
            raise DamagedFileError(
                f'{path}{source}: {reason}. Replace the file or remove its '
                'entry; `python tools/misc/check_dataset.py CONFIG` lists '
                'every damaged file of a dataset. (Training skips damaged '
                'samples; evaluation stops, since skipping would change '
                'the metrics.)', path, reason, kind) from cause
        self.skipped.increment()
        print_log(
            f'Skipped a damaged training sample: {path}{source}: {reason}. '
            'Another sample is loaded in its place.',
            logger='current', level=logging.WARNING)
        return None

    def transform(self, results: dict) -> Optional[dict]:
        """Check the files, then run the wrapped transforms.

        Returns:
            dict or None: the results of the wrapped transforms; None for a
            skipped sample.
        """
        paths = self._paths(results)
        for _, path in paths:
            backend = get_file_backend(
                path, backend_args=self.backend_args, enable_singleton=True)
            if isinstance(backend, LocalBackend):
                reason = damage_of_file(path)
                if reason is not None:
                    return self._damaged(path, reason)
        try:
            for transform in self.transforms:
                results = transform(results)
                if results is None:
                    names = ', '.join(p for _, p in paths) or 'its files'
                    return self._damaged(
                        names, f'{type(transform).__name__} returned None')
        except Exception as error:
            for _, path in paths:
                reason = self._read_problem(path, self.backend_args)
                if reason is not None:
                    return self._damaged(path, reason, cause=error)
            raise
        label_map = results.get('gt_seg_map')
        if label_map is not None:
            reason = self._label_map_problem(label_map, results)
            if reason is not None:
                return self._damaged(results['seg_map_path'], reason,
                                     kind='label_range')
        return results

    def _label_map_problem(self, label_map, results: dict) -> Optional[str]:
        """Why a loaded label map cannot be trained on, or None."""
        import numpy as np
        if label_map.ndim != 2:
            return (f'a label map of shape {label_map.shape}, where one '
                    f'class index per pixel (a 2-D map) is expected; a '
                    f'colour image saved as the label map?')
        if self.num_classes is None or results.get('label_map'):
            return None  # unknown classes, or mmseg maps a class subset
        values = np.unique(label_map)
        outside = values[(values >= self.num_classes)
                         & (values != self.ignore_index)]
        if not len(outside):
            return None
        # reported as they are in the file, before the reduce_zero_label
        # shift (file value v becomes v - 1)
        shift = 1 if results.get('reduce_zero_label') else 0
        shown = [int(v) + shift for v in outside[:8]]
        return (f'values {shown} beyond the {self.num_classes} classes '
                f'(highest valid: {self.num_classes - 1 + shift}, ignore: '
                f'{self.ignore_index})')

    @staticmethod
    def _read_problem(path: str, backend_args=None) -> Optional[str]:
        from mmengine import fileio
        try:
            data = fileio.get(path, backend_args=backend_args)
        except Exception as error:
            return f'cannot be read ({type(error).__name__}: {error})'
        return decode_problem(data)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(transforms={self.transforms}, '
                f'file_keys={self.file_keys}, '
                f'on_damaged={self.on_damaged!r}, '
                f'num_classes={self.num_classes})')
