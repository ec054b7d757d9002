"""ImageNet-style folder (``ROOT/<wnid>/<image>``) for paper-scale GPU runs.

The paper's protocol uses the first 2 validation images of every class (2 x 1000). Without a
subset file we pick exactly that: per class folder, the first ``per_class`` files by name.
"""

from __future__ import annotations

from pathlib import Path

import torch

from dive_bench.errors import DiveBenchError
from dive_bench.data.base import ImageDataset

_EXTS = {".jpeg", ".jpg", ".png", ".webp", ".bmp"}


def _center_crop_resize(path: Path, size: int) -> torch.Tensor:
    from PIL import UnidentifiedImageError
    from torchvision.transforms.functional import center_crop, pil_to_tensor, resize

    from dive_bench.data.pixels import open_bounded

    try:
        with open_bounded(path, str(path)) as im:  # a decompression bomb is refused before decoding
            im = im.convert("RGB")
            # ADM/DiT preprocessing: resize the short side, then centre-crop.
            im = resize(im, size, interpolation=3, antialias=True)
            im = center_crop(im, [size, size])
            return pil_to_tensor(im)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:  # PIL raises all of these
        detail = " ".join(str(exc).split())[:100] or type(exc).__name__
        raise DiveBenchError(f"{path} is not a readable image ({detail}); replace it with a good copy or remove it "
                             "from the dataset folder") from exc


def load_imagenet_folder(split: str = "val", root: str | None = None, *, per_class: int = 2,
                         subset_file: str | None = None, image_size: int = 256) -> ImageDataset:
    if root is None:
        raise DiveBenchError("imagenet-folder needs --data-root pointing at ImageNet val in class folders (ROOT/n01440764/*.JPEG)")
    base = Path(root)
    if not base.is_dir():
        raise DiveBenchError(f"ImageNet folder {base} does not exist; pass --data-root")
    classes = sorted(p.name for p in base.iterdir() if p.is_dir())
    if not classes:
        raise DiveBenchError(f"{base} has no class sub-folders; expected ROOT/<wnid>/<image files>")
    index = {c: i for i, c in enumerate(classes)}
    if subset_file:
        try:
            rel = [line.strip() for line in Path(subset_file).read_text().splitlines() if line.strip()]
        except (OSError, UnicodeDecodeError) as exc:
            raise DiveBenchError(f"cannot read the subset file {subset_file} ({exc}); it lists CLASS/FILE paths "
                                 "relative to --data-root, one a line") from exc
        files = [base / r for r in rel]
    else:
        files = []
        for c in classes:
            imgs = sorted(p for p in (base / c).iterdir() if p.suffix.lower() in _EXTS and p.is_file())
            if not imgs:
                others = sorted(p.name for p in (base / c).iterdir())
                found = f"it holds only {', '.join(others[:3])}{' ...' if len(others) > 3 else ''}" if others \
                    else "it is empty"
                raise DiveBenchError(
                    f"class folder {base / c} has no image files ({found}; images end in "
                    f"{', '.join(sorted(_EXTS))}); restore its images (removing the folder would renumber the "
                    "classes after it)")
            files.extend(imgs[:per_class])
    missing = [f for f in files if not f.exists()]
    if missing:
        raise DiveBenchError(f"{len(missing)} files of the subset are missing, e.g. {missing[0]}")
    images = torch.stack([_center_crop_resize(f, image_size) for f in files])
    labels = torch.tensor([index[f.parent.name] for f in files])
    return ImageDataset("imagenet-folder", split, images, labels, tuple(classes))
