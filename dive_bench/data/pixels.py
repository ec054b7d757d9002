"""Opening an image file without trusting its header: the pixel count is bounded before decoding.

Torch-free (the COCO json checks that ``metrics.coco`` and reports use import this module's
neighbour :mod:`.coco`). A 30 kB PNG can claim 40,000 x 40,000 pixels; decoding it would take
4.8 GB before any size check, so every loader of user images opens files through
:func:`open_bounded`.
"""

from __future__ import annotations

import warnings

from dive_bench.errors import DiveBenchError

#: the most pixels one image may have (4096 x 4096, 50 MB as RGB): checked from the file's header,
#: before decoding, so a decompression bomb costs nothing. Diffusion models take 8-1024 px.
MAX_IMAGE_PIXELS = 4096 * 4096


def open_bounded(source, where: str):
    """``PIL.Image.open`` of a file or file object whose header is checked before any pixel is
    decoded: at most :data:`MAX_IMAGE_PIXELS`. PIL's own bomb check warns (or raises an error
    that is no OSError) only past 89 M pixels, 5 times this bound."""
    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            im = Image.open(source)
        except Image.DecompressionBombError as exc:
            raise DiveBenchError(f"{where} claims more than {MAX_IMAGE_PIXELS:,} pixels; no diffusion model "
                                 "takes images that large: resize it to the model's resolution") from exc
    w, h = im.size
    if w * h > MAX_IMAGE_PIXELS:
        im.close()
        raise DiveBenchError(f"{where} is {w}x{h} pixels, more than the {MAX_IMAGE_PIXELS:,} dive_bench decodes (a "
                             "decompression bomb, or a photo at full size); resize it to the model's resolution")
    return im


__all__ = ["MAX_IMAGE_PIXELS", "open_bounded"]
