"""Per-item galleries of the HTML report: what a method got wrong, where its boxes sit, what a model draws.

Each block takes a run (:class:`RunResult`) and an image source with ``get(item_id)`` and
``missing`` (``report/item_images.py``), and returns an HTML fragment. Where the images are not
on this machine the block says so in place (the tables and plots of the page do not need them).
Every embedded item carries ``data-item`` (its id) and ``data-sha256`` (of its own pixels), so a
reader or a test can check the image against the dataset item it names.
"""

from __future__ import annotations

import html
import math
from typing import Any, Callable, Protocol, Sequence

from dive_bench.report.thumbnails import as_hwc, colour, draw_box, pixels_sha256, png_uri, upscale
from dive_bench.spec.result import RunResult

#: errors shown per run (the count of all errors is always stated)
MAX_ERRORS = 24
#: detection images shown per run, worst per-image AP first
MAX_OVERLAYS = 16


class Images(Protocol):
    missing: str | None

    def get(self, item_id: int) -> Any: ...


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def label(run: RunResult) -> str:
    """A run's short name on the page: its folder's name (the run.json path is in the tables)."""
    from pathlib import Path

    return Path(run.path).parent.name if run.path else run.name


def unavailable(reason: str) -> str:
    """The in-place notice for images this machine does not have."""
    return f'<p class="missing">Images not available on this machine: {esc(reason)}</p>'


