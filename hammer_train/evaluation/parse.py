"""Turn a model's generated text into function calls.

Two parsers live here:

* :func:`hammer_parse` reproduces the parser of the Hammer authors' ``evaluation/evaluate.py``
  (docs/design.md, "Evaluation exactly as the Hammer authors score it"): strip "```json" and "```",
  ``json.loads``, take ``tool_calls`` when present.  It is what :func:`~.metrics.hammer_f1` uses,
  so published numbers stay comparable.
* :func:`parse_calls` is our lenient parser for everything else (strict F1, irrelevance, BFCL):
  fenced or bare JSON, prose around a fence, the usual call shapes, ``<tool_call>`` tags and the
  Python-call style ``[f(a=1), g(b="x")]`` read with :mod:`ast` (never ``eval``).

Both return a :class:`ParseResult`; neither raises on bad model output.  A call is always the
plain dict ``{"name": str, "arguments": dict}``; an empty list means the model refused.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from typing import Any


__all__ = ["ParseResult", "parse_calls", "hammer_parse", "normalize_call", "normalize_calls"]

_NO_RAW: Any = object()


@dataclass
class ParseResult:
    """Outcome of parsing one generation.

    Attributes:
        calls: the calls as ``[{"name": str, "arguments": dict}, ...]`` (``[]`` is a refusal), or
            ``None`` when the text is a format error.
        error: why parsing failed (``None`` on success).
        raw: the decoded object before normalization (a list, a dict, ... exactly as
            ``json.loads`` or the AST reader produced it); ``None`` when nothing could be decoded.
    """

    calls: list[dict] | None
    error: str | None = None
    raw: Any = None

    @property
    def ok(self) -> bool:
        """True when the text parsed to a list of calls (possibly empty)."""
        return self.calls is not None


# --------------------------------------------------------------------------- call shapes


def normalize_call(obj: Any) -> dict:
    """Normalize one call to ``{"name": str, "arguments": dict}``.

    Accepted shapes: ``{"name", "arguments"}``, ``{"tool" | "name", "parameters"}`` (Seal-Tools
    answers), OpenAI ``{"type": "function", "function": {"name", "arguments"}}`` and
    ``{"function": ...}``, with ``arguments`` either a dict or a JSON string of one.  A missing or
    ``null`` ``arguments`` means no arguments.

    Raises:
        ValueError: the object is not a call (no string name, arguments not an object).
    """
    if not isinstance(obj, dict):
        raise ValueError(f"call is a {type(obj).__name__}, not an object")
    if isinstance(obj.get("function"), dict):
        obj = obj["function"]
    name = obj.get("name", obj.get("tool"))
    if not isinstance(name, str) or not name:
        raise ValueError("call has no string 'name'")
    if "arguments" in obj:
        args = obj["arguments"]
    else:
        args = obj.get("parameters")
    if args is None:
        args = {}
    if isinstance(args, str):
        try:
            args = json.loads(args) if args.strip() else {}
        except json.JSONDecodeError as e:
            raise ValueError(f"arguments of {name!r} are not valid JSON: {e}") from None
    if not isinstance(args, dict):
        raise ValueError(f"arguments of {name!r} are a {type(args).__name__}, not an object")
    return {"name": name, "arguments": args}


def normalize_calls(obj: Any) -> list[dict]:
    """Normalize a decoded prediction (or gold answer) to a list of calls.

    ``None`` and ``[]`` give ``[]``; ``{"tool_calls": [...]}`` is unwrapped; a single call object
    becomes a one-element list; a list is normalized element by element.

    Raises:
        ValueError: any element is not a call, or the object is neither a list nor an object.
    """
    if obj is None:
        return []
    if isinstance(obj, dict) and "tool_calls" in obj:
        obj = obj["tool_calls"]
        if obj is None:
            return []
    if isinstance(obj, dict):
        return [normalize_call(obj)]
    if isinstance(obj, (list, tuple)):
        out = []
        for i, c in enumerate(obj):
            try:
                out.append(normalize_call(c))
            except ValueError as e:
                raise ValueError(f"call {i}: {e}") from None
        return out
    raise ValueError(f"prediction is a {type(obj).__name__}, not a list of calls")


# --------------------------------------------------------------------------- Python-call style


def _dotted_name(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted_name(node.value)}.{node.attr}"
    raise ValueError(f"call target is not a name: {ast.dump(node)[:60]}")


def _ast_call(node: ast.AST) -> dict:
    if not isinstance(node, ast.Call):
        raise ValueError("not a function call")
    if node.args:
        raise ValueError("positional arguments cannot be mapped to parameter names")
    args = {}
    for kw in node.keywords:
        if kw.arg is None:
            raise ValueError("**kwargs are not supported")
        try:
            args[kw.arg] = ast.literal_eval(kw.value)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            raise ValueError(f"argument {kw.arg!r} is not a literal") from None
    return {"name": _dotted_name(node.func), "arguments": _jsonable(args)}


def _jsonable(v: Any) -> Any:
    """Tuples and sets from Python literals become lists, so calls stay plain JSON data."""
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple, set, frozenset)):
        return [_jsonable(x) for x in v]
    return v


def _parse_python_calls(text: str) -> tuple[list[dict], Any]:
    tree = ast.parse(text.strip(), mode="eval")
    body = tree.body
    nodes = body.elts if isinstance(body, (ast.List, ast.Tuple)) else [body]
    calls = [_ast_call(n) for n in nodes]
    return calls, calls


# --------------------------------------------------------------------------- text -> candidates

_FENCE = re.compile(r"```(.*?)(?:```|\Z)", re.S)
_LANG_TAG = re.compile(r"[ \t]*[A-Za-z_]+(?=\s)")  # "json" in ```json\n...; not f in ```f(a=1)```
_TOOL_TAG = re.compile(r"<tool_call>(.*?)(?:</tool_call>|\Z)", re.S)


def _candidates(text: str) -> list[str]:
    out = []
    tags = [m.strip() for m in _TOOL_TAG.findall(text)]
    if tags:
        out.append("[" + ",".join(tags) + "]")
    for body in _FENCE.findall(text):
        tag = _LANG_TAG.match(body)
        if tag:
            out.append(body[tag.end() :].strip())
        out.append(body.strip())
    out.append(text.strip())
    return out


def _decode(candidate: str) -> tuple[bool, Any, str | None]:
    """Decode one candidate: JSON, a Python literal (single quotes, tuples), Python calls, then the
    first JSON array / object inside prose.  Returns (decoded, object, error)."""
    try:
        return True, json.loads(candidate), None
    except (json.JSONDecodeError, RecursionError):
        pass
    error = None
    try:
        obj = ast.literal_eval(candidate)
        if isinstance(obj, (list, tuple, dict)):
            return True, _jsonable(obj), None
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        pass
    try:
        calls, raw = _parse_python_calls(candidate)
        return True, raw, None
    except ValueError as e:
        error = f"Python call: {e}"
    except (SyntaxError, RecursionError):
        pass
    decoder = json.JSONDecoder()
    for m in re.finditer(r"[\[{]", candidate):
        try:
            obj, _ = decoder.raw_decode(candidate, m.start())
        except (json.JSONDecodeError, RecursionError):
            continue
        # a bare `[]` inside prose or code (`return []`, an echo of the format instruction) is
        # not a refusal: only a non-empty list or object found in prose counts
        if isinstance(obj, (list, dict)) and obj:
            return True, obj, None
    return False, None, error


def parse_calls(text: str) -> ParseResult:
    """Parse a generation leniently into calls.

    Tried in order on (1) the bodies of ``<tool_call>`` tags joined as a list, (2) each ```` ``` ````
    / ```` ```json ```` fenced block, (3) the whole text: ``json.loads``; ``ast.literal_eval`` of
    a Python list / dict literal (single-quoted strings, tuples); the Python-call style
    (``[f(a=1), pkg.g(b="x")]`` or ``f(a=1)``: keyword arguments only, values read with
    ``ast.literal_eval``, dotted names kept); the first JSON array or object found inside prose.
    The decoded object is then normalized with :func:`normalize_calls`.

    Args:
        text: the generated text.

    Returns:
        A :class:`ParseResult`; ``calls`` is ``None`` and ``error`` set on a format error.  Never
        raises on bad input.
    """
    if not isinstance(text, str):
        return ParseResult(None, f"prediction is a {type(text).__name__}, not text", None)
    if not text.strip():
        return ParseResult(None, "empty output", None)
    first_error = None
    raw_seen: Any = _NO_RAW
    for cand in _candidates(text):
        if not cand:
            continue
        ok, raw, err = _decode(cand)
        if not ok:
            first_error = first_error or err
            continue
        if raw_seen is _NO_RAW:
            raw_seen = raw
        try:
            return ParseResult(normalize_calls(raw), None, raw)
        except ValueError as e:
            first_error = first_error or str(e)
    raw = None if raw_seen is _NO_RAW else raw_seen
    return ParseResult(None, first_error or "no JSON or Python call found", raw)


def hammer_parse(text: str) -> ParseResult:
    """Parse exactly as the Hammer authors' ``evaluation/evaluate.py`` does.

    Remove every "```json" and "```", ``json.loads`` the rest, replace the object by its
    ``tool_calls`` value when it has that key (``in`` test, so a bare number or ``null`` raises),
    and read a resulting ``None`` as ``[]``.  Any exception is a format error.  ``raw`` is the
    object after those steps; when it is not a list, Hammer's scorer counts one predicted call
    (docs/design.md, "Evaluation exactly as the Hammer authors score it").

    Returns:
        ``ParseResult(calls, error, raw)``: ``calls`` is ``raw`` when it is a list whose elements are
        all objects with a dict ``arguments`` (the calls exactly as written, not normalized: the
        authors read ``name`` / ``arguments`` only), otherwise ``None`` with ``error`` set.
    """
    if not isinstance(text, str):
        return ParseResult(None, f"prediction is a {type(text).__name__}, not text", None)
    try:
        s = text.replace("```json", "").replace("```", "")
        obj = json.loads(s)
        if "tool_calls" in obj:
            obj = obj["tool_calls"]
        if obj is None:
            obj = []
    except Exception as e:  # noqa: BLE001 - the reference treats any exception as a format error
        return ParseResult(None, f"{type(e).__name__}: {e}", None)
    if not isinstance(obj, list):
        return ParseResult(None, f"prediction is a {type(obj).__name__}, not a list", obj)
    for i, c in enumerate(obj):
        if not isinstance(c, dict) or not isinstance(c.get("arguments"), dict):
            return ParseResult(None, f"call {i} has no 'arguments' object", obj)
    return ParseResult(obj, None, obj)
