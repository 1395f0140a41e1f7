"""Typed JSON scalars for default-value masking: normalization, comparison and rendering.

Values are compared as typed JSON scalars after normalization: a string that spells a JSON number
or boolean (the xLAM default ``"10"`` of an ``int`` parameter) equals the number ``10``; ``True``
never equals ``1``. A fresh value is written back in the JSON type of each place it replaces
(``"10"`` becomes ``"13"``, ``10`` becomes ``13``).
"""

from __future__ import annotations

import json
import math
from typing import Any, Iterator

from ..schema import MISSING


__all__ = [
    "decode_scalar",
    "float_decimals",
    "render_like",
    "same_value",
    "scalars",
    "skippable",
    "spelling",
    "str_decimals",
]


def decode_scalar(s: str) -> Any:
    """A string spelling a finite JSON number or a JSON boolean -> that value, else ``None``.

    ``"10"`` -> ``10``, ``"1.5"`` -> ``1.5``, ``"true"`` -> ``True``; ``" 10"``, ``"10 "``,
    ``"NaN"``, ``"1e999"`` and words -> ``None``.
    """
    if not s or s[0] not in "-0123456789tf" or s[-1].isspace():
        return None
    if s[0] in "tf":
        return True if s == "true" else False if s == "false" else None
    try:
        v = json.loads(s)
    except ValueError:
        return None
    if type(v) is int or (type(v) is float and math.isfinite(v)):
        return v
    return None


def skippable(v: Any) -> bool:
    """Whether a default is never masked: ``MISSING``, ``None``, ``""``, lists, dicts and anything
    that is not a JSON scalar."""
    if v is None or v is MISSING:
        return True
    t = type(v)
    if t is str:
        return v == ""
    return t not in (int, float, bool)


def scalars(value: Any) -> Iterator[Any]:
    """Every scalar inside an argument value (lists, tuples and dicts walked), in order."""
    if isinstance(value, dict):
        for v in value.values():
            yield from scalars(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from scalars(v)
    else:
        yield value


def same_value(default: Any, value: Any) -> bool:
    """Typed equality after JSON normalization.

    Values of one type compare with ``==``; otherwise numeric / boolean strings are decoded
    (:func:`decode_scalar`) and the results compared, a bool only ever equal to a bool
    (``same_value("10", 10)`` and ``same_value(10, 10.0)`` hold, ``same_value(True, 1)`` and
    ``same_value("", 0)`` do not).
    """
    td, tv = type(default), type(value)
    if td is tv:
        return default == value
    if tv not in (str, int, float, bool) or (tv is str and value == ""):
        return False
    if td is str:
        default = decode_scalar(default)
        if default is None:
            return False
        td = type(default)
    if tv is str:
        value = decode_scalar(value)
        if value is None:
            return False
        tv = type(value)
    if td is bool or tv is bool:
        return td is tv and default == value
    return default == value


def float_decimals(x: float) -> int:
    """Decimals ``x`` is written with (``repr``, exponent accounted for), clamped to 1..15.

    ``46.95828`` -> 5, ``2.0`` -> 1, ``1e-05`` -> 5.
    """
    r = repr(float(x))
    if "e" in r or "E" in r:
        mant, exp = r.lower().split("e")
        dec = (len(mant.split(".")[1]) if "." in mant else 0) - int(exp)
    else:
        dec = len(r.split(".")[1]) if "." in r else 0
    return min(max(dec, 1), 15)


def str_decimals(s: str) -> int:
    """Digits after the point of a plain decimal spelling (``"2.50"`` -> 2); 0 for ``"3"`` or an
    exponent spelling."""
    if "e" in s or "E" in s or "." not in s:
        return 0
    return len(s.split(".", 1)[1])


def render_like(new: Any, like: Any, int_mode: bool) -> Any:
    """``new`` (the fresh typed value) written with the JSON type of ``like`` (an old occurrence).

    Args:
        new: the fresh value (str, int, float or bool).
        like: one place the old value held (a spec default, an argument, an enum entry).
        int_mode: the old value counts as an integer (an integral float used by an integer answer);
            a string occurrence keeps its own number of decimals then (``"10.0"`` -> ``"13.0"``).

    Returns:
        ``new`` as a ``like``-typed value; a number / bool occurrence spelled as a string becomes
        a string (``"true"``, ``"13"``, ``repr`` of a float).
    """
    tl = type(like)
    if tl is type(new) and tl is not float:
        return new
    if tl is bool:
        return bool(new)
    if tl is int:
        return int(new)
    if tl is float:
        return float(new)
    # a string occurrence of a number / bool
    if type(new) is bool:
        return "true" if new else "false"
    if type(new) is str:
        return new
    if int_mode:
        dec = str_decimals(like)
        return f"{float(new):.{dec}f}" if dec else str(int(new))
    return repr(float(new))


def spelling(v: Any) -> str:
    """How a scalar is written in text: strings as they are, JSON ``true`` / ``false``, ``repr``
    of a float, ``str`` of an int."""
    if type(v) is str:
        return v
    if type(v) is bool:
        return "true" if v else "false"
    return repr(v) if type(v) is float else str(v)
