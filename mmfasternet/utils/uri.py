"""Telling local paths from URIs."""
import re

_URI = re.compile(r'^[a-zA-Z][a-zA-Z0-9+.-]*://')


def is_remote(path) -> bool:
    """Whether ``path`` is a URI (``http://``, ``s3://``,
    ``torchvision://`` ...) rather than a local path."""
    return _URI.match(str(path)) is not None
