"""Label spaces: what a condition names, below every other part of dive_bench.

``ClassLabels`` and ``LayoutLabels`` say which labels an adapter's conditions take;
``LayoutTokenizer`` turns a layout (COCO boxes) into the fixed-length token sequence a layout
model is conditioned on, and back. Adapters, inversion, tasks, diagnostics and training all
speak these types, so they live here, importing nothing from dive_bench but ``errors``.

Layouts as tokens: each object is five slots, a class token and four coordinate tokens
(x0, y0, x1, y1), each coordinate quantised on a grid of ``grid`` values spanning
[0, image_size]. Unused objects are padded with [none] in every slot. Two vocabularies, disjoint
by construction: classes (K + [none]) and coordinates (grid + [none]).

Why per-axis coordinate tokens rather than CompVis' corner tokens (one token per (x, y) cell of
a grid x grid table): a table of ``grid`` values per axis is what a Fourier coordinate embedding
represents exactly, and DIVE's discrete local search can move one edge of a box at a time.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from dive_bench.errors import DiveBenchError

SLOTS_PER_OBJECT = 5


@dataclass(frozen=True)
class ClassLabels:
    """The label space of a class-conditional model: one slot, ``num_classes`` classes."""

    num_classes: int
    names: tuple[str, ...]


@dataclass(frozen=True)
class LayoutLabels:
    """The label space of a layout-conditional model: up to ``max_objects`` (class, box) objects,
    box sides on a ``grid`` of values (see :class:`LayoutTokenizer`)."""

    num_classes: int
    grid: int
    max_objects: int
    names: tuple[str, ...] = ()
    #: how layouts become the slot tokens of this label space (and back)
    tokenizer: "LayoutTokenizer | None" = None


def class_count(space: "ClassLabels | LayoutLabels | None") -> int | None:
    """K of a class-conditional label space; None for a layout model (or none known). The one
    reading of "how many classes" that method defaults are keyed by (``spec.defaults``)."""
    return space.num_classes if isinstance(space, ClassLabels) else None


def label_space_record(space: "ClassLabels | LayoutLabels | None") -> dict | None:
    """The label space as run.json records it (``label_space``), so reports read K and class vs
    layout from the file instead of guessing them: kind, number of classes, the grid and object
    count of a layout space, and the class names where the model has real ones (placeholder
    names "0", "1", ... are left out). None for an adapter that declares no label space."""
    if space is None:
        return None
    layout = isinstance(space, LayoutLabels)
    record: dict = {"kind": "layout" if layout else "class", "num_classes": int(space.num_classes)}
    names = [str(n) for n in space.names]
    if names and names != [str(i) for i in range(len(names))]:
        record["names"] = names
    if layout:
        record.update(grid=int(space.grid), max_objects=int(space.max_objects))
    return record


def layout_tokenizer(adapter) -> "LayoutTokenizer | None":
    """The tokenizer of a layout-conditional adapter, None for a class-conditional one: the one
    test of "is this a layout model" (the label space says, not an attribute's presence)."""
    space = getattr(adapter, "label_space", None)
    return space.tokenizer if isinstance(space, LayoutLabels) else None


@dataclass(frozen=True)
class LayoutTokenizer:
    category_ids: tuple[int, ...]
    grid: int = 17
    max_objects: int = 3
    image_size: int = 32

    @property
    def num_classes(self) -> int:
        return len(self.category_ids)

    @property
    def none_class(self) -> int:
        return self.num_classes

    @property
    def none_coord(self) -> int:
        return self.grid

    @property
    def cell(self) -> float:
        return self.image_size / (self.grid - 1)

    @property
    def num_slots(self) -> int:
        return SLOTS_PER_OBJECT * self.max_objects

    @property
    def slot_kinds(self) -> tuple[str, ...]:
        return ("class", "coord", "coord", "coord", "coord") * self.max_objects

    def empty(self) -> torch.Tensor:
        """The all-[none] layout."""
        obj = [self.none_class] + [self.none_coord] * 4
        return torch.tensor(obj * self.max_objects, dtype=torch.long)

    def encode(self, annotations: list[dict], generator: torch.Generator | None = None) -> torch.Tensor:
        """COCO annotations of one image -> (L,) tokens; ``generator`` shuffles the object order."""
        if len(annotations) > self.max_objects:
            raise DiveBenchError(f"an image has {len(annotations)} objects but the layout holds {self.max_objects}; "
                                 "raise max_objects")
        index = {c: i for i, c in enumerate(self.category_ids)}
        objs = []
        for ann in annotations:
            if ann["category_id"] not in index:
                raise DiveBenchError(f"category id {ann['category_id']} is not in the tokenizer's {self.category_ids}")
            x, y, w, h = ann["bbox"]
            q = [int(round(v / self.cell)) for v in (x, y, x + w, y + h)]
            q = [min(max(v, 0), self.grid - 1) for v in q]
            objs.append([index[ann["category_id"]], *q])
        if generator is not None and objs:
            objs = [objs[i] for i in torch.randperm(len(objs), generator=generator).tolist()]
        tokens = self.empty()
        for k, obj in enumerate(objs):
            tokens[SLOTS_PER_OBJECT * k: SLOTS_PER_OBJECT * (k + 1)] = torch.tensor(obj)
        return tokens

    def decode(self, tokens: torch.Tensor) -> list[dict]:
        """(L,) tokens -> objects ``{"slot", "category_id", "bbox" (xywh px)}``; objects with a
        [none] token or an empty box (x1 <= x0 or y1 <= y0) are dropped, as in the paper."""
        out = []
        t = tokens.tolist()
        for k in range(self.max_objects):
            c, x0, y0, x1, y1 = t[SLOTS_PER_OBJECT * k: SLOTS_PER_OBJECT * (k + 1)]
            if c == self.none_class or self.none_coord in (x0, y0, x1, y1) or x1 <= x0 or y1 <= y0:
                continue
            s = self.cell
            out.append({"slot": k, "category_id": self.category_ids[c],
                        "bbox": [x0 * s, y0 * s, (x1 - x0) * s, (y1 - y0) * s]})
        return out


__all__ = ["SLOTS_PER_OBJECT", "ClassLabels", "LayoutLabels", "LayoutTokenizer"]
