"""Hostile ``--task folder:DIR`` inputs: folders that sort two ways, unreadable folders, labels files
from Excel, absurd class ids, images that are empty, tiny, huge or of the wrong mode."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from PIL import Image

from cli_checks import api_error, cli_error, digest
from dive_bench.data.image_folder import list_image_folder
from dive_bench.tasks import TASKS
from fast_runs import ENUMERATE_COARSE

SCORE = [*ENUMERATE_COARSE, "--items-per-batch", "1", "--eval-batch", "100", "--quiet"]


def _classes(root: Path, names: list[str], *, mode: str = "L", size: tuple[int, int] = (8, 8)) -> Path:
    for k, name in enumerate(names):
        (root / name).mkdir(parents=True)
        Image.new(mode, size, k * 20).save(root / name / "a.png")
    return root


def _score(root: Path, out: Path) -> list[str]:
    return ["score", "dit-digits-xs", "--task", f"folder:{root}", "--out", str(out), *SCORE]


def test_names_that_sort_two_ways_are_refused_with_both_fixes(tmp_path, capsys):
    """class1..class10: as text class10 is class id 1; the user surely meant 9. Refused, not guessed."""
    root = _classes(tmp_path / "set", [f"class{i}" for i in range(1, 11)])
    err = cli_error(capsys, _score(root, tmp_path / "out"))
    assert "sort one way as text and another by their numbers" in err
    assert "class id 1 would be 'class10' as text, 'class2' by number" in err
    assert "classes.txt" in err and "'class2' -> 'class02'" in err
    assert not (tmp_path / "out" / "run.json").exists()


def test_classes_file_states_the_mapping(tmp_path):
    """With classes.txt the ids are the lines, so class2's image is class 1 (accuracy would follow)."""
    names = [f"class{i}" for i in range(1, 11)]
    root = _classes(tmp_path / "set", names)
    (root / "classes.txt").write_text("\ufeff" + "\n".join(names) + "\n", encoding="utf-8")  # with a BOM
    listing = list_image_folder(root)
    assert listing.class_names == tuple(names) and listing.source == "classes.txt"
    assert dict(zip(listing.files, listing.labels))["class2/a.png"] == 1
    assert dict(zip(listing.files, listing.labels))["class10/a.png"] == 9


@pytest.mark.parametrize("text, phrase", [
    ("class1\nclass2\n", "does not list the class folder(s) class3"),
    ("class1\nclass1\nclass2\nclass3\n", "'class1' is listed twice"),
    ("class1\nclass2\nclass3\nclass4\n", "'class4' is not a class folder"),
])
def test_bad_classes_file(tmp_path, text, phrase):
    root = _classes(tmp_path / "set", ["class1", "class2", "class3"])
    (root / "classes.txt").write_text(text)
    assert phrase in api_error(list_image_folder, root)


def test_a_mapping_built_from_folder_names_is_shown(tmp_path, capsys):
    root = _classes(tmp_path / "set", ["cat", "dog", "emu"])
    TASKS.get(f"folder:{root}").load()
    out = capsys.readouterr().out
    assert "class ids from the sorted folder names" in out and "0 <- cat, 1 <- dog, 2 <- emu" in out


def test_labels_csv_from_excel_keeps_its_first_line(tmp_path):
    """Excel's "CSV UTF-8" starts with a BOM; line 1 is still a path (and a header is still skipped)."""
    root = tmp_path / "set"
    root.mkdir()
    for name in ("a.png", "b.png"):
        Image.new("L", (8, 8)).save(root / name)
    (root / "labels.csv").write_bytes("\ufeffa.png,0\r\nb.png,1\r\n".encode())
    assert list_image_folder(root).labels == (0, 1)
    (root / "labels.csv").write_bytes("\ufeffpath,label\r\na.png,0\r\nb.png,1\r\n".encode())
    assert list_image_folder(root).files == ("a.png", "b.png")


@pytest.mark.parametrize("label, phrase", [
    ("99999999999", "class id 99999999999 is beyond any class-conditional model"),
    ("20000000", "class id 20000000 is beyond any class-conditional model"),
    ("²", "holds non-ASCII characters"),
    ("٣", "holds non-ASCII characters"),
    ("9" * 5000, "has more than 18 digits"),
    ("-3", "is negative"),
    ("1.0", "'1.0' is not a whole number"),
])
def test_class_ids_are_parsed_strictly_and_bounded_before_use(tmp_path, label, phrase):
    root = tmp_path / "set"
    root.mkdir()
    Image.new("L", (8, 8)).save(root / "a.png")
    Image.new("L", (8, 8)).save(root / "b.png")
    (root / "labels.csv").write_text(f"a.png,0\nb.png,{label}\n", encoding="utf-8")
    start = time.perf_counter()
    err = api_error(list_image_folder, root)
    assert phrase in err and "line 2" in err and len(err) < 400
    assert time.perf_counter() - start < 1.0


