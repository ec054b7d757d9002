"""Bad input files and places (issue 12): corrupt Fashion-MNIST gzips, broken image folders, a
cache that points at a file, Inception weights that are not weights (or a malicious pickle), and
a fidelity --out that cannot hold samples. Each is one line and exit 2, before any compute."""

from __future__ import annotations

import gzip
import io
import os
import pickle
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch

from dive_bench.util import cache
from cli_checks import cli_error as _cli_error
from cli_checks import immutable as _immutable
from cli_checks import one_line as _one_line
from dive_bench.errors import DiveBenchError


# -- Fashion-MNIST gzips ----------------------------------------------------------------------------------------

def _idx_folder(folder: Path, n: int = 8) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = (np.arange(n) % 10).astype(np.uint8)
    for split in ("t10k", "train"):
        with gzip.open(folder / f"{split}-images-idx3-ubyte.gz", "wb") as f:
            f.write(struct.pack(">HBB", 0, 8, 3) + struct.pack(">III", *imgs.shape) + imgs.tobytes())
        with gzip.open(folder / f"{split}-labels-idx1-ubyte.gz", "wb") as f:
            f.write(struct.pack(">HBB", 0, 8, 1) + struct.pack(">I", n) + labels.tobytes())
    return folder


def _bad_crc(good: bytes) -> bytes:
    data = bytearray(good)
    data[-8] ^= 0xFF  # the CRC32 in the trailer
    return bytes(data)


def _bad_deflate(good: bytes) -> bytes:
    data = bytearray(good)
    start = data.index(b"\0", 10) + 1 if data[3] & 0x08 else 10  # after the header's file name
    data[start:start + 4] = b"\xff\xff\xff\xff"  # deflate block type 3: "invalid block type"
    return bytes(data)


