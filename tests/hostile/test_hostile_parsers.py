"""Hostile numbers wherever a user types one: the one strict parser (ASCII digits, length bounded
before ``int()``) and the item selections that use it (``--items``, ``--item-ids``)."""

from __future__ import annotations

import time

import pytest

from cli_checks import api_error
from dive_bench.spec.items import parse_items, read_item_ids
from dive_bench.util.parse import describe_number, whole_number


@pytest.mark.parametrize("text, value", [("0", 0), (" 42 ", 42), ("007", 7), ("9" * 18, 10 ** 18 - 1)])
def test_whole_numbers(text, value):
    assert whole_number(text) == value


@pytest.mark.parametrize("text", ["", "-1", "+1", "1.0", "1e3", "²", "٣", "１", "1_000", "9" * 19, "9" * 5000])
def test_not_whole_numbers(text):
    """'²'.isdigit() is True and int('٣') == 3: neither may pass; nor may 5,000 digits reach int()."""
    assert whole_number(text) is None


def test_descriptions_are_short_and_say_why():
    assert describe_number("9" * 5000).endswith("(5000 characters) has more than 18 digits")
    assert "non-ASCII" in describe_number("²")
    assert describe_number("abc") == "'abc' is not a whole number"


def test_a_5000_digit_item_id_in_a_file(tmp_path):
    path = tmp_path / "ids.txt"
    path.write_text("1\n" + "7" * 5000 + "\n")
    start = time.perf_counter()
    err = api_error(read_item_ids, path)
    assert "line 2" in err and "has more than 9 digits" in err and len(err) < 400
    assert time.perf_counter() - start < 1.0


def test_item_ids_file_from_excel_and_superscripts(tmp_path):
    path = tmp_path / "ids.txt"
    path.write_bytes("\ufeff3\r\n1, 2\r\n".encode())
    assert read_item_ids(path) == [3, 1, 2]
    path.write_text("1\n²\n", encoding="utf-8")
    assert "holds non-ASCII characters" in api_error(read_item_ids, path)


@pytest.mark.parametrize("text", ["²:4", "7" * 5000, "0:" + "7" * 5000])
def test_items_option_is_strict_and_short(text):
    err = api_error(parse_items, text, 10)
    assert "is not an item id or a range A:B" in err and len(err) < 300
