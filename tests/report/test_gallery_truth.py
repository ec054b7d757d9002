"""Gallery truth: what the report shows is the item it names, and a box is drawn where it says.

The embedded image of each gallery item is decoded from its data URI, every ``scale``-th pixel
taken, and compared with the dataset item of that id as the *torch* loaders read it (``DATASETS``,
the path scoring uses), not through the report's own numpy readers; a wrong id, a shifted index or
a resampled thumbnail fails. Boxes: a box drawn by the report's overlay code on a blank canvas
must colour exactly the outline of the rectangle its COCO coordinates name, and nothing inside.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from dive_bench.report.thumbnails import as_hwc, decode_png_uri, draw_box, pixels_sha256, upscale

FIGURE = re.compile(r'<figure class="(?:item|sample[^"]*)" data-item="(\d+)" data-sha256="([0-9a-f]{64})" '
                    r'data-scale="(\d+)"><img alt="[^"]*" src="(data:image/png;base64,[^"]+)"')


def gallery_items(page: str) -> list[tuple[int, str, int, np.ndarray]]:
    """(item id, pixel hash, scale, decoded embedded pixels) of every gallery figure in ``page``."""
    return [(int(i), h, int(s), decode_png_uri(uri)) for i, h, s, uri in FIGURE.findall(page)]


def unscale(pixels: np.ndarray, scale: int) -> np.ndarray:
    """Every ``scale``-th pixel, back to one channel when the three are equal (grey items)."""
    small = pixels[::scale, ::scale]
    if small.ndim == 3 and (small[..., 0] == small[..., 1]).all() and (small[..., 1] == small[..., 2]).all():
        small = small[..., 0]
    return small


def test_error_gallery_images_are_the_dataset_items(numbers_report):
    from dive_bench.data import DATASETS

    page, runs = numbers_report
    data = DATASETS.get("numbers-10")("test")
    items = gallery_items(page)
    wrong = {i for r in runs for i, p, y in zip(r["items"]["ids"], r["items"]["predictions"], r["items"]["labels"])
             if p != y}
    assert wrong, "the tiny runs must get something wrong for the gallery to show"
    shown = {i for i, *_ in items}
    assert shown == wrong
    for item_id, digest, scale, pixels in items:
        truth = as_hwc(data.images[item_id].numpy())
        assert np.array_equal(unscale(pixels, scale), truth), f"item {item_id} is not the dataset's image"
        assert digest == pixels_sha256(truth)


def test_a_shifted_item_would_be_caught(numbers_report):
    """The check above can fail: the neighbouring item's pixels do not match a shown image."""
    from dive_bench.data import DATASETS

    page, _ = numbers_report
    data = DATASETS.get("numbers-10")("test")
    item_id, _, scale, pixels = gallery_items(page)[0]
    other = as_hwc(data.images[(item_id + 1) % len(data)].numpy())
    assert not np.array_equal(unscale(pixels, scale), other)


@pytest.mark.parametrize("bbox,scale", [([3, 5, 10, 6], 4), ([0, 0, 32, 32], 4), ([7.0, 2.0, 4.0, 9.0], 3)])
def test_a_box_is_drawn_where_its_coordinates_say(bbox, scale):
    img = upscale(np.zeros((32, 32), dtype=np.uint8), scale)
    draw_box(img, bbox, scale, (255, 0, 0))
    arr = np.asarray(img)
    red = (arr[..., 0] == 255) & (arr[..., 1] == 0)
    x, y, w, h = (int(v) for v in bbox)
    x0, y0, x1, y1 = x * scale, y * scale, (x + w) * scale - 1, (y + h) * scale - 1
    expected = np.zeros_like(red)
    expected[y0, x0:x1 + 1] = expected[y1, x0:x1 + 1] = True
    expected[y0:y1 + 1, x0] = expected[y0:y1 + 1, x1] = True
    assert np.array_equal(red, expected)


def test_a_dashed_prediction_stays_on_its_outline():
    scale = 4
    img = upscale(np.zeros((32, 32), dtype=np.uint8), scale)
    draw_box(img, [4, 4, 8, 8], scale, (0, 255, 0), dashed=True)
    green = np.asarray(img)[..., 1] == 255
    ys, xs = np.nonzero(green)
    on_outline = (ys == 16) | (ys == 47) | (xs == 16) | (xs == 47)
    assert green.sum() > 0 and on_outline.all()
    assert 0.3 < green.sum() / (4 * 32) < 0.7  # dashes: about half the outline
