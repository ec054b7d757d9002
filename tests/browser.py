"""A headless Chromium for tests of HTML pages (``dive-bench report``): a screenshot, and the DOM
as rendered with the JavaScript errors the page raised. No selenium, no driver: the browser's own
``--screenshot`` and ``--dump-dom`` flags.

Why the errors are read through the DOM: ``--dump-dom`` prints the document after its scripts ran
but not the console. :func:`dom_and_errors` renders a copy of the page with a small script first in
``<head>`` that writes every uncaught error, ``console.error`` call, unhandled promise rejection and
failed resource load (error events seen in the capture phase) into ``<pre id="__errors">``; the
dumped DOM carries that element back. Screenshots of anchored URLs (``file://...#x``) come out
blank, so take a tall full-page window and crop with PIL instead.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

#: seconds a browser run may take before the test fails
TIMEOUT = 60
ERRORS_ID = "__errors"
_RECORDER = """<script>(function () {
  var errors = [];
  function keep(text) {
    errors.push(String(text));
    var pre = document.getElementById("%(id)s");
    if (!pre && document.documentElement) {
      pre = document.createElement("pre");
      pre.id = "%(id)s";
      pre.style.display = "none";
      document.documentElement.appendChild(pre);
    }
    if (pre) { pre.textContent = JSON.stringify(errors); }
  }
  window.addEventListener("error", function (e) {
    if (e.target && e.target !== window && (e.target.src || e.target.href)) {
      keep("failed to load " + (e.target.src || e.target.href));
    } else {
      keep((e.message || "error") + (e.filename ? " at " + e.filename + ":" + e.lineno : ""));
    }
  }, true);
  window.addEventListener("unhandledrejection", function (e) {
    keep("unhandled rejection: " + (e.reason && e.reason.message ? e.reason.message : e.reason));
  });
  var original = console.error;
  console.error = function () {
    keep("console.error: " + Array.prototype.map.call(arguments, String).join(" "));
    return original.apply(console, arguments);
  };
})();</script>""" % {"id": ERRORS_ID}


def find_chromium() -> str | None:
    """Debian's /usr/bin/chromium, else a chromium (or chromium-browser) on PATH; None without one."""
    if Path("/usr/bin/chromium").is_file():
        return "/usr/bin/chromium"
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _run(args: list[str], timeout: float) -> subprocess.CompletedProcess:
    exe = find_chromium()
    if exe is None:
        raise RuntimeError("no chromium installed (apt-get install chromium)")
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
               f"--user-data-dir={profile}", *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def screenshot(html_path: str | Path, png_path: str | Path, width: int = 1280, height: int = 2000,
               timeout: float = TIMEOUT) -> Path:
    """A PNG of the page at ``width`` x ``height`` CSS pixels (the window: make it tall enough for
    the part a test looks at). Raises RuntimeError when Chromium writes no file."""
    png_path = Path(png_path).resolve()
    png_path.unlink(missing_ok=True)
    proc = _run([f"--window-size={width},{height}", f"--screenshot={png_path}",
                 Path(html_path).resolve().as_uri()], timeout)
    if not png_path.is_file():
        raise RuntimeError(f"chromium wrote no screenshot (exit {proc.returncode}): {proc.stderr[-2000:]}")
    return png_path


def _with_recorder(page: str) -> str:
    """``page`` with the error recorder as the first thing in <head> (a <head> is made if missing)."""
    head = re.search(r"<head[^>]*>", page, flags=re.IGNORECASE)
    if head:
        return page[:head.end()] + _RECORDER + page[head.end():]
    tag = re.search(r"<html[^>]*>", page, flags=re.IGNORECASE)
    at = tag.end() if tag else 0
    return page[:at] + "<head>" + _RECORDER + "</head>" + page[at:]


def dom_and_errors(html_path: str | Path, timeout: float = TIMEOUT) -> tuple[str, list[str]]:
    """The DOM after the page's scripts ran, and the JavaScript errors they raised (uncaught
    errors, console.error, unhandled rejections, resources that failed to load). The page is
    rendered from a copy beside it (so relative links still resolve) that is removed afterwards."""
    html_path = Path(html_path).resolve()
    with tempfile.NamedTemporaryFile("w", suffix=".html", prefix=".errors-", dir=html_path.parent,
                                     delete=False) as copy:
        copy.write(_with_recorder(html_path.read_text()))
    try:
        proc = _run(["--virtual-time-budget=5000", "--dump-dom", Path(copy.name).as_uri()], timeout)
    finally:
        Path(copy.name).unlink(missing_ok=True)
    dom = proc.stdout
    if not dom.strip():
        raise RuntimeError(f"chromium dumped no DOM (exit {proc.returncode}): {proc.stderr[-2000:]}")
    found = re.search(rf'<pre id="{ERRORS_ID}"[^>]*>(.*?)</pre>', dom, flags=re.DOTALL)
    errors = json.loads(html.unescape(found.group(1))) if found else []
    cleaned = re.sub(r"<script>\(function \(\) \{\s*var errors.*?</script>", "", dom, count=1, flags=re.DOTALL)
    if found:
        cleaned = cleaned.replace(found.group(0), "")
    return cleaned, errors
