"""Reader for the evaluation sets as the Hammer authors released them (Seal-Tools, API-Bank...).

Layout (``shared/data/hammer_eval/*.json``): ``{"query", "tools", "answers"}``.

* ``query``: a string (Seal-Tools) or a chat history (API-Bank): a list of ``{"role", "content"}``
  with roles ``user`` / ``agent`` / ``assistant`` / ``tool``. The roles are kept: Hammer's test
  prompts render ``agent`` as ``AI:`` and join an ``assistant`` call to the ``tool`` result after
  it (docs/design.md, "Multi-turn queries"). API-Bank stores an earlier call as the *text* of an
  ``assistant`` message (```` ```[{"name": ..., "arguments": {...}}]``` ````); the reader turns it
  into that message's ``tool_calls`` (content emptied), so that the prompt renders it as
  ``API-Request: [f(a=1)]->result`` and masking renames the function and parameters in it too.
  A row with an ``assistant`` text that is not a call list keeps it as text and is counted in
  ``ReadResult.warnings`` as ``history_call_not_parsed`` (the message names row and field).
* ``tools``: xLAM layout; Seal-Tools adds a tool-level ``required`` list (handled by the schema).
* ``answers``: ``{"tool", "parameters"}`` (Seal-Tools) or ``{"name", "arguments"}`` (API-Bank).

The released gold does not always agree with its own tool specs (Seal-Tools writes ``"85"`` for an
``int``; API-Bank calls ``CancelTimedSwitch`` with an undeclared ``device_id``). Hammer's F1
compares ``str(gold) == str(pred)``, so the gold must be kept as written, or published numbers stop
being comparable: by default rows are kept and the failed checks are counted in
``ReadResult.warnings``.
"""

from __future__ import annotations

import re
from typing import Any, Iterable

from ..schema import DataError, ToolCall, parse_json_field
from ._common import ReadResult, build_example, call_message, check_messages


__all__ = ["read_hammer_eval"]

_FENCED = re.compile(r"\A```(?:json)?\s*(.*?)\s*```\Z", re.S)


def _history_call(message: dict[str, Any], field_name: str) -> dict[str, Any]:
    """API-Bank's call turn ``{"role": "assistant", "content": "```[{...}]```"}`` as a
    ``tool_calls`` message (content emptied).

    Raises:
        DataError: ``history_call_not_parsed``, naming ``field_name``, when the content is not a
            (fenced) JSON call list.
    """
    text = message["content"].strip()
    m = _FENCED.match(text)
    try:
        raw = parse_json_field(m.group(1) if m else text, field_name)
        raw = [raw] if isinstance(raw, dict) else raw
        if not isinstance(raw, list) or not raw:
            raise DataError("bad_field", "not a list of calls", field=field_name)
        calls = [ToolCall.from_dict(c, f"{field_name}[{j}]") for j, c in enumerate(raw)]
    except DataError as err:
        raise DataError(
            "history_call_not_parsed", f"assistant turn kept as text: {err.message}", field=err.field
        ) from None
    return call_message(calls)


def read_hammer_eval(
    records: Iterable[dict[str, Any]],
    source: str = "hammer_eval",
    strict: bool = False,
    validate: bool = False,
) -> ReadResult:
    """Read Hammer evaluation rows, one example per row.

    Args:
        records: dicts with ``query`` (string or list of ``{"role", "content"}``), ``tools`` and
            ``answers`` (lists or JSON strings).
        source: name for ``Example.source`` and messages (e.g. ``"sealtool"``).
        strict: raise the first :class:`DataError` instead of dropping the row.
        validate: ``False`` (default) keeps rows whose gold fails a semantic check (unknown
            argument, missing required argument, argument type) and counts them in
            ``warnings``; ``True`` drops them like a training reader would.

    Returns:
        :class:`ReadResult`; ``candidates == rows_read``; ``kind`` is ``"call"`` (or
        ``"no_call"`` for a row with empty answers).

    Raises:
        DataError: only when ``strict``; names the row and the field.
    """
    result = ReadResult()
    for i, rec in enumerate(records):
        result.rows_read += 1
        try:
            if not isinstance(rec, dict):
                raise DataError(
                    "bad_field", f"a row must be an object, got {type(rec).__name__}", row=i, source=source
                )
            query = rec.get("query")
            if isinstance(query, list):
                try:
                    check_messages(query)
                except DataError as err:
                    raise err.located(row=i, source=source) from None
                messages, unparsed = [], None
                for k, m in enumerate(query):
                    if m["role"] == "assistant" and not m.get("tool_calls"):
                        try:
                            m = _history_call(m, f"query[{k}].content")
                        except DataError as err:
                            unparsed = unparsed or err
                    messages.append(dict(m))
                query = messages
                if unparsed:
                    result.warn(unparsed.located(row=i, source=source))
            ex = build_example(
                query, rec.get("tools"), rec.get("answers"), source=source, row=i, validate=validate, result=result
            )
        except DataError as err:
            result.reject(err, strict)
            continue
        result.keep(ex, str(i))
    return result
