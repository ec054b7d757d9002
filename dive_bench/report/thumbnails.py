"""Item images as the report embeds them: upscaled by whole pixels, boxes drawn on top, PNG data URIs.

Why whole-pixel (nearest) upscaling: a 28x28 or 32x32 item shown at 3-4x must still be the
dataset's pixels, so a reader (and tests/report/test_gallery_truth.py) can take every ``scale``-th
pixel of the embedded PNG and get the item back exactly. Boxes are drawn after upscaling, on the
pixel grid of the scaled image, so a box [x, y, w, h] covers scaled pixels ``x*s .. (x+w)*s - 1``.
PNG bytes are deterministic (PIL writes no timestamp), so a report regenerates byte-identical.
"""

from __future__ import annotations

import base64
import hashlib
import io
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw

#: one colour per class id (category ids start at 1 for COCO, classes at 0): Okabe-Ito, readable
#: by colour-blind readers and distinct on grey images
PALETTE = ((230, 159, 0), (86, 180, 233), (0, 158, 115), (240, 228, 66), (0, 114, 178), (213, 94, 0),
           (204, 121, 167), (120, 120, 120), (170, 68, 153), (17, 119, 51))


def colour(index: int) -> tuple[int, int, int]:
    return PALETTE[int(index) % len(PALETTE)]


def pixels_sha256(pixels: np.ndarray) -> str:
    """The content hash a gallery item carries (``data-sha256``): of the item's own uint8 pixels,
    (H, W) or (H, W, C), before any scaling, so it can be checked against the dataset."""
    arr = np.ascontiguousarray(pixels, dtype=np.uint8)
    return hashlib.sha256(repr(arr.shape).encode() + arr.tobytes()).hexdigest()


def as_hwc(pixels: np.ndarray) -> np.ndarray:
    """(H, W), (1, H, W), (3, H, W), (H, W, 1) or (H, W, 3) uint8 -> (H, W) or (H, W, 3)."""
    arr = np.asarray(pixels, dtype=np.uint8)
    if arr.ndim == 3 and arr.shape[0] in (1, 3) and arr.shape[-1] not in (1, 3):
        arr = arr.transpose(1, 2, 0)
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    return arr


def upscale(pixels: np.ndarray, scale: int) -> Image.Image:
    """Nearest-neighbour upscaling by a whole factor, as an RGB image (boxes are drawn in colour)."""
    arr = as_hwc(pixels)
    big = np.repeat(np.repeat(arr, scale, axis=0), scale, axis=1)
    img = Image.fromarray(big)
    return img.convert("RGB")


def draw_box(img: Image.Image, bbox: Sequence[float], scale: int, rgb: tuple[int, int, int], *,
             dashed: bool = False, width: int = 1) -> None:
    """Outline COCO box ``[x, y, w, h]`` (item pixels) on the scaled image: solid for a true box,
    dashed for a prediction (so the two stay apart where they coincide)."""
    x, y, w, h = (float(v) for v in bbox)
    x0, y0 = round(x * scale), round(y * scale)
    x1, y1 = round((x + w) * scale) - 1, round((y + h) * scale) - 1
    if x1 < x0 or y1 < y0:
        return
    draw = ImageDraw.Draw(img)
    if not dashed:
        draw.rectangle((x0, y0, x1, y1), outline=rgb, width=width)
        return
    dash = max(2, scale)
    # each edge as dashes along its own axis: the top and bottom rows, then the left and right
    # columns (``width`` pixels thick, inward), every other ``dash`` pixels
    edges = [(x0, x1, rows, True) for rows in (range(y0, y0 + width), range(y1 - width + 1, y1 + 1))]
    edges += [(y0, y1, cols, False) for cols in (range(x0, x0 + width), range(x1 - width + 1, x1 + 1))]
    for low, high, across, horizontal in edges:
        for start in range(low, high + 1, 2 * dash):
            end = min(start + dash - 1, high)
            for c in across:
                draw.line((start, c, end, c) if horizontal else (c, start, c, end), fill=rgb)


def png_uri(img: Image.Image | np.ndarray) -> str:
    """A ``data:image/png;base64,...`` URI (the report embeds every image: it opens offline)."""
    if isinstance(img, np.ndarray):
        img = Image.fromarray(as_hwc(img))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def decode_png_uri(uri: str) -> np.ndarray:
    """The pixels of a ``png_uri`` (tests and readers check embedded images with it)."""
    head, _, data = uri.partition(",")
    if head != "data:image/png;base64":
        raise ValueError(f"not a PNG data URI: {head[:40]!r}")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data))))
