"""tests/browser.py, the headless-Chromium helper the HTML report's tests use: it must report a page's
JavaScript errors (and only those), and its screenshots must show what the page draws where."""

import pytest

from browser import dom_and_errors, find_chromium, screenshot

pytestmark = pytest.mark.skipif(find_chromium() is None, reason="no chromium installed (apt-get install chromium)")


def _page(tmp_path, body, name="page.html"):
    path = tmp_path / name
    path.write_text(f"<!doctype html><html><head><title>t</title></head><body>{body}</body></html>")
    return path


def test_a_clean_page_has_no_errors_and_its_dom_is_rendered(tmp_path):
    page = _page(tmp_path, '<div id="out"></div><script>document.getElementById("out").textContent = "built " '
                           '+ (6 * 7);</script>')
    dom, errors = dom_and_errors(page)
    assert errors == []
    assert '<div id="out">built 42</div>' in dom
    assert "__errors" not in dom
    assert sorted(p.name for p in tmp_path.iterdir()) == ["page.html"]  # the instrumented copy is gone


def test_errors_of_every_kind_are_reported(tmp_path):
    page = _page(tmp_path, '<img src="missing.png"><script>console.error("bad", 1);'
                           'Promise.reject(new Error("nope"));'
                           'undefinedFunction();</script>')
    _, errors = dom_and_errors(page)
    text = "\n".join(errors)
    assert "undefinedFunction is not defined" in text
    assert "console.error: bad 1" in text
    assert "unhandled rejection: nope" in text
    assert "failed to load" in text and "missing.png" in text


def test_screenshot_shows_a_coloured_div_where_the_page_puts_it(tmp_path):
    from PIL import Image

    page = _page(tmp_path, '<style>body{margin:0;background:#fff}</style>'
                           '<div style="position:absolute;left:100px;top:300px;width:200px;height:100px;'
                           'background:rgb(255,0,0)"></div>')
    png = screenshot(page, tmp_path / "shot.png", width=800, height=600)
    img = Image.open(png).convert("RGB")
    assert img.size == (800, 600)
    assert img.getpixel((200, 350)) == (255, 0, 0)     # inside the div
    assert img.getpixel((50, 350)) == (255, 255, 255)  # left of it
    assert img.getpixel((200, 250)) == (255, 255, 255)  # above it
    red = [(x, y) for x in range(0, 800, 10) for y in range(0, 600, 10) if img.getpixel((x, y)) == (255, 0, 0)]
    assert min(red) == (100, 300) and max(red) == (290, 390)