def auto_scale(pixels: Any, target: int = 84) -> int:
    """The whole-pixel zoom that shows an item at about ``target`` pixels (16 px numbers at 5x,
    28 px Fashion-MNIST at 3x), never below 1."""
    shape = as_hwc(pixels).shape
    return max(1, target // max(shape[0], shape[1]))


def figure(pixels: Any, item_id: int, scale: int | None, caption: str, cls: str = "item", img=None) -> str:
    """One embedded item, its id and content hash, a caption. A plain item is embedded at its own
    resolution and shown ``scale`` times larger by the browser (nearest-neighbour, CSS
    ``image-rendering: pixelated``): a fraction of the bytes of an upscaled copy. An annotated
    image (``img``, boxes drawn at ``scale``) is embedded as drawn. ``data-scale`` says which."""
    scale = scale or auto_scale(pixels)
    native = as_hwc(pixels)
    embedded, stored = (img, scale) if img is not None else (native, 1)
    height, width = native.shape[0] * scale, native.shape[1] * scale
    return (f'<figure class="{cls}" data-item="{item_id}" data-sha256="{pixels_sha256(pixels)}" '
            f'data-scale="{stored}"><img alt="item {item_id}" src="{png_uri(embedded)}" width="{width}" '
            f'height="{height}"><figcaption>{caption}</figcaption></figure>')


def classification_errors(run: RunResult, images: Images, name: Callable[[int], str],
                          other: RunResult | None = None, limit: int = MAX_ERRORS, scale: int | None = None) -> str:
    """The items ``run`` got wrong: truth, prediction, the other method's answer on the same item
    and, from ``items.trace``, the classes DIVE passed through (in order) or the classes
    enumeration ranked best."""
    traces = run.traces or [None] * len(run.item_ids)
    other_pred = dict(zip(other.item_ids, other.predictions)) if other is not None else {}
    wrong = [(i, p, y, t) for i, p, y, t in zip(run.item_ids, run.predictions, run.labels, traces) if p != y]
    head = (f'<p class="count">{len(wrong)} of {len(run.item_ids)} items wrong'
            + (f"; the first {limit} by item id" if len(wrong) > limit else "") + "."
            + (f" Other method: {esc(other.method)} ({esc(label(other))})." if other is not None else "") + "</p>")
    if not wrong:
        return head
    if images.missing:
        return head + unavailable(images.missing)
    cards = []
    for item_id, pred, truth, trace in wrong[:limit]:
        lines = [f'<span class="truth">true {esc(name(truth))}</span>', f'<span class="pred">said {esc(name(pred))}</span>']
        if other is not None and item_id in other_pred:
            o = other_pred[item_id]
            mark = "ok" if o == truth else "bad"
            lines.append(f'<span class="other {mark}">{esc(other.method)}: {esc(name(o))}</span>')
        if trace and trace.get("visited"):
            more = trace.get("n_visited", 0) - len(trace["visited"])
            path = " → ".join(name(c) for c in trace["visited"]) + (f" (+{more})" if more > 0 else "")
            lines.append(f'<span class="top">visited: {esc(path)}</span>')
        elif trace and trace.get("top"):
            lines.append(f'<span class="top">ranked: {esc(", ".join(name(c) for c in trace["top"]))}</span>')
        caption = f"#{item_id}<br>" + "<br>".join(lines)
        cards.append(figure(images.get(item_id), item_id, scale, caption))
    return head + '<div class="gallery">' + "".join(cards) + "</div>"


def image_ap(prediction: list[dict], target: dict, category_ids: Sequence[int]) -> float:
    """COCO AP of one image's boxes against its own ground truth (pycocotools, as the run's AP)."""
    from dive_bench.metrics.coco import coco_ap

    image_id = target["image_id"]
    # COCOeval needs an image size; only the area ranges (APs/APm/APl) read it, not AP
    size = 1 + math.ceil(max([a["bbox"][0] + a["bbox"][2] for a in target["annotations"]]
                             + [a["bbox"][1] + a["bbox"][3] for a in target["annotations"]] + [1]))
    gt = {"images": [{"id": image_id, "width": size, "height": size}], "annotations": target["annotations"],
          "categories": [{"id": int(c)} for c in category_ids]}
    dets = [{**d, "image_id": image_id} for d in prediction]
    value = coco_ap(gt, dets)["ap"]
    return float(value) if value is not None and value >= 0 else math.nan


def detection_overlays(run: RunResult, images: Images, name: Callable[[int], str], limit: int = MAX_OVERLAYS,
                       scale: int = 4) -> str:
    """Each image with its true boxes (solid) and predicted boxes (dashed, score shown), coloured
    by class, worst per-image AP first: where the boxes sit is what AP alone does not show."""
    cats = sorted({a["category_id"] for t in run.labels for a in t["annotations"]})
    scored = [(image_ap(p, t, cats), i, p, t) for i, p, t in zip(run.item_ids, run.predictions, run.labels)]
    scored.sort(key=lambda r: (math.inf if math.isnan(r[0]) else r[0], r[1]))
    head = (f'<p class="count">{len(scored)} images, ordered by per-image AP (worst first); the first {min(limit, len(scored))}. '
            'Solid: true boxes; dashed: predicted boxes with their score.</p>')
    if images.missing:
        return head + unavailable(images.missing)
    cards = []
    for ap, item_id, pred, target in scored[:limit]:
        pixels = images.get(item_id)
        img = upscale(pixels, scale)
        for a in target["annotations"]:
            draw_box(img, a["bbox"], scale, colour(a["category_id"]), width=2)
        for d in pred:
            draw_box(img, d["bbox"], scale, colour(d["category_id"]), dashed=True)
        truth = ", ".join(name(a["category_id"]) for a in target["annotations"])
        said = ", ".join(f'{name(d["category_id"])} {d.get("score", 0):.2f}' for d in pred)
        ap_text = "n/a" if math.isnan(ap) else f"{100 * ap:.0f}"
        caption = f"#{item_id} AP {ap_text}<br>true: {esc(truth)}<br>said: {esc(said) or 'nothing'}"
        cards.append(figure(pixels, item_id, scale, caption, img=img))
    return head + '<div class="gallery">' + "".join(cards) + "</div>"


def sample_grid(num_classes: int, samples: Images, real: dict[int, list] | str, name: Callable[[int], str],
                misread: dict[int, int] | None = None, per_class: int = 8, scale: int = 2) -> str:
    """Per class, ``per_class`` real images beside the model's own samples of that class (sample i
    has class i mod K); samples its own classifier misreads (self-consistency) are outlined and
    captioned with the class they were read as."""
    if samples.missing:
        return unavailable(samples.missing)
    rows = []
    for c in range(num_classes):
        reals = real.get(c, [])[:per_class] if isinstance(real, dict) else []
        real_html = "".join(f'<img class="real" alt="real {c}" src="{png_uri(p)}" width="{as_hwc(p).shape[1] * scale}" '
                            f'height="{as_hwc(p).shape[0] * scale}">' for p in reals)
        if isinstance(real, str):
            real_html = f'<span class="missing">{esc(real)}</span>'
        cells = []
        for j in range(per_class):
            idx = c + j * num_classes
            pixels = samples.get(idx)
            read = (misread or {}).get(idx)
            cls = "sample misread" if read is not None else "sample"
            caption = f"read as {esc(name(read))}" if read is not None else ""
            cells.append(figure(pixels, idx, scale, caption, cls=cls))
        rows.append(f'<tr><th>{esc(name(c))}</th><td class="reals">{real_html}</td>'
                    f'<td class="samples">{"".join(cells)}</td></tr>')
    return ('<table class="grid"><tr><th>class</th><th>real images</th><th>own samples (outlined: misread by '
            'the model itself)</th></tr>' + "".join(rows) + "</table>")
