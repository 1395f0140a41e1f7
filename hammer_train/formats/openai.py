"""Reader for OpenAI chat rows: ``{"messages": [...], "tools": [...]}``.

``messages`` use roles ``system`` / ``user`` / ``assistant`` / ``tool``; an assistant message may
carry ``tool_calls``: ``[{"type": "function", "function": {"name", "arguments": "<JSON string>"}}]``
(a decoded ``arguments`` object or a flat ``{"name", "arguments"}`` is accepted too). ``tools`` are
OpenAI tool specs (``{"type": "function", "function": {...}}``), as a list or its JSON string.
"""

from __future__ import annotations

from typing import Any, Iterable

from ..schema import DataError, ToolCall
from ._common import ReadResult, Turn, call_message, emit_conversation


__all__ = ["read_openai"]


def _content(value: Any, fld: str) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):  # content parts: keep the text ones
        texts = [p.get("text") for p in value if isinstance(p, dict) and p.get("type") == "text"]
        if all(isinstance(t, str) for t in texts):
            return "".join(texts)
    raise DataError(
        "bad_field", f"message content must be a string or text parts, got {type(value).__name__}", field=fld
    )


def _turn(i: int, msg: Any) -> Turn:
    fld = f"messages[{i}]"
    is_call = isinstance(msg, dict) and bool(msg.get("tool_calls"))
    try:
        if not isinstance(msg, dict):
            raise DataError("bad_field", f"a message must be an object, got {type(msg).__name__}", field=fld)
        role = msg.get("role")
        if not isinstance(role, str) or not role:
            raise DataError("bad_field", f"message role must be a non-empty string, got {role!r}", field=f"{fld}.role")
        content = _content(msg.get("content"), f"{fld}.content")
        if is_call:
            raw = msg["tool_calls"]
            if role != "assistant" or not isinstance(raw, list):
                raise DataError(
                    "bad_field", "tool_calls must be a list on an assistant message", field=f"{fld}.tool_calls"
                )
            calls = [ToolCall.from_dict(c, f"{fld}.tool_calls[{j}]") for j, c in enumerate(raw)]
            return Turn(message=call_message(calls, content), is_call=True, calls=calls)
        out = {"role": role, "content": content}
        if role == "tool" and isinstance(msg.get("name"), str):
            out["name"] = msg["name"]
        return Turn(message=out)
    except DataError as err:
        return Turn(is_call=is_call, error=err)


def read_openai(
    records: Iterable[dict[str, Any]],
    source: str = "openai",
    strict: bool = False,
    validate: bool = True,
) -> ReadResult:
    """Read OpenAI chat rows: one example per assistant message with ``tool_calls``.

    The same rules as :func:`~hammer_train.formats.sharegpt.read_sharegpt`: query = the messages
    before the call turn (a lone user message becomes a plain string; assistant call turns in the
    history become ``{"role": "assistant", "content", "tool_calls": [{"name", "arguments"}]}``
    with ``arguments`` decoded to a dict); a conversation with tools but no call gives one
    ``kind="no_call"`` example (messages up to the first user message); no tools and no call is
    dropped as ``"no_tools_no_call"``.

    Args:
        records: dicts with ``messages`` and ``tools``.
        source: name for ``Example.source`` and messages.
        strict: raise the first :class:`DataError` instead of dropping the candidate.
        validate: run the semantic checks (see :func:`~hammer_train.formats._common.build_example`).

    Returns:
        :class:`ReadResult`; ``ids`` are ``"<row>:<message index>"``.

    Raises:
        DataError: only when ``strict``; names the row and the field (``messages[2].tool_calls[0].arguments``...).
    """
    result = ReadResult()
    for i, rec in enumerate(records):
        result.rows_read += 1
        msgs = rec.get("messages") if isinstance(rec, dict) else None
        if not isinstance(msgs, list) or not msgs:
            result.reject(
                DataError("bad_field", "messages must be a non-empty list", row=i, field="messages", source=source),
                strict,
            )
            continue
        turns = [_turn(j, m) for j, m in enumerate(msgs)]
        emit_conversation(
            result,
            turns,
            rec.get("tools"),
            source=source,
            row=i,
            strict=strict,
            validate=validate,
            turn_field="messages",
            calls_field="messages[{k}].tool_calls",
        )
    return result
