"""Published weights named by URL: a local copy under ``checkpoints/``, else
torch's hub cache, else one download into that cache."""
import os
import os.path as osp
from urllib.parse import urlparse

__all__ = ['WeightsNotAvailableError', 'hub_cache_path', 'local_weights']

LOCAL_DIR = 'checkpoints'


class WeightsNotAvailableError(OSError):
    """Weights named by URL that are neither on disk nor downloadable."""


def _file_name(url: str) -> str:
    return osp.basename(urlparse(url).path)


def hub_cache_path(url: str) -> str:
    """Where the file of ``url`` is cached: torch's hub folder
    (``$TORCH_HOME/hub/checkpoints``, as mmengine's URL loader uses)."""
    import torch.hub
    return osp.join(torch.hub.get_dir(), 'checkpoints', _file_name(url))


def local_weights(filename: str) -> str:
    """A local path holding ``filename``.

    Paths and URIs other than ``http(s)://`` are returned unchanged. For a
    URL, the first of: ``checkpoints/<file name>`` under the working
    directory (the copy a user downloaded by hand), the hub cache
    (:func:`hub_cache_path`), and a download into the hub cache (written
    to a temporary file first, so an interrupted download leaves nothing).

    Raises:
        WeightsNotAvailableError: the download failed; the message names
            the URL, the cache path and the local path either of which the
            file may be put at.
    """
    if urlparse(filename).scheme not in ('http', 'https'):
        return filename
    local = osp.join(LOCAL_DIR, _file_name(filename))
    if osp.isfile(local):
        return local
    cached = hub_cache_path(filename)
    if osp.isfile(cached):
        return cached
    from torch.hub import download_url_to_file
    os.makedirs(osp.dirname(cached), exist_ok=True)
    try:
        download_url_to_file(filename, cached, progress=False)
    except Exception as error:  # urllib raises URLError, HTTPError, OSError
        raise WeightsNotAvailableError(
            f'Could not download {filename} ({type(error).__name__}: '
            f'{error}). Download it where there is a connection and put it '
            f'at {cached} (the cache it is looked up in), or at '
            f'{osp.abspath(local)} (checkpoints/ under the directory you run '
            f'from); or set the checkpoint of the init_cfg to a local '
            f'file.') from error
    return cached
