"""Reader for LLaMA-Factory's ShareGPT tool-calling layout (Glaive function-calling v2 and the like).

Row::

    {"conversations": [{"from": "human" | "gpt" | "function_call" | "observation" | "system",
                        "value": str}, ...],
     "system": str (optional), "tools": "<JSON list of tool specs>"}

A ``function_call`` value is the JSON of one call ``{"name", "arguments"}`` or of a list of them
(parallel calls). Roles map to chat roles: human -> user, gpt -> assistant, function_call ->
assistant with ``tool_calls``, observation -> tool, system -> system.
"""

from __future__ import annotations

from typing import Any, Iterable

from ..schema import DataError, ToolCall, parse_json_field
from ._common import ReadResult, Turn, call_message, emit_conversation


__all__ = ["read_sharegpt"]

_ROLES = {
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "observation": "tool",
    "tool": "tool",
    "system": "system",
}
_CALL_ROLES = ("function_call", "tool_call")


def _turn(i: int, turn: Any) -> Turn:
    fld = f"conversations[{i}]"
    try:
        if not isinstance(turn, dict):
            raise DataError("bad_field", f"a turn must be an object, got {type(turn).__name__}", field=fld)
        role, value = turn.get("from"), turn.get("value")
        if not isinstance(value, str):
            raise DataError(
                "bad_field", f"turn value must be a string, got {type(value).__name__}", field=f"{fld}.value"
            )
        if role in _CALL_ROLES:
            raw = parse_json_field(value, f"{fld}.value")
            raw = [raw] if isinstance(raw, dict) else raw
            if not isinstance(raw, list) or not raw:
                raise DataError(
                    "bad_field",
                    "a function_call turn must hold a call or a non-empty list of calls",
                    field=f"{fld}.value",
                )
            calls = [ToolCall.from_dict(c, f"{fld}.value[{j}]") for j, c in enumerate(raw)]
            return Turn(message=call_message(calls), is_call=True, calls=calls)
        if role not in _ROLES:
            raise DataError("bad_field", f"unknown turn role {role!r}", field=f"{fld}.from")
        return Turn(message={"role": _ROLES[role], "content": value})
    except DataError as err:
        return Turn(is_call=isinstance(turn, dict) and turn.get("from") in _CALL_ROLES, error=err)


def read_sharegpt(
    records: Iterable[dict[str, Any]],
    source: str = "glaive",
    strict: bool = False,
    validate: bool = True,
) -> ReadResult:
    """Read ShareGPT conversations: one example per ``function_call`` turn.

    Each call turn gives ``Example(query=<messages before it>, answers=<its calls>, kind="call")``;
    a query of a single user message is its plain string, longer histories are lists of
    ``{"role", "content"}`` (assistant call turns carry ``tool_calls: [{"name", "arguments"}]``). A
    conversation that offers tools but never calls one gives ONE ``kind="no_call"`` example (the
    first human turn, answers ``[]``): the model must learn to answer without a call. The gpt reply
    that follows has no place in :class:`Example` and is not kept. A conversation with neither tools
    nor calls is plain chat: dropped and counted as ``"no_tools_no_call"`` (also when ``strict``).

    Args:
        records: ShareGPT rows (see module docstring).
        source: name for ``Example.source`` and messages.
        strict: raise the first :class:`DataError` instead of dropping the candidate.
        validate: run the semantic checks (see :func:`~hammer_train.formats._common.build_example`).

    Returns:
        :class:`ReadResult`; ``rows_read`` counts conversations, ``candidates`` call turns plus one
        per call-less conversation; ``Example.row`` is the conversation index and ``ids`` are
        ``"<row>:<turn index>"``.

    Raises:
        DataError: only when ``strict``; names the row and the field (``conversations[3].value``,
            ``tools``, ``conversations[3].value[0].name``...).
    """
    result = ReadResult()
    for i, rec in enumerate(records):
        result.rows_read += 1
        conv = rec.get("conversations") if isinstance(rec, dict) else None
        if not isinstance(conv, list) or not conv:
            result.reject(
                DataError(
                    "bad_field", "conversations must be a non-empty list", row=i, field="conversations", source=source
                ),
                strict,
            )
            continue
        turns = [_turn(j, t) for j, t in enumerate(conv)]
        offset = 0
        system = rec.get("system")
        if isinstance(system, str) and system.strip():
            turns.insert(0, Turn(message={"role": "system", "content": system}))
            offset = 1
        emit_conversation(
            result,
            turns,
            rec.get("tools"),
            source=source,
            row=i,
            strict=strict,
            validate=validate,
            turn_field="conversations",
            calls_field="conversations[{k}].value",
            offset=offset,
        )
    return result
