"""The one Markdown table builder (dive_bench.report.tables): bolding, missing cells, and the exact bytes."""

import pandas as pd
import pytest

from dive_bench.report.tables import Column, best_of, markdown_table


def test_tiny_table_is_byte_identical_to_the_hand_written_markdown():
    # 2 rows x 3 columns; "acc" bolds its max, "time" its min, a missing cell shows "-"
    md = markdown_table(["Model", Column("acc", "max"), Column("time", "min")],
                        [{"Model": "`a`", "acc": ("50.0", 0.5), "time": ("2.00", 2.0)},
                         {"Model": "`bb-long`", "acc": ("75.0", 0.75)}])
    expected = ("| Model     | acc      | time     |\n"
                "|:----------|:---------|:---------|\n"
                "| `a`       | 50.0     | **2.00** |\n"
                "| `bb-long` | **75.0** | -        |")
    assert md == expected


def test_all_ties_are_bolded_for_max_and_for_min():
    rows = [{"m": "x", "hi": ("0.9", 0.9), "lo": ("3", 3.0)},
            {"m": "y", "hi": ("0.90", 0.9), "lo": ("1", 1.0)},
            {"m": "z", "hi": ("0.1", 0.1), "lo": ("1.0", 1.0)}]
    lines = markdown_table(["m", Column("hi", "max"), Column("lo", "min")], rows).splitlines()[2:]
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in lines]
    assert cells == [["x", "**0.9**", "3"], ["y", "**0.90**", "**1**"], ["z", "0.1", "**1.0**"]]


def test_missing_none_and_nan_cells_take_no_part_in_bolding():
    rows = [{"m": "a", "v": ("7.0", float("nan"))},   # NaN: shown, never best
            {"m": "b", "v": ("5.0", None)},            # no raw value: shown, never best
            {"m": "c", "v": ("3.0", 3.0)},
            {"m": "d", "v": None},                      # None cell: "-"
            {"m": "e"}]                                 # absent cell: "-"
    lines = markdown_table(["m", Column("v", "max")], rows).splitlines()[2:]
    assert [line.split("|")[2].strip() for line in lines] == ["7.0", "5.0", "**3.0**", "-", "-"]


def test_columns_without_best_are_never_bolded_and_a_column_with_no_values_is_left_alone():
    md = markdown_table(["m", "plain", Column("empty", "max")],
                        [{"m": "a", "plain": ("9", 9.0)}, {"m": "b", "plain": ("1", 1.0)}])
    assert "**" not in md
    assert md.splitlines()[2].split("|")[3].strip() == "-"


@pytest.mark.parametrize("rows", [[], [{"A": "1", "B": "0.50"}], [{"A": "x" * 12, "B": "**y**"}, {"A": "-"}]])
def test_same_bytes_as_the_pandas_to_markdown_path(rows):
    # the path every table took before the builder: regenerated leaderboards keep their bytes
    frame = pd.DataFrame([[r.get(c, "-") for c in ("A", "B")] for r in rows], columns=["A", "B"], dtype=object)
    assert markdown_table(["A", "B"], rows) == frame.to_markdown(index=False, disable_numparse=True)


def test_numbers_are_not_reparsed():
    # tabulate's number parsing would right-align and reformat "0.50" and "1,000"
    md = markdown_table(["n"], [{"n": "0.50"}, {"n": "1,000"}])
    assert md.splitlines() == ["| n     |", "|:------|", "| 0.50  |", "| 1,000 |"]


def test_bad_tables_are_refused():
    with pytest.raises(ValueError, match="duplicate"):
        markdown_table(["a", Column("a")], [])
    with pytest.raises(ValueError, match=r"\['b'\]"):
        markdown_table(["a"], [{"a": "1", "b": "2"}])
    with pytest.raises(ValueError, match="best"):
        Column("a", "largest")


def test_best_of_maps_a_direction():
    assert best_of(True) == "max" and best_of(False) == "min"
