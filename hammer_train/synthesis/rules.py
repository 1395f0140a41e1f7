"""The rule layer of ToolACE's dual-layer verification (arXiv 2409.00920, §2.3 and Appendix B,
Table 4), on one dialog in OpenAI form (``messages`` + ``tools``).

Every check has a named reason; :func:`check_dialog` returns all failures, and the first one is the
reason a dropped sample is counted under. Table 4's rows and the checks that implement them:

================================= ===================================================================
Table 4                           reason codes (where)
================================= ===================================================================
API definition clarity            ``api_missing_field``, ``api_invalid_schema``, ``bad_name``
                                  (:func:`hammer_train.synthesis.apispec.check_api`), ``empty_tools``
Function calling executability    ``unknown_function``, ``unknown_argument``,
                                  ``missing_required_argument``, ``argument_type``
                                  (:func:`hammer_train.validation.validate_example`, reused), and values
                                  against their constraints with :mod:`jsonschema`:
                                  ``argument_enum``, ``argument_range``, ``argument_pattern``,
                                  ``argument_schema`` (nested objects and arrays)
Dialog correctness                ``role_order``, ``no_final_answer`` (when a final answer is
                                  required), ``tool_response_orphan``, ``tool_response_missing``
Data sample consistency           ``tool_name_mismatch`` (a tool response names another API than the
                                  call it answers)
Response text                     ``empty_turn``, ``overlong_turn``, ``invalid_characters``,
                                  ``truncated_turn``, ``mixed_language``
                                  (:mod:`hammer_train.synthesis.text_checks`)
Structure                         ``bad_field``, ``broken_json``, ``bad_name`` (a message or call that
                                  cannot be read at all)
================================= ===================================================================
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Any

from ..schema import DataError, Example, Tool, ToolCall, parse_json_field, validate_example
from .apispec import check_api, schema_problem, to_json_schema
from .text_checks import check_text


__all__ = ["RuleConfig", "Turn", "normalize_messages", "check_dialog", "value_error"]

_REASON_OF_KEYWORD = {
    "enum": "argument_enum",
    "const": "argument_enum",
    "minimum": "argument_range",
    "maximum": "argument_range",
    "exclusiveMinimum": "argument_range",
    "exclusiveMaximum": "argument_range",
    "multipleOf": "argument_range",
    "minLength": "argument_range",
    "maxLength": "argument_range",
    "minItems": "argument_range",
    "maxItems": "argument_range",
    "pattern": "argument_pattern",
    "format": "argument_pattern",
    "type": "argument_type",
}


@dataclass
class RuleConfig:
    """Settings of the rule layer.

    Attributes:
        max_turn_chars: the longest assistant or tool turn, in characters.
        strict_api: API definitions must use JSON Schema's own types (specs a generator wrote);
            off for existing data, whose xLAM / BFCL aliases (``str``, ``dict``...) are mapped.
        require_final_answer: the dialog must end in an assistant text turn (synthesized dialogs);
            off for training rows that end at the call to predict.
    """

    max_turn_chars: int = 8000
    strict_api: bool = False
    require_final_answer: bool = False


@dataclass
class Turn:
    """One message, read: ``calls`` for an assistant turn with tool calls (``call_ids`` beside
    them, ``None`` where the source gave none), ``name`` / ``tool_call_id`` for a tool turn."""

    role: str
    content: str
    calls: list[ToolCall] | None = None
    call_ids: list[str | None] | None = None
    name: str | None = None
    tool_call_id: str | None = None


def _content(value: Any, fld: str) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(p, dict) and isinstance(p.get("text"), str) for p in value):
        return "".join(p["text"] for p in value)
    raise DataError("bad_field", f"content must be a string, got {type(value).__name__}", field=fld)


def _read_turn(i: int, msg: Any) -> Turn:
    fld = f"messages[{i}]"
    if not isinstance(msg, dict):
        raise DataError("bad_field", f"a message must be an object, got {type(msg).__name__}", field=fld)
    role = msg.get("role")
    if not isinstance(role, str) or not role:
        raise DataError("bad_field", f"message role must be a non-empty string, got {role!r}", field=f"{fld}.role")
    turn = Turn(role=role, content=_content(msg.get("content"), f"{fld}.content"))
    raw_calls = msg.get("tool_calls")
    if raw_calls:
        if role != "assistant" or not isinstance(raw_calls, list):
            raise DataError("bad_field", "tool_calls must be a list on an assistant turn", field=f"{fld}.tool_calls")
        turn.calls = [ToolCall.from_dict(c, f"{fld}.tool_calls[{j}]") for j, c in enumerate(raw_calls)]
        turn.call_ids = [c.get("id") if isinstance(c, dict) else None for c in raw_calls]
    if role == "tool":
        turn.name = msg.get("name") if isinstance(msg.get("name"), str) else None
        turn.tool_call_id = msg.get("tool_call_id") if isinstance(msg.get("tool_call_id"), str) else None
    return turn


def normalize_messages(messages: Any) -> list[Turn]:
    """Read OpenAI messages (tool calls as ``{"function": {"name", "arguments": "<JSON>"}}`` or a
    flat ``{"name", "arguments"}``) into :class:`Turn` objects, one per message.

    Raises:
        DataError: ``bad_field`` (not a list, a message or role that cannot be read, tool calls off
            an assistant turn), ``broken_json`` (call arguments), ``bad_name`` (a call without a
            name), naming ``messages[i]...``.
    """
    if not isinstance(messages, list) or not messages:
        raise DataError("bad_field", "messages must be a non-empty list", field="messages")
    return [_read_turn(i, m) for i, m in enumerate(messages)]


def _api_view(spec: dict[str, Any], tool: Tool, strict: bool, fld: str) -> dict[str, Any]:
    """What :func:`check_api` sees of one tool spec: the function dict as written when it is in the
    JSON-schema layout (or when strict: a generator's spec must be JSON Schema as it stands); an
    xLAM-layout spec (lenient only) rewritten in that layout by :class:`Tool`, after its own
    ``required`` list is checked against its parameters (the rewrite would drop unknown names)."""
    fn = spec["function"] if isinstance(spec.get("function"), dict) else spec
    if strict or tool.layout == "openai":
        return fn
    required = fn.get("required") or []
    unknown = [r for r in required if tool.parameter(r) is None] if isinstance(required, list) else required
    if unknown:
        raise DataError(
            "api_invalid_schema", f"required names undefined parameters {unknown!r}", field=f"{fld}.required"
        )
    return tool.to_openai()["function"]


def _check_tools(tools: Any, strict: bool) -> tuple[list[Tool], list[DataError]]:
    raw = parse_json_field(tools, "tools") if tools is not None else []
    if not isinstance(raw, list):
        raise DataError("bad_field", f"tools must be a list, got {type(raw).__name__}", field="tools")
    parsed, errors = [], []
    for i, spec in enumerate(raw):
        tool = Tool.from_dict(spec, f"tools[{i}]")
        parsed.append(tool)
        try:
            check_api(_api_view(spec, tool, strict, f"tools[{i}]"), f"tools[{i}]", strict=strict)
        except DataError as err:
            errors.append(err)
    if not parsed:
        errors.append(DataError("empty_tools", "the tool list is empty", field="tools"))
    return parsed, errors


_NEXT_ROLES = {
    None: {"system", "user"},
    "system": {"system", "user"},
    "user": {"user", "assistant"},
    "assistant": {"user"},
    "assistant_call": {"tool"},
    "tool": {"tool", "assistant"},
}


def _check_roles(turns: list[Turn], require_final: bool) -> list[DataError]:
    errors = []
    prev: str | None = None
    for i, t in enumerate(turns):
        if prev in _NEXT_ROLES and t.role not in _NEXT_ROLES[prev]:
            what = "the start" if prev is None else f"a {prev.replace('_call', ' call')} turn"
            errors.append(DataError("role_order", f"a {t.role} turn follows {what}", field=f"messages[{i}].role"))
            break
        prev = "assistant_call" if t.calls else t.role
    if not any(t.role == "user" for t in turns):
        errors.append(DataError("role_order", "the dialog has no user turn", field="messages"))
    if require_final and (turns[-1].role != "assistant" or turns[-1].calls):
        errors.append(DataError("no_final_answer", "the dialog does not end in an assistant answer", field="messages"))
    return errors


def _check_tool_responses(turns: list[Turn]) -> list[DataError]:
    """Each tool turn answers a call of the assistant turn before it (by ``tool_call_id`` when given,
    else in order) and names the same API; a call turn followed by anything else than all its
    responses (it may end the dialog: a training row's target) misses some."""
    errors: list[DataError] = []
    pending: list[tuple[str, str | None]] = []
    answered = 0
    for i, t in enumerate(turns):
        if t.role == "tool":
            if not pending:
                errors.append(
                    DataError("tool_response_orphan", "a tool response with no call", field=f"messages[{i}]")
                )
                continue
            at = next((k for k, (_, cid) in enumerate(pending) if t.tool_call_id and cid == t.tool_call_id), None)
            if at is None and t.tool_call_id and any(cid for _, cid in pending):
                errors.append(
                    DataError(
                        "tool_response_orphan",
                        f"no call has id {t.tool_call_id!r}",
                        field=f"messages[{i}].tool_call_id",
                    )
                )
                continue
            name, _ = pending.pop(at or 0)
            answered += 1
            if t.name is not None and t.name != name:
                errors.append(
                    DataError(
                        "tool_name_mismatch",
                        f"the response names {t.name!r}, the call {name!r}",
                        field=f"messages[{i}].name",
                    )
                )
            continue
        if pending:
            errors.append(
                DataError(
                    "tool_response_missing", f"{len(pending)} call(s) got no tool response", field=f"messages[{i}]"
                )
            )
        pending, answered = [], 0
        if t.calls:
            pending = [(c.name, cid) for c, cid in zip(t.calls, t.call_ids or [None] * len(t.calls))]
    if pending and answered:
        errors.append(
            DataError("tool_response_missing", f"{len(pending)} call(s) got no tool response", field="messages")
        )
    return errors


@functools.lru_cache(maxsize=8192)
def _validator(schema_json: str):
    from jsonschema.validators import Draft7Validator, validator_for

    schema = json.loads(schema_json)
    if schema_problem(schema_json) is not None:
        return None
    return validator_for(schema, default=Draft7Validator)(schema)


def value_error(value: Any, schema: dict[str, Any]) -> tuple[str, str] | None:
    """``(reason, message)`` when ``value`` breaks a constraint of its parameter ``schema``
    (checked with :mod:`jsonschema` after :func:`to_json_schema`), else ``None``. ``None`` values
    are not checked (an explicit null for an optional argument); a schema that is itself invalid is
    the API check's business and passes here."""
    from jsonschema.exceptions import best_match

    if value is None:
        return None
    schema = {k: v for k, v in to_json_schema(schema).items() if k not in ("description", "default", "required")}
    validator = _validator(json.dumps(schema, sort_keys=True, ensure_ascii=False))
    err = best_match(validator.iter_errors(value)) if validator is not None else None
    if err is None:
        return None
    path = "".join(f"[{p!r}]" for p in err.absolute_path)
    return _REASON_OF_KEYWORD.get(str(err.validator), "argument_schema"), f"value{path}: {err.message}"


def _check_calls(turns: list[Turn], tools: list[Tool]) -> list[DataError]:
    errors: list[DataError] = []
    for i, t in enumerate(turns):
        if not t.calls:
            continue
        prefix = f"messages[{i}].tool_calls"
        try:
            validate_example(Example(query="-", tools=tools, answers=t.calls))
        except DataError as err:
            errors.append(DataError(err.reason, err.message, field=prefix + err.field[len("answers") :]))
            continue
        by_name = {tool.name: tool for tool in tools}
        for j, call in enumerate(t.calls):
            for arg, value in call.arguments.items():
                param = by_name[call.name].parameter(arg)
                bad = value_error(value, param.spec("openai")) if param is not None else None
                if bad:
                    errors.append(DataError(bad[0], bad[1], field=f"{prefix}[{j}].arguments.{arg}"))
    return errors


def check_dialog(messages: Any, tools: Any, config: RuleConfig | None = None) -> list[DataError]:
    """Run every rule check on one dialog (see the module docstring for the checks and reasons).

    Args:
        messages: OpenAI messages (roles ``system`` / ``user`` / ``assistant`` / ``tool``).
        tools: the offered tools in either layout (a list or its JSON string).
        config: :class:`RuleConfig`; defaults suit existing data (lenient types, no final answer
            required).

    Returns:
        Every failure found, as :class:`DataError` objects naming the field (``tools[1].parameters``,
        ``messages[3].tool_calls[0].arguments.unit``...); empty when the dialog passes. A message
        or tool that cannot be read at all stops the checks with that one failure.
    """
    config = config or RuleConfig()
    try:
        turns = normalize_messages(messages)
        parsed_tools, errors = _check_tools(tools, config.strict_api)
    except DataError as err:
        return [err]
    errors += _check_tool_responses(turns)
    errors += _check_roles(turns, config.require_final_answer)
    if parsed_tools:
        errors += _check_calls(turns, parsed_tools)
    texts = [{"role": t.role, "content": t.content, "has_calls": bool(t.calls)} for t in turns]
    errors += check_text(texts, config.max_turn_chars)
    return errors
