"""Dataset checks and damage-tolerant loading for the three tasks.

Importing this package registers :class:`CheckedLoading` in mmengine's root
``TRANSFORMS`` registry (found from the mmdet, mmseg and mmpretrain scopes);
it imports none of those libraries.
"""
from .config_checks import (
                            DatasetConfigError,
                            DatasetNotFoundError,
                            Problem,
                            check_before_run,
                            config_problems,
                            read_coco_categories,
)
from .guard import guard_data_loading, prepare_datasets
from .integrity import damage_of_bytes, damage_of_file
from .transforms import CheckedLoading, DamagedFileError

__all__ = [
    'CheckedLoading', 'DamagedFileError', 'DatasetConfigError',
    'DatasetNotFoundError', 'Problem', 'check_before_run', 'config_problems',
    'damage_of_bytes', 'damage_of_file', 'guard_data_loading',
    'prepare_datasets', 'read_coco_categories'
]
