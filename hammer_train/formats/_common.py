"""Shared pieces of the readers: the :class:`ReadResult` report and example building (record loading:
:mod:`hammer_train.formats._files`).

Every reader turns source rows into :class:`~hammer_train.schema.Example` objects and accounts for
each *candidate* (one potential example: a row, or one call turn of a conversation): it is either
kept or dropped with a counted reason, never lost silently.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterator

from ..schema import DataError, Example, ToolCall, parse_json_field, validate_example


__all__ = [
    "ReadResult",
    "Turn",
    "build_example",
    "check_messages",
    "simplify_query",
    "call_message",
    "emit_conversation",
    "MAX_MESSAGES",
]

MAX_MESSAGES = 20
"""How many drop / warning messages a :class:`ReadResult` keeps for the report."""


@dataclass
class ReadResult:
    """What a reader produced, with the accounting for the data report.

    Attributes:
        examples: the examples kept, in source order.
        ids: one id per example (parallel to ``examples``): the source's own id where it has one
            (BFCL ``id``, xLAM ``id``), else ``"<row>"`` or ``"<row>:<turn>"``.
        rows_read: source records seen.
        candidates: potential examples seen (a record, or one call turn of a conversation);
            invariant: ``len(examples) + sum(dropped.values()) == candidates``.
        dropped: reason -> number of candidates dropped (``DataError.reason`` codes, plus policy
            skips such as ``"no_tools_no_call"``).
        warnings: reason -> number of examples *kept* although a check failed (readers called with
            ``validate=False``, e.g. evaluation sets whose gold must not be lost); one per example
            (the first failed check).
        errors: the first :data:`MAX_MESSAGES` messages of candidates dropped for a
            :class:`DataError` (each names source, row and field); policy skips add none.
        warning_messages: the first :data:`MAX_MESSAGES` warning messages.
    """

    examples: list[Example] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    rows_read: int = 0
    candidates: int = 0
    dropped: Counter = field(default_factory=Counter)
    warnings: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    warning_messages: list[str] = field(default_factory=list)

    def __iter__(self) -> Iterator[Example]:
        return iter(self.examples)

    def __len__(self) -> int:
        return len(self.examples)

    @property
    def n_dropped(self) -> int:
        return sum(self.dropped.values())

    def keep(self, ex: Example, id_: str) -> None:
        """Record one kept candidate."""
        self.candidates += 1
        self.examples.append(ex)
        self.ids.append(id_)

    def drop(self, reason: str, message: str | None = None) -> None:
        """Record one dropped candidate; ``message`` (an error's text) goes to ``errors``. Policy
        skips pass none, so that the messages kept are the ones worth reading."""
        self.candidates += 1
        self.dropped[reason] += 1
        if message is not None and len(self.errors) < MAX_MESSAGES:
            self.errors.append(message)

    def reject(self, err: DataError, strict: bool) -> None:
        """Raise ``err`` when ``strict``, else count it as a dropped candidate."""
        if strict:
            raise err
        self.drop(err.reason, str(err))

    def warn(self, err: DataError) -> None:
        """Record a failed check on an example that is kept anyway."""
        self.warnings[err.reason] += 1
        if len(self.warning_messages) < MAX_MESSAGES:
            self.warning_messages.append(str(err))

    def merge(self, other: "ReadResult") -> "ReadResult":
        """Append ``other`` to this result (in place) and return ``self``."""
        self.examples += other.examples
        self.ids += other.ids
        self.rows_read += other.rows_read
        self.candidates += other.candidates
        self.dropped.update(other.dropped)
        self.warnings.update(other.warnings)
        self.errors += other.errors[: max(0, MAX_MESSAGES - len(self.errors))]
        self.warning_messages += other.warning_messages[: max(0, MAX_MESSAGES - len(self.warning_messages))]
        return self

    def summary(self) -> str:
        """One line for logs: ``rows 300, candidates 358, kept 249, dropped 109 (no_tools_no_call: 109)``."""

        def fmt(c: Counter) -> str:
            return ", ".join(f"{k}: {v}" for k, v in c.most_common())

        s = f"rows {self.rows_read}, candidates {self.candidates}, kept {len(self.examples)}, dropped {self.n_dropped}"
        if self.dropped:
            s += f" ({fmt(self.dropped)})"
        if self.warnings:
            s += f"; kept despite failed checks {sum(self.warnings.values())} ({fmt(self.warnings)})"
        return s


# ------------------------------------------------------------------------------------ building


def check_messages(messages: Any, field_name: str = "query") -> None:
    """Check a chat history: a non-empty list of dicts with string ``role`` and ``content``.

    Raises:
        DataError: ``no_query`` for an empty list, ``bad_field`` naming ``query[i].role`` /
            ``query[i].content`` otherwise.
    """
    if not isinstance(messages, list) or not messages:
        raise DataError("no_query", "conversation is empty", field=field_name)
    for i, m in enumerate(messages):
        if not isinstance(m, dict):
            raise DataError(
                "bad_field", f"a message must be an object, got {type(m).__name__}", field=f"{field_name}[{i}]"
            )
        if not isinstance(m.get("role"), str) or not m["role"]:
            raise DataError(
                "bad_field",
                f"message role must be a non-empty string, got {m.get('role')!r}",
                field=f"{field_name}[{i}].role",
            )
        if not isinstance(m.get("content"), str):
            raise DataError(
                "bad_field",
                f"message content must be a string, got {type(m.get('content')).__name__}",
                field=f"{field_name}[{i}].content",
            )


def simplify_query(messages: list[dict[str, Any]]) -> str | list[dict[str, Any]]:
    """A history of exactly one user message becomes its plain string (a simple QUERY block in the
    Hammer prompt); anything longer stays a message list."""
    if len(messages) == 1 and messages[0].get("role") == "user" and set(messages[0]) <= {"role", "content"}:
        return messages[0]["content"]
    return messages


def build_example(
    query: Any,
    tools: Any,
    answers: Any,
    *,
    source: str,
    row: int | None,
    kind: str | None = None,
    validate: bool = True,
    result: ReadResult | None = None,
    answers_field: str = "",
) -> Example:
    """Build an :class:`Example` through :meth:`Example.from_raw`.

    With ``validate=False`` only the structure is enforced (query present, tools and answers parse);
    the checks of :func:`validate_example` (empty tool list, unknown function / argument, missing
    required argument, argument type) still run, but a failure is recorded in ``result.warnings``
    and the example is kept as the source wrote it. Use it for evaluation sets, whose gold answers
    must be scored as published even where they disagree with their own tool specs.

    ``answers_field`` replaces the leading ``answers`` in the field of an error about the answers
    (e.g. ``"conversations[3].value"``), so that a message names the source turn of a conversation.

    Raises:
        DataError: naming ``row`` and the field at fault.
    """

    def locate(err: DataError) -> DataError:
        if answers_field and err.field.startswith("answers"):
            return DataError(
                err.reason,
                err.message,
                row=err.row,
                field=answers_field + err.field[len("answers") :],
                source=err.source,
            )
        return err

    try:
        ex = Example.from_raw(query, tools, answers, source=source, row=row, kind=kind, validate=validate)
    except DataError as err:
        raise locate(err) from None
    if validate:
        return ex
    try:
        validate_example(ex)
    except DataError as err:
        if result is not None:
            result.warn(locate(err))
    return ex


# ------------------------------------------------------------------------------- conversations


@dataclass
class Turn:
    """One normalized message of a conversation (used by the sharegpt and openai readers).

    ``message`` is ``{"role", "content"}`` (an assistant call turn adds ``tool_calls``: a list of
    ``{"name", "arguments"}``); ``is_call`` marks a turn that makes calls and ``calls`` holds them;
    ``error`` is set instead of ``message`` / ``calls`` when the source turn could not be read (a
    broken call turn keeps ``is_call=True`` so that it is counted as a dropped candidate).
    """

    message: dict[str, Any] | None = None
    is_call: bool = False
    calls: list[ToolCall] | None = None
    error: DataError | None = None


def call_message(calls: list[ToolCall], content: str = "") -> dict[str, Any]:
    """The history message of an assistant turn that made ``calls``."""
    return {"role": "assistant", "content": content, "tool_calls": [c.to_dict() for c in calls]}


def _no_call_candidate(result: ReadResult, turns: list[Turn], tools: Any) -> list[tuple[int, int, list, str]]:
    """The ``no_call`` candidate of a conversation without calls (history up to and including its
    first user message), or none, counted as ``"no_tools_no_call"``, when no tool is offered.

    Raises:
        DataError: ``tools`` is not readable JSON (not yet located to the row).
    """
    if not parse_json_field(tools, "tools"):
        result.drop("no_tools_no_call")
        return []
    users = [i for i, t in enumerate(turns) if t.message is not None and t.message.get("role") == "user"]
    end = users[0] + 1 if users else len(turns)
    return [(end, end, [], "no_call")]


def emit_conversation(
    result: ReadResult,
    turns: list[Turn],
    tools: Any,
    *,
    source: str,
    row: int,
    strict: bool,
    validate: bool,
    turn_field: str,
    calls_field: str,
    offset: int = 0,
) -> None:
    """Turn one conversation into examples, accounting for every candidate in ``result``.

    Each call turn becomes one example: query = the messages before it (:func:`simplify_query`),
    answers = its calls, kind ``"call"``. A conversation without any call yields one
    ``kind="no_call"`` candidate (query = the messages up to and including the first user message,
    answers ``[]``) when tools are offered, and is dropped as ``"no_tools_no_call"`` (a policy skip:
    counted, never raised) when not. A candidate whose own turn or history holds an unreadable turn
    is dropped with that turn's error.

    Args:
        turns: the normalized conversation, including ``offset`` prepended messages (a row-level
            system prompt) that have no source turn.
        tools: the row's raw tools (list or JSON string).
        turn_field: field name of the source turns (``"conversations"``, ``"messages"``).
        calls_field: where a turn's calls sit, with ``{k}`` for the source index of the turn
            (``"conversations[{k}].value"``, ``"messages[{k}].tool_calls"``): an error about
            ``answers[j]`` names ``f"{calls_field}[j]"`` instead.

    Raises:
        DataError: when ``strict`` and a candidate is invalid.
    """
    if tools is None or (isinstance(tools, str) and not tools.strip()):
        tools = []
    call_idx = [i for i, t in enumerate(turns) if t.is_call]
    # (end of history, last turn checked, calls, kind)
    wanted = [(i, i + 1, turns[i].calls or [], None) for i in call_idx]
    if not call_idx:
        try:
            wanted = _no_call_candidate(result, turns, tools)
        except DataError as err:
            result.reject(err.located(row=row, source=source), strict)
            return
    for end, checked, calls, kind in wanted:
        where = f"{turn_field}[{end - offset}]"
        try:
            for t in turns[:checked]:
                if t.error is not None:
                    raise t.error.located(row=row, source=source)
            history = [t.message for t in turns[:end]]
            if not history:
                raise DataError("no_query", "no message before the call", row=row, field=where, source=source)
            ex = build_example(
                simplify_query(history),
                tools,
                [c.to_dict() for c in calls],
                source=source,
                row=row,
                kind=kind,
                validate=validate,
                result=result,
                answers_field=calls_field.format(k=end - offset),
            )
        except DataError as err:
            result.reject(err, strict)
            continue
        result.keep(ex, f"{row}:{end - offset}")