def test_unreadable_class_folder_is_not_called_empty(tmp_path, monkeypatch):
    """chmod 000 made rglob see no images, and the advice was to remove the folder (renumbering
    every class after it). Simulated by a failing scandir (root reads through chmod 000)."""
    root = _classes(tmp_path / "set", ["a", "b", "c"])
    real = os.scandir

    def scandir(path):
        if Path(path) == root / "b":
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr("dive_bench.data.image_folder.os.scandir", scandir)
    err = api_error(list_image_folder, root)
    assert "class folder" in err and "/b cannot be read (Permission denied)" in err
    assert "fix its permissions" in err and "do not remove it" in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a chmod 000 folder; the case is simulated above")
def test_chmod_000_class_folder(tmp_path):
    root = _classes(tmp_path / "set", ["a", "b"])
    (root / "b").chmod(0)
    try:
        assert "fix its permissions" in api_error(list_image_folder, root)
    finally:
        (root / "b").chmod(0o755)


def test_rgb_folder_for_a_grayscale_model_names_the_channels(tmp_path, capsys):
    root = _classes(tmp_path / "set", [str(i) for i in range(10)], mode="RGB")
    err = cli_error(capsys, _score(root, tmp_path / "out"))
    assert "images have 3 channel(s) (RGB) but model 'dit-digits-xs' takes 1 (grayscale)" in err
    assert "convert the images to grayscale" in err and "resolution" not in err


def test_rerun_of_refused_folder_leaves_stored_results_alone(tmp_path, capsys):
    good = _classes(tmp_path / "good", [str(i) for i in range(10)])
    out = tmp_path / "out"
    from dive_bench.cli.main import main

    assert main([*_score(good, out), "--limit", "2"]) == 0
    before = digest(out)
    bad = _classes(tmp_path / "bad", [f"c{i}" for i in range(1, 11)])
    cli_error(capsys, _score(bad, out))
    assert digest(out) == before


def test_empty_and_one_class_folders(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert "has no class sub-folders" in api_error(list_image_folder, tmp_path / "empty")
    one = _classes(tmp_path / "one", ["only"])
    err = cli_error(capsys, _score(one, tmp_path / "out"))
    assert "has 1 class folders (only) but model 'dit-digits-xs' has 10 classes" in err


def test_non_images_and_symlink_loops_are_not_items(tmp_path):
    root = _classes(tmp_path / "set", ["a", "b"])
    (root / "a" / "notes.txt").write_text("x")
    (root / "a" / "loop").symlink_to(root / "a", target_is_directory=True)  # a link to itself
    (root / "b" / "up").symlink_to(root, target_is_directory=True)
    listing = list_image_folder(root)
    assert listing.files == ("a/a.png", "b/a.png") and listing.skipped[0] == 1


def test_zero_byte_image_is_named(tmp_path):
    root = _classes(tmp_path / "set", ["a", "b"])
    (root / "b" / "z.png").write_bytes(b"")
    err = api_error(lambda: TASKS.get(f"folder:{root}").load())
    assert "b/z.png is empty (0 bytes), not an image" in err


def test_truncated_image_is_named(tmp_path):
    root = _classes(tmp_path / "set", ["a", "b"])
    data = (root / "b" / "a.png").read_bytes()
    (root / "b" / "a.png").write_bytes(data[: len(data) // 2])
    err = api_error(lambda: TASKS.get(f"folder:{root}").load())
    assert "b/a.png is truncated or not a readable image" in err and "replace it with a good copy" in err


def test_decompression_bomb_is_refused_before_decoding(tmp_path):
    """A 6000 x 6000 1-bit PNG is a few kB; decoded as RGB it would be 108 MB (a 40k one 4.8 GB)."""
    root = _classes(tmp_path / "set", ["a", "b"])
    Image.new("1", (6000, 6000)).save(root / "b" / "bomb.png")
    assert (root / "b" / "bomb.png").stat().st_size < 100_000
    err = api_error(lambda: TASKS.get(f"folder:{root}").load())
    assert "bomb.png is 6000x6000 pixels, more than the 16,777,216 dive_bench decodes" in err


@pytest.mark.parametrize("size, shape", [((1, 1), "1x1x1"), ((100000, 1), "1x1x100000")])
def test_tiny_and_thin_images_are_refused_by_the_model_check(tmp_path, capsys, size, shape):
    root = _classes(tmp_path / "set", [str(i) for i in range(10)], size=size)
    err = cli_error(capsys, _score(root, tmp_path / "out"))
    assert f"images are {shape} (CxHxW) but model 'dit-digits-xs' expects 1x8x8" in err
