"""One validation of a checkpoint before any model is built from it or any weight is read into memory.

A checkpoint is a config (what to construct) and tensors (what to put in it). Both come from the
user's disk and either can be wrong: a config.json of another model class or another library,
absurd sizes (``hidden_size: 10**9``), a tensor of the wrong shape, a truncated file, a safetensors
header that claims terabytes. Left to diffusers and torch these surface as a 36-line
``RuntimeError`` from ``load_state_dict``, an ``IndexError``, an allocation that kills the machine,
or "the weights may be corrupt" when they are not. So everything is checked here first, in this
order, each failure one line that names the thing and the fix:

1. the config: a JSON object whose ``_class_name`` is the class being loaded, with no negative or
   absurd integer (``read_config``);
2. the architecture: the model is constructed on the ``meta`` device (no memory), which gives the
   expected state dict's names and shapes; buffers computed from the config alone (a position
   table from ``sample_size``) must fit a budget, since no file bounds them (``expected_shapes``);
3. the tensors: names and shapes read from the file's header (safetensors) or a memory-mapped
   ``torch.load`` (``weight_shapes``), checked against 2 by ``check_tensors``.

Once the shapes match, memory is bounded by the file itself. ``dit_original`` uses
``check_tensors`` and ``safetensors_shapes`` for the DiT/SiT authors' files too.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch

from dive_bench.errors import DiveBenchError

#: the largest integer a model config may hold (a width, a depth, a class count): far above any
#: real model, far below what would exhaust memory when multiplied out
MAX_CONFIG_INT = 2 ** 20
#: tighter limits where a count multiplies construction time, not just memory (blocks are built one by one)
MAX_BY_KEY = {"num_layers": 1024, "depth": 1024, "layers_per_block": 64, "num_attention_heads": 1024, "heads": 1024}
#: elements of buffers computed from the config alone (not stored, so not bounded by the file)
MAX_DERIVED_ELEMENTS = 2 ** 28
#: a safetensors header is a JSON table of contents; real ones are kilobytes
MAX_HEADER_BYTES = 100 * 2 ** 20
#: bytes per element of each safetensors dtype
_ITEMSIZE = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1, "U16": 2, "I16": 2, "F16": 2, "BF16": 2,
             "U32": 4, "I32": 4, "F32": 4, "U64": 8, "I64": 8, "F64": 8}
#: the weights file names diffusers' ``from_pretrained`` reads from a folder, in its order
WEIGHT_NAMES = ("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.safetensors.index.json",
                "diffusion_pytorch_model.bin")

Shapes = dict[str, tuple[int, ...]]


def few(names: list[str], n: int = 4) -> str:
    """The first ``n`` names, then how many more: a one-line message stays readable for 1000 keys."""
    return ", ".join(names[:n]) + (f" (+{len(names) - n} more)" if len(names) > n else "")


def shape_text(shape: tuple[int, ...] | None) -> str:
    return "any" if shape is None else "(" + ", ".join(str(s) for s in shape) + ")"


def check_tensors(found: Mapping[str, tuple[int, ...]], expected: Mapping[str, tuple[int, ...] | None],
                  where: str, fix: str) -> None:
    """Names and shapes of a checkpoint's tensors against the architecture's (``None``: any shape).

    One line: missing and unexpected names (a few, then a count), else the first tensor whose shape
    differs with its shape and the expected one (then how many others differ), then ``fix``."""
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    if missing or unexpected:
        parts = ([f"missing tensors {few(missing)}"] if missing else []) + (
            [f"unexpected tensors {few(unexpected)}"] if unexpected else [])
        raise DiveBenchError(f"{where}: {'; '.join(parts)}; {fix}")
    wrong = [k for k, want in expected.items() if want is not None and tuple(found[k]) != tuple(want)]
    if wrong:
        k = wrong[0]
        more = f" (and {len(wrong) - 1} more tensors differ)" if len(wrong) > 1 else ""
        raise DiveBenchError(f"{where}: tensor {k} has shape {shape_text(tuple(found[k]))}, expected "
                             f"{shape_text(tuple(expected[k]))}{more}; {fix}")


# -- config ------------------------------------------------------------------------------------
def _config_class(cfg: dict) -> str | None:
    """What a config says it is: diffusers' ``_class_name``, else another library's own marker."""
    if isinstance(cfg.get("_class_name"), str):
        return cfg["_class_name"]
    archs = cfg.get("architectures")
    if isinstance(archs, list) and archs and isinstance(archs[0], str):
        return f"{archs[0]} (a transformers config)"
    if isinstance(cfg.get("model_type"), str):
        return f"model_type {cfg['model_type']!r} (a transformers config)"
    return None


def _check_ints(value: Any, path: str, where: Path) -> None:
    if isinstance(value, bool):
        return
    if isinstance(value, int):
        top = MAX_BY_KEY.get(path.partition("[")[0], MAX_CONFIG_INT)
        if value < 0 or value > top:
            raise DiveBenchError(f"{where}: {path}={value} is not a usable model size (0 to {top}); "
                                 "the config is damaged: restore it from the checkpoint's source")
    elif isinstance(value, float) and not math.isfinite(value):
        raise DiveBenchError(f"{where}: {path}={value} is not a finite number; the config is damaged: restore it "
                             "from the checkpoint's source")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _check_ints(v, f"{path}[{i}]", where)


def read_config(folder: Path, accepts: tuple[str, ...], fixes: Mapping[str, str]) -> dict:
    """``folder/config.json`` as a dict, once it is a JSON object describing one of ``accepts``
    (``fixes``: what to do instead for another class, by class name) with sane integer sizes."""
    path = folder / "config.json"
    if not path.is_file():
        raise DiveBenchError(f"{folder} has no config.json, so it is not a diffusers model folder; export the "
                             f"model with {accepts[0]}.save_pretrained(FOLDER), or pass the folder that holds it")
    try:
        cfg = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise DiveBenchError(f"{path} is not valid JSON ({str(exc).splitlines()[0][:120]}); restore it from the "
                             f"checkpoint's source or re-export with {accepts[0]}.save_pretrained") from exc
    if not isinstance(cfg, dict):
        raise DiveBenchError(f"{path} holds a JSON {type(cfg).__name__}, not an object of model settings; restore "
                             f"it from the checkpoint's source or re-export with {accepts[0]}.save_pretrained")
    found = _config_class(cfg)
    if found not in accepts:
        what = f"describes {found}" if found else "names no model class (no _class_name)"
        fix = fixes.get(found or "", "") or (f"pass a folder saved by {accepts[0]}.save_pretrained")
        raise DiveBenchError(f"{path} {what}, not a {accepts[0]}; {fix}")
    for key, value in cfg.items():
        if not key.startswith("_"):
            _check_ints(value, key, path)
    return cfg


# -- architecture ------------------------------------------------------------------------------
def expected_shapes(build: Callable[[], torch.nn.Module], where: str) -> Shapes:
    """The state dict's names and shapes of the model ``build`` makes, built on the meta device
    (no memory); buffers that only the config determines must fit ``MAX_DERIVED_ELEMENTS``."""
    try:
        with torch.device("meta"):
            model = build()
    except Exception as exc:  # a config diffusers or our models cannot build: ValueError, RuntimeError...
        raise DiveBenchError(f"{where}: its settings do not build a model ({type(exc).__name__}: "
                             f"{(str(exc).strip().splitlines() or [''])[0][:160]}); the config is damaged or "
                             "belongs to another model: restore it from the checkpoint's source") from exc
    state = model.state_dict()
    derived = [(n, b) for n, b in model.named_buffers() if n not in state]
    total = sum(b.numel() for _, b in derived)
    if total > MAX_DERIVED_ELEMENTS:
        name, biggest = max(derived, key=lambda nb: nb[1].numel())
        raise DiveBenchError(f"{where}: its sizes give a {name} table of shape {shape_text(tuple(biggest.shape))} "
                             f"({total:,} values, more than {MAX_DERIVED_ELEMENTS:,}); check sample_size / image_size "
                             "and patch size in the config")
    return {k: tuple(v.shape) for k, v in state.items()}


# -- tensors -----------------------------------------------------------------------------------
def safetensors_shapes(path: Path) -> Shapes:
    """Tensor shapes from a .safetensors header, checked against the file's length: reads the
    header only, so a file that claims huge tensors or was cut short is refused before any load."""
    size = path.stat().st_size
    damaged = "re-download or re-export the file"
    with path.open("rb") as f:
        head = f.read(8)
        n = int.from_bytes(head, "little") if len(head) == 8 else -1
        if n < 2 or n > min(size - 8, MAX_HEADER_BYTES):
            raise DiveBenchError(f"{path} is not a readable .safetensors file (its {size}-byte length cannot hold the "
                                 f"header it announces): it is corrupt or truncated; {damaged}")
        raw = f.read(n)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise DiveBenchError(f"{path} has a damaged .safetensors header (not JSON); {damaged}") from exc
    if not isinstance(header, dict):
        raise DiveBenchError(f"{path} has a damaged .safetensors header (not a table of tensors); {damaged}")
    data = size - 8 - n
    shapes: Shapes = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype, shape, (begin, end) = info["dtype"], tuple(info["shape"]), info["data_offsets"]
            ok = (dtype in _ITEMSIZE and all(type(s) is int and s >= 0 for s in shape)
                  and type(begin) is int and type(end) is int and 0 <= begin <= end)
        except (TypeError, KeyError, ValueError):
            ok = False
        if not ok:
            raise DiveBenchError(f"{path}: the header entry for tensor {name} is malformed; {damaged}")
        if end - begin != math.prod(shape) * _ITEMSIZE[dtype]:
            raise DiveBenchError(f"{path}: the header gives tensor {name} shape {shape_text(shape)} in {dtype} "
                                 f"({math.prod(shape) * _ITEMSIZE[dtype]:,} bytes) but {end - begin:,} bytes of data; "
                                 f"the file is damaged: {damaged}")
        if end > data:
            raise DiveBenchError(f"{path} is truncated: tensor {name} ends at byte {end:,} of the data but the file "
                                 f"holds {data:,}; {damaged}")
        shapes[name] = shape
    return shapes


def torch_file_shapes(path: Path) -> Shapes:
    """Tensor shapes of a torch .bin state dict, memory-mapped where the format allows (nothing
    is read into memory), tensors only (``weights_only``)."""
    try:
        try:
            sd = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError as exc:
            if "mmap" not in str(exc):
                raise
            sd = torch.load(path, map_location="cpu", weights_only=True)  # the legacy format has no mmap
    except Exception as exc:
        if "weights_only" in str(exc) or "Unsupported global" in str(exc) or "Unpickl" in type(exc).__name__:
            raise DiveBenchError(f"refused to load {path}: it is not a weights-only file (it pickles code, which "
                                 "dive_bench never runs); if you trust it, re-save the model with "
                                 "save_pretrained(FOLDER) (safetensors)") from exc
        raise DiveBenchError(f"could not read {path} as a weights-only torch file ({type(exc).__name__}: "
                             f"{(str(exc).strip().splitlines() or [''])[0][:160]}); re-download or re-export it "
                             "(prefer .safetensors)") from exc
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise DiveBenchError(f"{path} holds no state dict of tensors; re-export it with save_pretrained")
    return {k: tuple(v.shape) for k, v in sd.items()}


def weight_shapes(folder: Path) -> tuple[Path, Shapes]:
    """The weights file diffusers would read from ``folder`` and its tensor shapes."""
    for name in WEIGHT_NAMES:
        path = folder / name
        if not path.is_file():
            continue
        if name.endswith(".index.json"):
            try:
                shards = sorted(set(json.loads(path.read_text())["weight_map"].values()))
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                raise DiveBenchError(f"{path} is not a valid shard index (no weight_map); re-export the model") from exc
            shapes: Shapes = {}
            for shard in shards:
                if not (folder / shard).is_file():
                    raise DiveBenchError(f"{path} lists shard {shard}, which is not in {folder}; download it too")
                shapes.update(safetensors_shapes(folder / shard))
            return path, shapes
        return path, (safetensors_shapes(path) if name.endswith(".safetensors") else torch_file_shapes(path))
    raise DiveBenchError(f"{folder} has a config.json but no weights ({WEIGHT_NAMES[0]} or "
                         f"{WEIGHT_NAMES[2]}); copy the weights file into it")


def check_folder(cls: Any, folder: Path, *, accepts: tuple[str, ...] | None = None,
                 fixes: Mapping[str, str] | None = None) -> None:
    """Everything ``cls.from_pretrained(folder)`` needs, checked before it runs (see module doc)."""
    accepts = accepts or (cls.__name__,)
    cfg = read_config(folder, accepts, fixes or {})
    expected = expected_shapes(lambda: cls.from_config(cfg), f"{folder / 'config.json'}")
    path, found = weight_shapes(folder)
    check_tensors(found, expected, str(path),
                  f"the weights do not belong to this config.json ({accepts[0]}): put the config.json saved with "
                  "these weights beside them, or re-export the model with save_pretrained")


def load_pretrained(cls: Any, folder: Path, *, fixes: Mapping[str, str] | None = None, **kwargs: Any) -> Any:
    """``cls.from_pretrained(folder)`` once ``check_folder`` passes (used for our own model classes)."""
    folder = Path(folder)
    check_folder(cls, folder, fixes=fixes)
    return cls.from_pretrained(str(folder), **kwargs)