@pytest.mark.parametrize("damage,kind", [
    (lambda good: b"this is not gzip at all" * 4, "BadGzipFile"),
    (lambda good: good[: len(good) // 2], "EOFError"),
    (_bad_crc, "BadGzipFile"),
    (_bad_deflate, "error"),
])
def test_corrupt_fmnist_gzip_is_one_line(tmp_path, damage, kind):
    from dive_bench.data.fashion_mnist import load_fashion_mnist

    root = _idx_folder(tmp_path / "fmnist")
    target = root / "t10k-images-idx3-ubyte.gz"
    target.write_bytes(damage(target.read_bytes()))
    with pytest.raises(DiveBenchError) as exc:
        load_fashion_mnist("test", root=str(root))
    msg = _one_line(str(exc.value))
    assert str(target) in msg and "corrupt or truncated gzip" in msg and "reinstall dataset-fashion-mnist" in msg
    assert kind in msg
    assert len(load_fashion_mnist("train", root=str(root))) == 8  # the intact split still loads


def test_corrupt_fmnist_gzip_through_the_cli(tmp_path, capsys):
    root = _idx_folder(tmp_path / "fmnist")
    (root / "t10k-labels-idx1-ubyte.gz").write_bytes(b"\x1f\x8b\x08\x00garbage")
    err = _cli_error(capsys, ["score", "dit-fmnist-s", "--task", "fmnist", "--data-root", str(root), "--limit", "2",
                              "--quiet", "--out", str(tmp_path / "run")])
    assert "t10k-labels-idx1-ubyte.gz" in err and "gzip" in err


def test_fmnist_zlib_error_is_caught(tmp_path, monkeypatch):
    """zlib.error is not an OSError: it needs its own except clause."""
    from dive_bench.data import fashion_mnist, idx

    root = _idx_folder(tmp_path / "fmnist")

    class Broken(io.BytesIO):
        def read(self, *args):
            raise zlib.error("Error -3 while decompressing data: invalid block type")

    monkeypatch.setattr(idx.gzip, "open", lambda *a, **k: Broken())
    with pytest.raises(DiveBenchError, match="corrupt or truncated gzip.*invalid block type"):
        fashion_mnist.load_fashion_mnist("test", root=str(root))


# -- image folders (imagenet-folder) ----------------------------------------------------------------------------

def _image_folder(root: Path) -> Path:
    from PIL import Image

    for c, wnid in enumerate(("n01", "n02")):
        (root / wnid).mkdir(parents=True)
        for k in range(2):
            Image.new("RGB", (20, 16), color=(40 * c, 20 * k, 0)).save(root / wnid / f"img{k}.JPEG", format="JPEG")
    return root


@pytest.mark.parametrize("setup,phrase,where", [
    (lambda root: (root / "n03").mkdir(), "it is empty", "n03"),
    (lambda root: ((root / "n03").mkdir(), (root / "n03" / "README.txt").write_text("no images")),
     "it holds only README.txt", "n03"),
    (lambda root: (root / "n02" / "img0.JPEG").write_text("<html>not a jpeg</html>"), "not a readable image",
     "n02/img0.JPEG"),
    (lambda root: (root / "n01" / "img1.JPEG").write_bytes((root / "n01" / "img1.JPEG").read_bytes()[:60]),
     "not a readable image", "n01/img1.JPEG"),
])
def test_broken_image_folder_is_one_line(tmp_path, setup, phrase, where):
    from dive_bench.data.imagenet import load_imagenet_folder

    root = _image_folder(tmp_path / "val")
    assert len(load_imagenet_folder("val", str(root), image_size=8)) == 4
    setup(root)
    with pytest.raises(DiveBenchError) as exc:
        load_imagenet_folder("val", str(root), image_size=8)
    msg = _one_line(str(exc.value))
    assert phrase in msg and str(root / where) in msg


def test_unreadable_subset_file(tmp_path):
    from dive_bench.data.imagenet import load_imagenet_folder

    root = _image_folder(tmp_path / "val")
    subset = tmp_path / "subset.bin"
    subset.write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(DiveBenchError, match="subset file"):
        load_imagenet_folder("val", str(root), subset_file=str(subset), image_size=8)


def test_broken_coco_image_is_one_line(tmp_path):
    from dive_bench.data.coco import load_coco_detection

    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "a.png").write_text("not a png")
    ann = {"images": [{"id": 1, "file_name": "a.png", "width": 8, "height": 8}], "annotations": [],
           "categories": [{"id": 1, "name": "x"}]}
    (tmp_path / "instances.json").write_text(__import__("json").dumps(ann))
    with pytest.raises(DiveBenchError, match="not a readable image") as exc:
        load_coco_detection(tmp_path / "instances.json", tmp_path / "images")
    assert "a.png" in _one_line(str(exc.value))


# -- the cache root ---------------------------------------------------------------------------------------------

@pytest.fixture
def fresh_cache_check(monkeypatch):
    monkeypatch.setattr(cache, "_CHECKED", set())


def test_cache_env_pointing_at_a_file(tmp_path, monkeypatch, fresh_cache_check, capsys):
    a_file = tmp_path / "cache-file"
    a_file.write_text("x")
    monkeypatch.setenv("DIVE_BENCH_CACHE", str(a_file))
    with pytest.raises(DiveBenchError) as exc:
        cache.cache_root()
    msg = _one_line(str(exc.value))
    assert "$DIVE_BENCH_CACHE" in msg and str(a_file) in msg and "existing file" in msg
    assert "set DIVE_BENCH_CACHE to a writable folder" in msg
    # the users of the cache go through the check: the canvas task's data, the layout seeds
    from dive_bench.data.canvas import canvas_cache_root
    from dive_bench.tasks import TASKS

    with pytest.raises(DiveBenchError, match="DIVE_BENCH_CACHE"):
        canvas_cache_root()
    with pytest.raises(DiveBenchError, match="DIVE_BENCH_CACHE"):
        TASKS.get("canvas-det").load(None)
    monkeypatch.setenv("DIVE_BENCH_CACHE", str(a_file / "sub"))
    with pytest.raises(DiveBenchError, match="existing file"):
        cache.cache_root()
    assert a_file.read_text() == "x"


def test_cache_env_unwritable(tmp_path, monkeypatch, fresh_cache_check):
    locked = tmp_path / "locked"
    locked.mkdir()
    with _immutable(locked):
        monkeypatch.setenv("DIVE_BENCH_CACHE", str(locked))
        with pytest.raises(DiveBenchError, match=r"\$DIVE_BENCH_CACHE.*not writable") as exc:
            cache.cache_root()
        _one_line(str(exc.value))
        monkeypatch.setenv("DIVE_BENCH_CACHE", str(locked / "sub"))
        with pytest.raises(DiveBenchError, match="cannot be created"):
            cache.cache_root()
    monkeypatch.setenv("DIVE_BENCH_CACHE", "/proc/dive-bench-cache")
    with pytest.raises(DiveBenchError, match="DIVE_BENCH_CACHE"):
        cache.cache_root()
    monkeypatch.setenv("DIVE_BENCH_CACHE", str(tmp_path / "new" / "cache"))
    assert cache.cache_root() == tmp_path / "new" / "cache" and (tmp_path / "new" / "cache").is_dir()
    assert cache.cache_root(tmp_path / "override") == tmp_path / "override"
    (tmp_path / "cache-file-x").write_text("x")
    with pytest.raises(DiveBenchError, match="--cache-dir"):
        cache.cache_root(tmp_path / "cache-file-x")


# -- Inception weights ------------------------------------------------------------------------------------------

class _Marker:
    """Unpickling this runs ``open(path, 'w')``: proof that a load executed code from the file."""

    def __init__(self, path: Path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def _malicious(path: Path, marker: Path) -> Path:
    # a zip-format torch file whose data.pkl creates the marker when unpickled
    torch.save({"Conv2d_1a_3x3.conv.weight": torch.zeros(1), "fc.weight": torch.zeros(1), "x": _Marker(marker)}, path)
    return path


@pytest.mark.parametrize("content,phrase", [
    (b"", "the file is empty"),
    (b"hello world, these are not weights\n", "not a torch state dict"),
    (b"\n\n", "not a plain tensor state dict"),
    (b"PK\x03\x04 broken zip", "not a torch state dict"),
])
def test_inception_weights_that_are_not_weights(tmp_path, capsys, content, phrase, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    weights = tmp_path / "weights.pth"
    weights.write_bytes(content)
    err = _cli_error(capsys, ["fidelity", "dit-fmnist-s", "--reference", "fmnist", "--num-samples", "4",
                              "--steps", "2", "--quiet", "--inception-weights", str(weights),
                              "--out", str(tmp_path / "run")])
    assert str(weights) in err and phrase in err and "--inception-weights" in err
    assert "weights_only=False" not in err  # torch's own advice (run the file's code) is never passed on
    assert not (tmp_path / "run").exists()


def test_malicious_inception_weights_never_run(tmp_path):
    from dive_bench.generative.resolve import resolve_extractor

    marker = tmp_path / "pwned"
    evil = _malicious(tmp_path / "evil.pth", marker)
    with pytest.raises(DiveBenchError, match="cannot be loaded as a plain state dict"):
        resolve_extractor("inception-v3-compat", evil)
    assert not marker.exists()


def test_torch_fidelity_never_loads_the_users_file(tmp_path, inception_weights, monkeypatch):
    """torch-fidelity 0.4 loads ``feature_extractor_weights_path`` with ``weights_only=False``. A file
    swapped for a malicious pickle after the safe check must never reach it; and on the normal
    path every load of a user file is ``weights_only=True``."""
    import shutil

    import torch_fidelity.feature_extractor_inceptionv3 as tfi

    from dive_bench.generative.resolve import resolve_extractor

    weights = tmp_path / "weights.pth"
    shutil.copy(inception_weights, weights)
    ext = resolve_extractor("inception-v3-compat", weights)
    calls = []
    real_load = torch.load

    def spy(f, *args, **kwargs):
        calls.append((f, kwargs.get("weights_only")))
        return real_load(f, *args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    fe = ext.create(torch.device("cpu"))
    assert isinstance(fe, tfi.FeatureExtractorInceptionV3)
    assert calls, "no load seen"
    for f, weights_only in calls:
        # a path (the user's file) is only ever loaded safely; torch-fidelity gets an in-memory copy
        assert weights_only is True or isinstance(f, io.BytesIO), (f, weights_only)
        assert not isinstance(f, (str, os.PathLike)) or weights_only is True
    with torch.no_grad():
        out = fe(torch.zeros(1, 3, 32, 32, dtype=torch.uint8))
    assert out[0].shape == (1, 2048)

    marker = tmp_path / "pwned"
    _malicious(weights, marker)  # swapped between the check and the extractor's creation
    with pytest.raises(DiveBenchError, match="changed while this command ran"):
        ext.create(torch.device("cpu"))
    assert not marker.exists()
    # even a file whose bytes keep the recorded hash is loaded weights_only (the hash is no permission)
    object.__setattr__(ext, "weights_sha256", __import__("hashlib").sha256(weights.read_bytes()).hexdigest())
    with pytest.raises(DiveBenchError, match="cannot be loaded as a plain state dict"):
        ext.create(torch.device("cpu"))
    assert not marker.exists()


def test_marker_pickle_really_runs_code_when_loaded_unsafely(tmp_path):
    """The tripwire works: loading the crafted file without weights_only creates the marker."""
    marker = tmp_path / "pwned"
    evil = _malicious(tmp_path / "evil.pth", marker)
    torch.load(evil, weights_only=False)
    assert marker.exists()
    assert pickle.loads(pickle.dumps(_Marker(tmp_path / "m2"))) is not None and (tmp_path / "m2").exists()


# -- fidelity --out that cannot hold samples --------------------------------------------------------------------

def test_sample_cache_refuses_unusable_folders(tmp_path):
    from dive_bench.generative.sample_cache import SampleCache

    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    locked = tmp_path / "locked"
    locked.mkdir()
    cases = [(a_file, "existing file"), (a_file / "samples", "existing file"),
             (Path("/proc/dive-bench-samples"), "cannot be created")]
    with _immutable(locked):
        cases += [(locked, "not writable"), (locked / "samples", "cannot be created")]
        for folder, phrase in cases:
            with pytest.raises(DiveBenchError) as exc:
                SampleCache(folder, {"a": 1})
            msg = _one_line(str(exc.value))
            assert str(folder) in msg and phrase in msg and "--out" in msg
    assert a_file.read_text() == "x"


def test_fidelity_cli_refuses_an_out_file_before_sampling(tmp_path, capsys, monkeypatch):
    import dive_bench.run.fidelity as fidelity_run

    def no_sampling(*args, **kwargs):
        raise AssertionError("sampled with an unusable --out")

    monkeypatch.setattr(fidelity_run, "generate_samples", no_sampling)
    root = _idx_folder(tmp_path / "fmnist")
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    err = _cli_error(capsys, ["fidelity", "dit-fmnist-s", "--reference", "fmnist", "--data-root", str(root),
                              "--feature-extractor", "fmnist-classifier", "--num-samples", "4", "--steps", "2",
                              "--quiet", "--out", str(a_file)])
    assert str(a_file) in err and "existing file" in err and "--out" in err
