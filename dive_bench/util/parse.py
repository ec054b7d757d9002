"""One strict reading of a whole number typed by a user (a class id, an image id, ``size=N``).

Why not ``int(text)`` after ``text.isdigit()``: ``"²".isdigit()`` is True and ``int("²")`` fails;
``int("٣")`` (an Arabic-Indic digit) quietly gives 3; and ``int()`` of a 5,000-digit string hits
Python's integer-string limit with a ValueError. Every parser of user numbers goes through
:func:`whole_number`: ASCII digits only, the length bounded *before* ``int()`` runs, so a
hostile line costs nothing and can never become a different number than the one written.
"""

from __future__ import annotations

#: digits a value may have: int64 holds every 18-digit number (COCO ids, class ids, sizes)
MAX_DIGITS = 18


def whole_number(text: str, max_digits: int = MAX_DIGITS) -> int | None:
    """``text`` (surrounding spaces allowed) as an int >= 0, or None unless it is 1..``max_digits``
    ASCII digits. A leading ``-`` is not accepted: callers say "negative" themselves."""
    word = text.strip()
    if not word or len(word) > max_digits or not word.isascii() or not word.isdigit():
        return None
    return int(word)


def quoted(text: str, limit: int = 40) -> str:
    """``text`` quoted for a one-line message, cut short when long (a 5,000-digit id)."""
    word = text.strip()
    return repr(word) if len(word) <= limit else f"{word[:20]!r}... ({len(word)} characters)"


def describe_number(text: str, max_digits: int = MAX_DIGITS) -> str:
    """Why ``text`` is not a whole number, for an error message (short even for a huge input)."""
    word = text.strip()
    shown = quoted(word)
    if word.isascii() and word.isdigit() and len(word) > max_digits:
        return f"{shown} has more than {max_digits} digits"
    if word and not word.isascii():
        return f"{shown} holds non-ASCII characters (write the digits 0-9)"
    return f"{shown} is not a whole number"


__all__ = ["MAX_DIGITS", "describe_number", "quoted", "whole_number"]
