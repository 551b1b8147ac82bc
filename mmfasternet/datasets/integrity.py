"""Is an image file whole? Checks on its first and last bytes, without
decoding it.

A truncated JPEG or PNG is the usual damage of an interrupted copy or
download. Some decoders reject it (OpenCV 4.11 returns None), others decode
the part that is there and fill the rest with grey (Pillow with
``ImageFile.LOAD_TRUNCATED_IMAGES``, older OpenCV). Looking for the format's
end marker finds it whichever decoder a pipeline uses: a JPEG must reach its
end-of-image marker (FF D9), a PNG its IEND chunk.
"""
import io
import os
from typing import Optional

JPEG_START = b'\xff\xd8\xff'
PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'
PNG_END = b'\x00\x00\x00\x00IEND\xaeB`\x82'
# Bytes read from each end of a file: enough for every header checked here
# and for the padding some writers leave after the end marker.
HEAD_BYTES = 32
TAIL_BYTES = 1024


def _jpeg_damage(data: bytes) -> Optional[str]:
    """Walk the marker segments and entropy-coded scans of a whole JPEG.

    Only reached when the file does not end with the end-of-image marker:
    a file with bytes after its end (a camera's trailer) is whole, one whose
    data stops inside a segment or a scan is truncated.
    """
    size = len(data)
    pos = 2  # after the start-of-image marker
    while pos + 1 < size:
        if data[pos] != 0xFF:
            return f'corrupt JPEG (no marker at byte {pos})'
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte before a marker
            pos += 1
            continue
        if marker == 0xD9:
            return None
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            pos += 2
            continue
        if pos + 4 > size:
            break
        pos += 2 + int.from_bytes(data[pos + 2:pos + 4], 'big')
        if marker != 0xDA:
            continue
        # Entropy-coded data: 0xFF is followed by a stuffed 0x00 or a
        # restart marker until the next real marker.
        while True:
            pos = data.find(b'\xff', pos)
            if pos < 0 or pos + 1 >= size:
                pos = size
                break
            following = data[pos + 1]
            if following == 0x00 or 0xD0 <= following <= 0xD7:
                pos += 2
            elif following == 0xFF:
                pos += 1
            else:
                break
    return (f'truncated JPEG ({size} bytes; the data ends before the '
            'end-of-image marker)')


def _png_damage(data: bytes) -> Optional[str]:
    """Walk the chunks of a whole PNG that does not end with IEND."""
    size = len(data)
    pos = len(PNG_SIGNATURE)
    while pos + 8 <= size:
        end = pos + 12 + int.from_bytes(data[pos:pos + 4], 'big')
        if data[pos + 4:pos + 8] == b'IEND' and end <= size:
            return None
        pos = end
    return (f'truncated PNG ({size} bytes; the data ends before the IEND '
            'chunk)')


def _size_field_damage(head: bytes, size: int) -> Optional[str]:
    """BMP and WebP state their own length in the header."""
    if head[:2] == b'BM' and len(head) >= 6:
        expected = int.from_bytes(head[2:6], 'little')
        kind = 'BMP'
    elif head[:4] == b'RIFF' and head[8:12] == b'WEBP':
        expected = int.from_bytes(head[4:8], 'little') + 8
        kind = 'WebP'
    else:
        return None
    if size < expected:
        return (f'truncated {kind} ({size} bytes; its header says '
                f'{expected})')
    return None


def damage_of_bytes(data: bytes) -> Optional[str]:
    """Why an image file with this content is damaged, or None.

    Args:
        data (bytes): the whole file.

    Returns:
        str or None: ``'empty file (0 bytes)'``, ``'truncated JPEG (...)'``,
        ``'truncated PNG (...)'``, ``'corrupt JPEG (...)'`` or a truncated
        BMP/WebP; None when the file is whole or its format is none of
        these (formats without an end marker are only found damaged by
        decoding them).
    """
    if not data:
        return 'empty file (0 bytes)'
    if data.startswith(JPEG_START):
        if data.rstrip(b'\x00\r\n\t ').endswith(b'\xff\xd9'):
            return None
        return _jpeg_damage(data)
    if data.startswith(PNG_SIGNATURE):
        return None if data.endswith(PNG_END) else _png_damage(data)
    return _size_field_damage(data[:HEAD_BYTES], len(data))


def damage_of_file(path: str) -> Optional[str]:
    """Why the local image file ``path`` is damaged, or None.

    Reads its first 32 bytes and last KiB; the whole file only when a JPEG
    or PNG does not end with its end marker (to tell a trailer from a
    truncation).

    Returns:
        str or None: ``'missing (no such file)'``, ``'a directory, not a
        file'`` or what :func:`damage_of_bytes` says.
    """
    try:
        with open(path, 'rb') as f:
            size = os.fstat(f.fileno()).st_size
            head = f.read(HEAD_BYTES)
            if size > TAIL_BYTES:
                f.seek(size - TAIL_BYTES)
                tail = f.read(TAIL_BYTES)
            else:
                tail = head + f.read()
    except FileNotFoundError:
        return 'missing (no such file)'
    except IsADirectoryError:
        return 'a directory, not a file'
    if size == 0:
        return 'empty file (0 bytes)'
    if head.startswith(JPEG_START):
        if tail.rstrip(b'\x00\r\n\t ').endswith(b'\xff\xd9'):
            return None
    elif head.startswith(PNG_SIGNATURE):
        if tail.endswith(PNG_END):
            return None
    else:
        return _size_field_damage(head, size)
    with open(path, 'rb') as f:
        return damage_of_bytes(f.read())


def decode_problem(data: bytes) -> Optional[str]:
    """Decode a whole image file's content: None if OpenCV or Pillow can,
    else why not."""
    import cv2
    import numpy as np
    from PIL import Image, UnidentifiedImageError
    if not data:
        return 'empty file (0 bytes)'
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if image is not None:
        return None
    try:
        with Image.open(io.BytesIO(data)) as pil_image:
            pil_image.load()
    except UnidentifiedImageError:
        return ('not an image OpenCV or Pillow can read (starts with '
                f'{data[:16]!r})')
    except Exception as error:  # Pillow raises many types on bad data
        return (f'cannot be decoded ({type(error).__name__}: {error}; '
                f'starts with {data[:16]!r})')
    return None
