"""Walking a dataloader's dataset config through its wrappers."""
from typing import Iterator, Tuple


def iter_dataset_cfgs(dataset_cfg: dict, key: str,
                      innermost: bool = True) -> Iterator[Tuple[str, dict]]:
    """(config key, dataset config) of each dataset under a dataloader's
    ``dataset``, through wrappers (``dataset``: RepeatDataset,
    ClassBalancedDataset, MultiImageMixDataset; ``datasets``:
    ConcatDataset). With ``innermost=False`` the wrappers come too."""
    if 'dataset' in dataset_cfg:
        if not innermost:
            yield key, dataset_cfg
        yield from iter_dataset_cfgs(dataset_cfg['dataset'], f'{key}.dataset',
                                     innermost)
    elif 'datasets' in dataset_cfg:
        if not innermost:
            yield key, dataset_cfg
        for index, child in enumerate(dataset_cfg['datasets']):
            yield from iter_dataset_cfgs(child, f'{key}.datasets.{index}',
                                         innermost)
    else:
        yield key, dataset_cfg
