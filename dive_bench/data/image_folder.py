"""A user's own image-classification set: class sub-folders, or a labels file, read as stored.

Unlike :mod:`.imagenet` nothing is resized or cropped: the pixels the model sees are the pixels
in the files, and ``adapter.check_images`` refuses a resolution the model was not trained at.
Grayscale files (PIL mode ``L``, or 1-bit ``1``) give one channel, every other mode is read as
RGB (alpha dropped); all images of a set must agree on size and channel count.

Layouts (the labels file wins when present):

- ``DIR/<class>/<image>``: the class sub-folders, sorted by name, are classes 0..K-1; images may
  sit in deeper folders below their class folder. Items are ordered by class folder, then path.
- ``DIR/labels.csv`` or ``DIR/labels.txt``: one ``relative/path,class_id`` line per image
  (``#`` comments, blank lines and a ``path,label`` header are skipped); only the listed files
  are items, ordered by path. K is the largest class id + 1.

Hidden files and folders (``.DS_Store``, ``.ipynb_checkpoints``) are never items.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
import torch

from dive_bench.errors import DiveBenchError
from dive_bench.data.base import ImageDataset

IMAGE_EXTS = (".bmp", ".gif", ".jpeg", ".jpg", ".png", ".tif", ".tiff", ".webp")
LABEL_FILES = ("labels.csv", "labels.txt")
GRAYSCALE_MODES = ("L", "1")
#: integer or float pixels: converting them to 8-bit RGB would clip or scramble the values
UNSUPPORTED_MODES = ("I", "I;16", "I;16B", "I;16L", "I;16N", "F")


@dataclass(frozen=True)
class FolderListing:
    """The items of an image folder, before any pixel is read."""

    root: Path
    #: paths relative to ``root`` (POSIX separators), in item order
    files: tuple[str, ...]
    labels: tuple[int, ...]
    class_names: tuple[str, ...]
    #: "folders", or the name of the labels file the labels come from
    source: str


def _visible(path: Path) -> bool:
    return not path.name.startswith(".")


def _images_below(folder: Path) -> list[Path]:
    found = []
    for p in folder.rglob("*"):
        rel = p.relative_to(folder)
        if p.is_file() and p.suffix.lower() in IMAGE_EXTS and all(not part.startswith(".") for part in rel.parts):
            found.append(p)
    return found


def _check_numeric_order(root: Path, classes: list[str]) -> None:
    """Folders 0..11 sort as 0, 1, 10, 11, 2: class 2 would get id 4 without a word."""
    if all(c.isdigit() for c in classes) and classes != sorted(classes, key=int):
        shown = ", ".join(classes[:5]) + (", ..." if len(classes) > 5 else "")
        width = max(len(c) for c in classes)
        raise DiveBenchError(f"the class folders of {root} are numbers whose name order ({shown}) is not their numeric "
                             f"order, and class ids follow the name order; zero-pad the names (e.g. "
                             f"{'0' * (width - 1)}2) or list the labels in {root / 'labels.csv'}")


def _list_folders(root: Path) -> FolderListing:
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and _visible(p))
    if not classes:
        loose = [p.name for p in root.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTS]
        found = (f" (it holds {len(loose)} image file(s) directly, e.g. {loose[0]}: put them in class sub-folders "
                 f"or list them with their class ids in {root / 'labels.csv'})") if loose else ""
        raise DiveBenchError(f"{root} has no class sub-folders{found}; expected DIR/<class>/<image> or a "
                             f"labels.csv of 'relative/path,class_id' lines")
    _check_numeric_order(root, classes)
    files, labels = [], []
    for k, name in enumerate(classes):
        imgs = sorted(p.relative_to(root).as_posix() for p in _images_below(root / name))
        if not imgs:
            raise DiveBenchError(f"class folder {root / name} has no image files (images end in "
                                 f"{', '.join(IMAGE_EXTS)}); add its images or remove the folder (which renumbers "
                                 "the classes after it)")
        files += imgs
        labels += [k] * len(imgs)
    return FolderListing(root, tuple(files), tuple(labels), tuple(classes), "folders")


def _relative(root: Path, text: str, where: str) -> str:
    rel = PurePosixPath(text.strip().replace("\\", "/"))
    if rel.is_absolute() or ".." in rel.parts or not rel.parts or str(rel) == ".":
        raise DiveBenchError(f"{where}: {text.strip()!r} must be a path relative to {root}, inside it")
    return rel.as_posix()


def _list_labels_file(root: Path, path: Path) -> FolderListing:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DiveBenchError(f"cannot read {path} ({exc}); it lists 'relative/path,class_id' lines") from exc
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
        if not label.lstrip("-").isdigit():
            if header:
                continue  # a header such as "path,label"
            raise DiveBenchError(f"{where}: class id {label!r} is not an integer")
        if int(label) < 0:
            raise DiveBenchError(f"{where}: class id {label} is negative; classes are numbered from 0")
        rel = _relative(root, rel, where)
        if rel in seen:
            raise DiveBenchError(f"{where}: {rel} is listed twice; list every image once")
        if not (root / rel).is_file():
            raise DiveBenchError(f"{where}: {root / rel} does not exist; fix the path (relative to {root})")
        seen[rel] = int(label)
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
    label_files = [root / n for n in LABEL_FILES if (root / n).is_file()]
    if len(label_files) > 1:
        raise DiveBenchError(f"{root} has both {' and '.join(p.name for p in label_files)}; keep one labels file")
    return _list_labels_file(root, label_files[0]) if label_files else _list_folders(root)


def read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise DiveBenchError(f"cannot read {path} ({exc.strerror or exc}); check its permissions") from exc


def decode_image(data: bytes, where: str) -> np.ndarray:
    """uint8 (C, H, W) pixels of an encoded image: 1 channel for grayscale files, else 3 (RGB)."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.mode in UNSUPPORTED_MODES:
                raise DiveBenchError(f"{where} has {im.mode} pixels (16-bit or float); save it as 8-bit grayscale or "
                                     "RGB")
            im = im.convert("L") if im.mode in GRAYSCALE_MODES else im.convert("RGB")
            array = np.asarray(im, dtype=np.uint8)
    except DiveBenchError:
        raise
    except (OSError, ValueError, SyntaxError) as exc:  # PIL: UnidentifiedImageError, truncated data, ...
        detail = " ".join(str(exc).split())[:100] or type(exc).__name__
        raise DiveBenchError(f"{where} is not a readable image ({detail}); replace it with a good copy") from exc
    return array[None] if array.ndim == 2 else array.transpose(2, 0, 1)


