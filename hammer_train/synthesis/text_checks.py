"""Rule checks on the text of a turn (ToolACE, arXiv 2409.00920, Appendix B, Table 4: a response is
not empty, not overlong, has no invalid characters, mixes no languages and is not truncated).

They look at the words only; the structure of a dialog (roles, calls, tool responses) is checked in
:mod:`hammer_train.synthesis.rules`. What each check flags:

* ``empty_turn``: a user turn, an assistant turn without calls, or a tool response with no text;
* ``overlong_turn``: an assistant or tool turn longer than ``max_turn_chars`` characters (user
  turns are what users wrote: BFCL has 10k-character prompts, which are not a generator's fault);
* ``invalid_characters``: control characters other than tab / newline / carriage return, the
  replacement character U+FFFD (a decoding error), surrogates, private-use or unassigned code
  points;
* ``truncated_turn``: an unclosed code fence, a tool response that opens more JSON brackets than
  it closes, or an assistant answer that stops on a dangling function word ("... reduction. For");
* ``mixed_language``: an assistant answer with two or more letters of a script that no user turn
  uses (an English dialog whose answer slips into Chinese). Latin letters are always allowed
  (names and code in any language), as are Greek ones (mathematics); users themselves mix
  languages in real data (BFCL live has Korean requests naming "LG ThinQ"), so user turns are
  not checked.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from typing import Any

from ..schema import DataError


__all__ = ["check_text", "scripts_of", "DANGLING_WORDS"]

DANGLING_WORDS = frozenset("a an the and or nor but of to for with which than".split())
"""Words a finished answer does not end on (articles, conjunctions, prepositions that need an
object; not those English lets stand at the end, such as "in" or "about"): a reply that stops on
one without punctuation was cut off."""

_NEUTRAL_SCRIPTS = {"LATIN", "GREEK"}
_SCRIPT_GROUPS = {"HIRAGANA": "CJK", "KATAKANA": "CJK", "CJK": "CJK", "HALFWIDTH": "CJK", "FULLWIDTH": "CJK"}
_KNOWN_SCRIPTS = {
    "LATIN",
    "GREEK",
    "CYRILLIC",
    "ARABIC",
    "HEBREW",
    "DEVANAGARI",
    "BENGALI",
    "TAMIL",
    "THAI",
    "HANGUL",
    "CJK",
    "HIRAGANA",
    "KATAKANA",
    "ARMENIAN",
    "GEORGIAN",
    "ETHIOPIC",
}


def scripts_of(text: str) -> dict[str, int]:
    """Letters of ``text`` counted by script (``LATIN``, ``CJK`` for Han / kana, ``HANGUL``,
    ``CYRILLIC``...), from the Unicode character names; letters of other scripts are not counted."""
    counts: dict[str, int] = {}
    for ch in text:
        if not ch.isalpha():
            continue
        try:
            head = unicodedata.name(ch).split(" ", 1)[0]
        except ValueError:
            continue
        if head not in _KNOWN_SCRIPTS and head not in _SCRIPT_GROUPS:
            continue
        script = _SCRIPT_GROUPS.get(head, head)
        counts[script] = counts.get(script, 0) + 1
    return counts


def _invalid_char(text: str) -> str | None:
    for ch in text:
        if ch in "\t\n\r":
            continue
        if ch == "\ufffd" or unicodedata.category(ch) in ("Cc", "Cs", "Co", "Cn"):
            return f"U+{ord(ch):04X}"
    return None


def _truncated(role: str, text: str) -> str | None:
    if text.count("```") % 2:
        return "an unclosed code fence"
    stripped = text.strip()
    if role == "tool" and stripped[:1] in "{[":
        opens = stripped.count("{") + stripped.count("[")
        closes = stripped.count("}") + stripped.count("]")
        if opens > closes:
            return "a JSON response that opens more brackets than it closes"
    if role == "assistant" and stripped and stripped[-1].isalpha():
        last = stripped.split()[-1].lower()
        if last in DANGLING_WORDS:
            return f"an answer that stops on {stripped.split()[-1]!r}"
    return None


def _turn_errors(
    i: int, role: str, text: str, has_calls: bool, user_scripts: set[str], max_chars: int
) -> Iterable[DataError]:
    fld = f"messages[{i}].content"
    if role in ("user", "tool") or (role == "assistant" and not has_calls):
        if not text.strip():
            yield DataError("empty_turn", f"the {role} turn is empty", field=fld)
            return
    bad = _invalid_char(text)
    if bad:
        yield DataError("invalid_characters", f"the {role} turn holds the character {bad}", field=fld)
    if role in ("assistant", "tool") and len(text) > max_chars:
        yield DataError("overlong_turn", f"the {role} turn has {len(text)} characters (> {max_chars})", field=fld)
    if role in ("assistant", "tool"):
        why = _truncated(role, text)
        if why:
            yield DataError("truncated_turn", f"the {role} turn looks cut off: {why}", field=fld)
    if role == "assistant" and not has_calls:
        foreign = {s: n for s, n in scripts_of(text).items() if s not in _NEUTRAL_SCRIPTS and s not in user_scripts}
        if sum(foreign.values()) >= 2:
            yield DataError(
                "mixed_language",
                f"the answer uses {', '.join(sorted(foreign))} letters that no user turn uses",
                field=fld,
            )


def check_text(messages: list[dict[str, Any]], max_turn_chars: int = 8000) -> list[DataError]:
    """Text checks of every turn (see the module docstring).

    Args:
        messages: normalized turns ``{"role", "content", "has_calls"}`` in dialog order (what
            :func:`hammer_train.synthesis.rules.normalize_messages` returns, as dicts).
        max_turn_chars: the longest assistant or tool turn allowed, in characters.

    Returns:
        One :class:`DataError` per failed check and turn (field ``messages[i].content``), in order.
    """
    user_scripts: set[str] = set()
    for m in messages:
        if m["role"] == "user":
            user_scripts.update(scripts_of(m["content"]))
    errors: list[DataError] = []
    for i, m in enumerate(messages):
        errors.extend(_turn_errors(i, m["role"], m["content"], m["has_calls"], user_scripts, max_turn_chars))
    return errors
