"""``--task folder:DIR``: a user's own classification test set, named by the content of its items.

A run's key hashes ``task.name`` and ``task.version`` (see ``runner.run_key``), and per-item seeds
hash the name too. So the name must not depend on where the files are: two users with identical
files in ``/home/a/test`` and ``/data/test`` must get the same key, and comparable runs. The
task is therefore named ``folder:sha256=<16 hex>``, the first 16 hex digits (64 bits) of the
sha256 of its items: per item, in item order, the relative path (which carries the class folder),
the class id and the sha256 of the file's bytes, plus the class names. The path the user typed
is never part of it. ``version`` is the version of this loader and metric ("1"), as for the
registered tasks.

File bytes, not decoded pixels, are hashed: two JPEG decoders may differ in the last bit, and
identical files must give identical names. Re-encoding an image (same pixels, other bytes) makes
another task, which errs on the side of never mixing runs.

A run stores only the name. ``TASKS.get("folder:sha256=...")`` (``merge``, ``check``, a
``merge`` in another process) gives a task without files that computes the metric from the
stored labels (accuracy needs nothing else); loading its images again needs the folder:
``--task folder:DIR``.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

from dive_bench.data.base import ImageDataset
from dive_bench.data.image_folder import (CLASSES_FILE, FolderListing, class_mapping, file_digests, list_image_folder,
                                         load_listing)
from dive_bench.errors import DiveBenchError
from dive_bench.spec.digests import content_digest
from dive_bench.tasks.classification import ClassificationTask
from dive_bench.labels import layout_tokenizer

VERSION = "1"
#: the part after ``folder:`` / ``coco:`` in the name of a task resolved from files
HASHED = re.compile(r"sha256=[0-9a-f]{16}")


def hashed_name(kind: str, digest: str) -> str:
    return f"{kind}:sha256={digest[:16]}"


def folder_digest(listing: FolderListing, digests: list[str]) -> str:
    return content_digest("folder", {"classes": list(listing.class_names),
                                     "items": [[f, y, d] for f, y, d in zip(listing.files, listing.labels, digests)]})


@dataclass(frozen=True)
class FolderTask(ClassificationTask):
    """A classification set read from a folder (see :mod:`dive_bench.data.image_folder`);
    accuracy with a Wilson interval, as every :class:`ClassificationTask`."""

    #: the folder (absolute) it was resolved from; None for a task rebuilt from its stored name
    root: str | None = None
    #: full sha256 of the items (the name holds its first 16 hex digits)
    digest: str = ""
    #: "folders" (class ids = sorted sub-folder names), "classes.txt" (the order it lists) or the
    #: labels file's name
    labels_source: str = "folders"
    num_items: int = 0

    def load(self, data_root: str | None = None) -> ImageDataset:
        """The images as stored (no resize); ``data_root`` is not used (the path is in the spec)."""
        if self.root is None:
            raise DiveBenchError(f"task {self.name} was rebuilt from a stored run and has no files; score it with "
                                 "--task folder:DIR, a folder whose files have this hash")
        listing = list_image_folder(self.root)
        data, digests = load_listing(listing, name=self.name)
        if folder_digest(listing, digests) != self.digest:
            raise DiveBenchError(f"the files in {self.root} changed after the task was named {self.name}; rerun to "
                                 "score the folder as it is now")
        # a mapping the user did not write is shown, never only assumed (stdout: stderr holds the
        # one error line of a refusal that may follow)
        mapping = class_mapping(listing)
        if mapping:
            print(f"dive-bench: {mapping}", file=sys.stdout)
        return data

    def item_source(self) -> dict | None:
        """The folder and the full digest of its items (None for a task rebuilt from its stored
        name, which has no folder): a report finds the images there if the files still hash alike."""
        if self.root is None:
            return None
        return {"folder": self.root, "digest": self.digest, "labels_source": self.labels_source}

    def check_compatible(self, adapter, data: ImageDataset) -> None:
        k = getattr(adapter.label_space, "num_classes", None)
        if layout_tokenizer(adapter) is not None or k is None:
            raise DiveBenchError(f"task {self.name} ({self.root}) is a classification set; model {adapter.name!r} is "
                                 "not class-conditional")
        if self.labels_source in ("folders", CLASSES_FILE) and data.num_classes != k:
            shown = ", ".join(data.class_names[:5]) + (", ..." if data.num_classes > 5 else "")
            raise DiveBenchError(f"{self.root} has {data.num_classes} class folders ({shown}) but model "
                                 f"{adapter.name!r} has {k} classes; the sorted folder names are classes 0..K-1, one "
                                 "per model class")
        if data.num_classes > k:
            raise DiveBenchError(f"{Path(self.root) / self.labels_source} uses class ids up to {data.num_classes - 1} "
                                 f"but model {adapter.name!r} has {k} classes (0..{k - 1})")


def folder_task(spec: str) -> FolderTask:
    """``TASKS`` factory for ``folder:SPEC``: SPEC is a folder, or ``sha256=<16 hex>`` (a stored name)."""
    if HASHED.fullmatch(spec):
        return FolderTask(f"folder:{spec}", VERSION, "folder", "test",
                          description="image folder named by content (rebuilt from a stored run: metrics only)")
    if not spec:
        raise DiveBenchError("--task folder: needs a folder: folder:DIR, with DIR/<class>/<image> or DIR/labels.csv")
    listing = list_image_folder(spec)
    digest = folder_digest(listing, file_digests(listing))
    how = "class folders" if listing.source == "folders" else listing.source
    return FolderTask(hashed_name("folder", digest), VERSION, "folder", "test",
                      description=f"image folder, {len(listing.files)} images, {len(listing.class_names)} classes "
                                  f"({how})",
                      root=str(Path(spec).expanduser().resolve()), digest=digest, labels_source=listing.source,
                      num_items=len(listing.files))