def stack_images(arrays: list[np.ndarray], names: list[str], root: Path) -> torch.Tensor:
    """One (N, C, H, W) tensor; a second size or channel count is an error naming both files."""
    first = arrays[0].shape
    for a, name in zip(arrays, names):
        if a.shape[0] != first[0]:
            kinds = {1: "grayscale", 3: "RGB"}
            raise DiveBenchError(f"images in {root} mix grayscale and RGB: {names[0]} is {kinds[first[0]]}, {name} is "
                                 f"{kinds[a.shape[0]]}; convert them all to one mode")
        if a.shape[1:] != first[1:]:
            raise DiveBenchError(f"images in {root} have different sizes: {names[0]} is {first[2]}x{first[1]}, {name} "
                                 f"is {a.shape[2]}x{a.shape[1]} (WxH); resize them to one size, the model's resolution")
    return torch.from_numpy(np.stack(arrays)).contiguous()


def file_digests(listing: FolderListing) -> list[str]:
    """sha256 of each item's file bytes, in item order."""
    return [hashlib.sha256(read_bytes(listing.root / f)).hexdigest() for f in listing.files]


def load_listing(listing: FolderListing, name: str = "folder", split: str = "test") -> tuple[ImageDataset, list[str]]:
    """The images of ``listing`` at their stored size, and the sha256 of each file's bytes (read
    once, so the digests describe exactly the pixels loaded)."""
    arrays, digests = [], []
    for rel in listing.files:
        data = read_bytes(listing.root / rel)
        digests.append(hashlib.sha256(data).hexdigest())
        arrays.append(decode_image(data, str(listing.root / rel)))
    images = stack_images(arrays, list(listing.files), listing.root)
    labels = torch.tensor(listing.labels, dtype=torch.long)
    return ImageDataset(name, split, images, labels, listing.class_names), digests

