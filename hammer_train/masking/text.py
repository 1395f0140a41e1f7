"""Whole-token text replacement of default values in descriptions and queries.

A token is "whole" when it is not glued to a word character; a number additionally must not be
part of a longer number (``1`` inside ``10``, ``1.5``, ``-1``, ``1,000`` or ``2020-01-05`` is left
alone). All spellings are replaced in one pass, so a replacement is never replaced again. Strings
are replaced in four letter-case variants (:func:`case_variants`), as Hammer did.
"""

from __future__ import annotations

from typing import Any

from .values import decode_scalar


__all__ = ["Replacer", "case_variants", "query_text", "token_ok"]


def _is_word(c: str) -> bool:
    return c.isalnum() or c == "_"


def _is_number_spelling(s: str) -> bool:
    v = decode_scalar(s)
    return v is not None and type(v) is not bool


def token_ok(text: str, start: int, end: int, numeric: bool, spelling: str) -> bool:
    """Whether ``text[start:end]`` (equal to ``spelling``) is a whole token.

    Args:
        text: the text searched.
        start, end: the match's slice bounds.
        numeric: ``spelling`` is a number, so the match must not be part of a longer number either.
        spelling: the matched spelling (its first / last character decide whether a word
            character next to it glues).
    """
    n = len(text)
    if start > 0:
        prev = text[start - 1]
        if _is_word(spelling[0]) and _is_word(prev):
            return False
        if numeric:
            if prev == ".":
                return False
            if prev == "-" and spelling[0] != "-":
                return False
            if prev == "," and start >= 2 and text[start - 2].isdigit():
                return False
    if end < n:
        nxt = text[end]
        if _is_word(spelling[-1]) and _is_word(nxt):
            return False
        if numeric:
            if nxt in ".,-" and end + 1 < n and text[end + 1].isdigit():
                return False
    return True


class Replacer:
    """Whole-token replacement of several spellings in one pass (at one position the longest
    spelling wins; the first spelling added for an old text wins)."""

    __slots__ = ("pairs",)

    def __init__(self) -> None:
        self.pairs: dict[str, tuple[str, bool]] = {}  # old spelling -> (new spelling, old is a number)

    def add(self, old: str, new: str) -> None:
        """Replace ``old`` by ``new`` (ignored when ``old`` is empty, equals ``new`` or was added)."""
        if old and old != new and old not in self.pairs:
            self.pairs[old] = (new, _is_number_spelling(old))

    def __bool__(self) -> bool:
        return bool(self.pairs)

    def apply(self, text: str) -> str:
        """``text`` with every whole-token occurrence of each old spelling replaced; ``text``
        itself when nothing matches (or it is empty)."""
        if not text or not self.pairs:
            return text
        hits: list[tuple[int, int, str]] = []
        for old, (new, numeric) in self.pairs.items():
            if old not in text:
                continue
            start = text.find(old)
            ln = len(old)
            while start != -1:
                end = start + ln
                if token_ok(text, start, end, numeric, old):
                    hits.append((start, -ln, new))
                start = text.find(old, start + 1)
        if not hits:
            return text
        hits.sort()
        out = []
        pos = 0
        for start, neg_len, new in hits:
            if start < pos:
                continue
            out.append(text[pos:start])
            out.append(new)
            pos = start - neg_len
        out.append(text[pos:])
        return "".join(out)


def case_variants(old: str, new: str) -> list[tuple[str, str]]:
    """Hammer's four letter-case variants: ``(old, new)``, lower, upper and capitalized pairs."""
    return [(old, new), (old.lower(), new.lower()), (old.upper(), new.upper()), (old.capitalize(), new.capitalize())]


def query_text(query: Any) -> str:
    """All text of a query: the string itself, or the string contents of its messages joined by
    newlines (fresh string defaults avoid anything already in it)."""
    if isinstance(query, str):
        return query
    parts = []
    for m in query:
        c = m.get("content") if isinstance(m, dict) else None
        if isinstance(c, str):
            parts.append(c)
    return "\n".join(parts)
