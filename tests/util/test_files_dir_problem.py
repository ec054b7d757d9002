"""util.files.dir_problem: the writability check of an output folder."""

from __future__ import annotations

from dive_bench.util.files import dir_problem


def test_keep_false_removes_only_the_folders_the_check_created(tmp_path):
    (tmp_path / "existing").mkdir()
    assert dir_problem(tmp_path / "existing" / "new" / "shards", keep=False) is None
    assert (tmp_path / "existing").is_dir() and not (tmp_path / "existing" / "new").exists()
    assert dir_problem(tmp_path / "kept" / "shards") is None and (tmp_path / "kept" / "shards").is_dir()


def test_a_file_in_the_way_is_named_and_nothing_is_left(tmp_path):
    (tmp_path / "f").write_text("x")
    assert dir_problem(tmp_path / "f" / "shards", keep=False) == "cannot be created: " + str(tmp_path / "f") + \
        " is an existing file, not a folder"
