"""A user's own image-classification set: class sub-folders, or a labels file, read as stored.

Unlike :mod:`.imagenet` nothing is resized or cropped: the pixels the model sees are the pixels
in the files, and ``adapter.check_images`` refuses a resolution the model was not trained at.
Grayscale files (PIL mode ``L``, or 1-bit ``1``) give one channel, every other mode is read as
RGB (alpha dropped); all images of a set must agree on size and channel count.

Layouts (the labels file wins when present):

- ``DIR/<class>/<image>``: the class sub-folders, sorted by name, are classes 0..K-1; images may
  sit in deeper folders below their class folder. Items are ordered by class folder, then path.
  Names whose text order is not their number order (``class1, class10, class2``) are refused:
  the user meant one of two mappings and we will not guess which. ``DIR/classes.txt`` (one
  folder name a line, line k = class k) states the mapping instead of the sort.
- ``DIR/labels.csv`` or ``DIR/labels.txt``: one ``relative/path,class_id`` line per image
  (``#`` comments, blank lines and a ``path,label`` header are skipped); only the listed files
  are items, ordered by path. K is the largest class id + 1.

Text files are read as UTF-8 with an optional byte-order mark (Excel's "CSV UTF-8" writes one).
Hidden files and folders (``.DS_Store``, ``.ipynb_checkpoints``) are never items. Pixels are
bounded before decoding (:data:`MAX_IMAGE_PIXELS`): a 30 kB PNG can claim 40,000 x 40,000 pixels.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
import torch

from dive_bench.errors import DiveBenchError
from dive_bench.data.base import ImageDataset
from dive_bench.data.pixels import MAX_IMAGE_PIXELS, open_bounded  # noqa: F401 (re-exported)
from dive_bench.util.parse import describe_number, whole_number

IMAGE_EXTS = (".bmp", ".gif", ".jpeg", ".jpg", ".png", ".tif", ".tiff", ".webp")
LABEL_FILES = ("labels.csv", "labels.txt")
#: names the class folders in class-id order (line k = class k), for names that do not sort right
CLASSES_FILE = "classes.txt"
GRAYSCALE_MODES = ("L", "1")
#: integer or float pixels: converting them to 8-bit RGB would clip or scramble the values
UNSUPPORTED_MODES = ("I", "I;16", "I;16B", "I;16L", "I;16N", "F")
#: the most classes a labels file may number (ImageNet-21k has 21,841): a class id is checked
#: against it before anything of that length is built; the model's own K is checked after loading
MAX_CLASSES = 100_000
#: class folders shown when a mapping is printed or refused
SHOWN = 4


@dataclass(frozen=True)
class FolderListing:
    """The items of an image folder, before any pixel is read."""

    root: Path
    #: paths relative to ``root`` (POSIX separators), in item order
    files: tuple[str, ...]
    labels: tuple[int, ...]
    class_names: tuple[str, ...]
    #: "folders", or the name of the file the classes come from (labels.csv, labels.txt, classes.txt)
    source: str
    #: files below the class folders that are not images and were left out (count, an example)
    skipped: tuple[int, str] = (0, "")


def _visible(name: str) -> bool:
    return not name.startswith(".")


def _unreadable(path: Path, exc: OSError) -> DiveBenchError:
    what = "class folder" if path.is_dir() else "path"
    return DiveBenchError(f"{what} {path} cannot be read ({exc.strerror or exc}); fix its permissions (e.g. chmod -R "
                          f"u+rX {path}), do not remove it (the classes after it would be renumbered)")


def _entries(folder: Path) -> list[os.DirEntry]:
    try:
        with os.scandir(folder) as it:
            return list(it)
    except OSError as exc:
        raise _unreadable(folder, exc) from exc


def _images_below(folder: Path, root: Path) -> tuple[list[str], list[str]]:
    """Image paths (relative to ``root``) below ``folder``, and the other files found there.

    A folder that cannot be listed is an error, not an empty class: ``Path.rglob`` skips it in
    silence. Symbolic links to folders are not followed (a link to ``..`` would loop)."""
    images, other = [], []
    stack = [folder]
    while stack:
        here = stack.pop()
        for e in _entries(here):
            if not _visible(e.name):
                continue
            path = Path(e.path)
            if e.is_dir(follow_symlinks=False):
                stack.append(path)
            elif e.is_file():
                (images if path.suffix.lower() in IMAGE_EXTS else other).append(path.relative_to(root).as_posix())
    return images, other


def _natural_key(name: str) -> list:
    """Text with its digit runs compared as numbers (``class2`` before ``class10``); runs are
    compared by length then digits, never through ``int()`` (a 5,000-digit name is harmless)."""
    parts = re.split(r"([0-9]+)", name)
    return [(len(p.lstrip("0")), p.lstrip("0"), p) if i % 2 else p for i, p in enumerate(parts)]


def _padded(name: str, width: int) -> str:
    return re.sub(r"[0-9]+", lambda m: m.group(0).zfill(width), name)


def _check_natural_order(root: Path, classes: list[str]) -> None:
    """Folders class1..class10 (or 0..11) sort as text with class10 second: class2 would get id 2
    under one reading and id 1 under the other. Refuse rather than guess which the user meant."""
    natural = sorted(classes, key=_natural_key)
    if natural == classes:
        return
    i = next(k for k, (a, b) in enumerate(zip(classes, natural)) if a != b)
    width = max((len(run) for c in classes for run in re.findall(r"[0-9]+", c)), default=1)
    raise DiveBenchError(f"the class folders of {root} sort one way as text and another by their numbers (class id "
                         f"{i} would be {classes[i]!r} as text, {natural[i]!r} by number), and dive_bench will not "
                         f"guess which you mean: list the folders in class-id order in {root / CLASSES_FILE} (one "
                         f"name a line), or zero-pad the numbers (e.g. {natural[i]!r} -> {_padded(natural[i], width)!r})")


def _read_text(path: Path, what: str) -> list[str]:
    try:
        return path.read_text(encoding="utf-8-sig").splitlines()
    except UnicodeDecodeError as exc:
        raise DiveBenchError(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8 "
                             f"({what})") from exc
    except OSError as exc:
        raise DiveBenchError(f"cannot read {path} ({exc.strerror or exc}); fix its permissions ({what})") from exc


def _class_order(root: Path, folders: list[str]) -> tuple[list[str], str]:
    """The class folders in class-id order, and where that order comes from."""
    path = root / CLASSES_FILE
    if not path.is_file():
        _check_natural_order(root, folders)
        return folders, "folders"
    listed: list[str] = []
    for n, line in enumerate(_read_text(path, "one class folder name a line"), 1):
        name = line.strip()
        if not name or name.startswith("#"):
            continue
        if name not in folders:
            raise DiveBenchError(f"{path} line {n}: {name!r} is not a class folder of {root}; list the sub-folders' "
                                 "names, one a line, in class-id order")
        if name in listed:
            raise DiveBenchError(f"{path} line {n}: {name!r} is listed twice; list every class folder once")
        listed.append(name)
    unlisted = [f for f in folders if f not in listed]
    if unlisted:
        raise DiveBenchError(f"{path} does not list the class folder(s) {', '.join(unlisted[:SHOWN])}; list every "
                             "class folder once, in class-id order")
    return listed, CLASSES_FILE


def _list_folders(root: Path) -> FolderListing:
    entries = _entries(root)
    folders = sorted(e.name for e in entries if e.is_dir() and _visible(e.name))
    if not folders:
        loose = sorted(e.name for e in entries if e.is_file() and Path(e.name).suffix.lower() in IMAGE_EXTS)
        found = (f" (it holds {len(loose)} image file(s) directly, e.g. {loose[0]}: put them in class sub-folders "
                 f"or list them with their class ids in {root / 'labels.csv'})") if loose else ""
        raise DiveBenchError(f"{root} has no class sub-folders{found}; expected DIR/<class>/<image> or a "
                             f"labels.csv of 'relative/path,class_id' lines")
    classes, source = _class_order(root, folders)
    files, labels, skipped = [], [], []
    for k, name in enumerate(classes):
        imgs, other = _images_below(root / name, root)
        skipped += other
        if not imgs:
            raise DiveBenchError(f"class folder {root / name} has no image files (images end in "
                                 f"{', '.join(IMAGE_EXTS)}); add its images, or remove the folder (which renumbers "
                                 "the classes after it)")
        imgs.sort()
        files += imgs
        labels += [k] * len(imgs)
    return FolderListing(root, tuple(files), tuple(labels), tuple(classes), source,
                         (len(skipped), min(skipped, default="")))


def class_mapping(listing: FolderListing) -> str | None:
    """What a folder's class ids were built from, for the user to see: ``0 <- cat, 1 <- dog, ...``;
    None where the user wrote the mapping (a labels or classes file) or the names are the ids."""
    names = listing.class_names
    if listing.source != "folders" or list(names) == [str(i) for i in range(len(names))]:
        return None
    pairs = [f"{i} <- {n}" for i, n in enumerate(names)]
    shown = ", ".join(pairs if len(pairs) <= 2 * SHOWN else pairs[:SHOWN] + ["..."] + pairs[-1:])
    return (f"class ids from the sorted folder names of {listing.root}: {shown} (write {CLASSES_FILE} there, one "
            "folder a line, for another order)")


def _relative(root: Path, text: str, where: str) -> str:
    rel = PurePosixPath(text.strip().replace("\\", "/"))
    if rel.is_absolute() or ".." in rel.parts or not rel.parts or str(rel) == ".":
        raise DiveBenchError(f"{where}: {text.strip()!r} must be a path relative to {root}, inside it")
    return rel.as_posix()


def _class_id(label: str, where: str) -> int:
    """A labels-file class id: ASCII digits, below :data:`MAX_CLASSES` (checked before anything
    of that size exists: ``99999999999`` must not build a tuple of 10^11 names)."""
    if label.startswith("-") and whole_number(label[1:]) is not None:
        raise DiveBenchError(f"{where}: class id {label} is negative; classes are numbered from 0")
    value = whole_number(label)
    if value is None:
        raise DiveBenchError(f"{where}: class id {describe_number(label)}; write a whole number from 0 to K-1")
    if value >= MAX_CLASSES:
        raise DiveBenchError(f"{where}: class id {value} is beyond any class-conditional model (at most "
                             f"{MAX_CLASSES:,} classes); class ids run from 0 to K-1 for the model's K classes")
    return value


def _list_labels_file(root: Path, path: Path) -> FolderListing:
    lines = _read_text(path, "it lists 'relative/path,class_id' lines")
    seen: dict[str, int] = {}
    first = True
    for n, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        where = f"{path} line {n}"
        rel, sep, label = text.rpartition(",")
        if not sep:
            raise DiveBenchError(f"{where}: {text!r} is not 'relative/path,class_id'")
        label = label.strip()
        header, first = first, False
        if header and not any(c.isdigit() for c in label):
            continue  # a header such as "path,label"
        label_id = _class_id(label, where)
        rel = _relative(root, rel, where)
        if rel in seen:
            raise DiveBenchError(f"{where}: {rel} is listed twice; list every image once")
        if not (root / rel).is_file():
            raise DiveBenchError(f"{where}: {root / rel} does not exist; fix the path (relative to {root})")
        seen[rel] = label_id
    if not seen:
        raise DiveBenchError(f"{path} lists no images; add 'relative/path,class_id' lines")
    files = sorted(seen)
    k = max(seen.values()) + 1
    return FolderListing(root, tuple(files), tuple(seen[f] for f in files), tuple(str(i) for i in range(k)), path.name)


def list_image_folder(root: str | Path) -> FolderListing:
    """The items of ``root`` (see the module docstring), with one-line errors for a bad folder."""
    root = Path(root).expanduser()
    if not root.exists():
        raise DiveBenchError(f"image folder {root} does not exist; check the path")
    if not root.is_dir():
        raise DiveBenchError(f"{root} is not a folder; expected DIR/<class>/<image> (or DIR/labels.csv)")
    label_files = [root / n for n in (*LABEL_FILES, CLASSES_FILE) if (root / n).is_file()]
    if len(label_files) > 1:
        raise DiveBenchError(f"{root} has both {' and '.join(p.name for p in label_files)}; keep one labels file")
    if label_files and label_files[0].name != CLASSES_FILE:
        return _list_labels_file(root, label_files[0])
    return _list_folders(root)


def read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise DiveBenchError(f"cannot read {path} ({exc.strerror or exc}); check its permissions") from exc


def decode_image(data: bytes, where: str, fix: str = "replace it with a good copy") -> np.ndarray:
    """uint8 (C, H, W) pixels of an encoded image: 1 channel for grayscale files, else 3 (RGB).
    ``fix`` ends the message for a file that cannot be decoded (how to get a good one back)."""
    if not data:
        raise DiveBenchError(f"{where} is empty (0 bytes), not an image; {fix}")
    try:
        with open_bounded(io.BytesIO(data), where) as im:
            if im.mode in UNSUPPORTED_MODES:
                raise DiveBenchError(f"{where} has {im.mode} pixels (16-bit or float); save it as 8-bit grayscale or "
                                     "RGB")
            im = im.convert("L") if im.mode in GRAYSCALE_MODES else im.convert("RGB")
            array = np.asarray(im, dtype=np.uint8)
    except DiveBenchError:
        raise
    except (OSError, ValueError, SyntaxError) as exc:  # PIL: UnidentifiedImageError, truncated data, ...
        detail = " ".join(str(exc).split())[:100] or type(exc).__name__
        raise DiveBenchError(f"{where} is truncated or not a readable image ({detail}); {fix}") from exc
    return array[None] if array.ndim == 2 else array.transpose(2, 0, 1)


def _check_like(first: np.ndarray, a: np.ndarray, first_name: str, name: str, root: Path) -> None:
    """A second size or channel count is an error naming both files."""
    if a.shape[0] != first.shape[0]:
        kinds = {1: "grayscale", 3: "RGB"}
        raise DiveBenchError(f"images in {root} mix grayscale and RGB: {first_name} is {kinds[first.shape[0]]}, {name} "
                             f"is {kinds[a.shape[0]]}; convert them all to one mode")
    if a.shape[1:] != first.shape[1:]:
        raise DiveBenchError(f"images in {root} have different sizes: {first_name} is {first.shape[2]}x{first.shape[1]}, "
                             f"{name} is {a.shape[2]}x{a.shape[1]} (WxH); resize them to one size, the model's "
                             "resolution")


def stack_images(arrays: list[np.ndarray], names: list[str], root: Path) -> torch.Tensor:
    """One (N, C, H, W) tensor; a second size or channel count is an error naming both files."""
    for a, name in zip(arrays, names):
        _check_like(arrays[0], a, names[0], name, root)
    return torch.from_numpy(np.stack(arrays)).contiguous()


def file_digests(listing: FolderListing) -> list[str]:
    """sha256 of each item's file bytes, in item order."""
    return [hashlib.sha256(read_bytes(listing.root / f)).hexdigest() for f in listing.files]


def load_listing(listing: FolderListing, name: str = "folder", split: str = "test") -> tuple[ImageDataset, list[str]]:
    """The images of ``listing`` at their stored size, and the sha256 of each file's bytes (read
    once, so the digests describe exactly the pixels loaded). Each image is checked against the
    first as it is decoded, so a stray size stops the load at that file."""
    arrays, digests = [], []
    for rel in listing.files:
        data = read_bytes(listing.root / rel)
        digests.append(hashlib.sha256(data).hexdigest())
        arrays.append(decode_image(data, str(listing.root / rel)))
        _check_like(arrays[0], arrays[-1], listing.files[0], rel, listing.root)
    images = torch.from_numpy(np.stack(arrays)).contiguous()
    labels = torch.tensor(listing.labels, dtype=torch.long)
    return ImageDataset(name, split, images, labels, listing.class_names), digests
