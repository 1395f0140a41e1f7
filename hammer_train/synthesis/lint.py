"""``--verify_only``: the rule layer as a linter for existing data, in any of our readers' formats.

* Conversation formats are checked row by row as whole dialogs, final answers included:
  ``openai`` rows (our own output, a user's chat rows) as they are, ``sharegpt`` rows (Glaive)
  after the ShareGPT reader's own turn conversion (human -> user, gpt -> assistant, function_call
  -> assistant with tool calls, observation -> tool). A row without tools and without calls is
  plain chat: counted as ``no_tools_no_call`` in stage ``read``, as the reader does.
* Every other format (``bfcl`` for BFCL v4, ``hammer_eval`` for Seal-Tools, ``xlam``) is read by
  its reader with ``validate=False`` (a row the reader cannot read at all is counted under the
  reader's reason, stage ``read``); each example it makes (a query with its gold calls) becomes a
  dialog, the query plus one assistant turn with the gold calls, and goes through the same checks.
"""

from __future__ import annotations

from typing import Any

from ..schema import DataError, Example, parse_json_field
from .report import StageReport, SynthesisReport
from .rules import RuleConfig, check_dialog


__all__ = ["example_dialog", "lint_rows", "lint_source"]


def example_dialog(ex: Example) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``(messages, tools)`` of an :class:`~hammer_train.schema.Example`: the query (a user turn,
    or the history as it is), then one assistant turn carrying the gold calls when there are any;
    tools in the OpenAI layout with their types as the source wrote them."""
    if isinstance(ex.query, str):
        messages: list[dict[str, Any]] = [{"role": "user", "content": ex.query}]
    else:
        messages = [dict(m) for m in ex.query]
    if ex.answers:
        messages.append({"role": "assistant", "content": "", "tool_calls": [c.to_dict() for c in ex.answers]})
    return messages, [t.to_openai() for t in ex.tools]


def sharegpt_dialog(rec: Any) -> tuple[list[dict[str, Any]], Any]:
    """``(messages, tools)`` of one ShareGPT row, turns converted by the ShareGPT reader's own turn
    reader (:mod:`hammer_train.formats.sharegpt`), a row-level ``system`` prompt first.

    Raises:
        DataError: a row or turn the reader cannot read (``bad_field``, ``broken_json``...).
    """
    from ..formats.sharegpt import _turn

    conv = rec.get("conversations") if isinstance(rec, dict) else None
    if not isinstance(conv, list) or not conv:
        raise DataError("bad_field", "conversations must be a non-empty list", field="conversations")
    messages = []
    if isinstance(rec.get("system"), str) and rec["system"].strip():
        messages.append({"role": "system", "content": rec["system"]})
    for j, t in enumerate(conv):
        turn = _turn(j, t)
        if turn.error is not None:
            raise turn.error
        messages.append(turn.message)
    return messages, rec.get("tools")


def _is_plain_chat(messages: list[dict[str, Any]], tools: Any) -> bool:
    try:
        offered = parse_json_field(tools, "tools") if tools is not None else []
    except DataError:
        return False
    return not offered and not any(m.get("tool_calls") for m in messages if isinstance(m, dict))


def _check_one(stage: StageReport, sample_id: str, messages: Any, tools: Any, config: RuleConfig) -> bool:
    """Check one dialog; count it kept, or dropped under its first failure; True when it passed."""
    errors = check_dialog(messages, tools, config)
    for reason in {e.reason for e in errors}:
        stage.failed_checks[reason] += 1
    if not errors:
        stage.keep()
        return True
    first = errors[0]
    stage.drop(first.reason, f"{sample_id}: {first}", {"messages": messages, "tools": tools}, sample_id)
    return False


def lint_rows(
    rows: list[dict[str, Any]], report: SynthesisReport, config: RuleConfig | None = None, source: str = "rows"
) -> list[dict[str, Any]]:
    """Check OpenAI rows (``{"messages", "tools", ...}``) as whole dialogs; return the passing ones.

    Counts go to ``report.stage("rules")``; a row that is not an object is dropped as ``bad_field``.
    """
    config = config or RuleConfig()
    stage = report.stage("rules")
    kept = []
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            stage.drop("bad_field", f"{source} row {i}: a row must be an object", None, f"{source}:{i}")
            continue
        if _check_one(stage, f"{source} row {i}", row.get("messages"), row.get("tools"), config):
            kept.append(row)
    return kept


def _lint_conversations(
    data_format: str, records: list[Any], report: SynthesisReport, config: RuleConfig, source: str
) -> None:
    read, rules = report.stage("read"), report.stage("rules")
    for i, rec in enumerate(records):
        try:
            if data_format == "sharegpt":
                messages, tools = sharegpt_dialog(rec)
            else:
                messages, tools = rec.get("messages"), rec.get("tools")
        except (DataError, AttributeError) as err:
            reason = err.reason if isinstance(err, DataError) else "bad_field"
            read.drop(reason, f"{source} row {i}: {err}", None, f"{source}:{i}")
            continue
        if isinstance(messages, list) and _is_plain_chat(messages, tools):
            read.drop("no_tools_no_call", "", None, f"{source}:{i}")
            continue
        read.keep()
        _check_one(rules, f"{source} row {i}", messages, tools, config)


def lint_source(
    data_format: str, path: str, config: RuleConfig | None = None, report: SynthesisReport | None = None
) -> SynthesisReport:
    """Run the rule layer over an existing dataset (see the module docstring).

    Args:
        data_format: a reader name of :data:`hammer_train.formats.READERS`.
        path: the file, hub id, or for ``bfcl`` the category list (``"live_simple,live_multiple"``).
        config: :class:`RuleConfig`; the default is lenient about type aliases and needs no final
            answer.
        report: a report to add to; a new one by default.

    Returns:
        The report: stage ``read`` (reader drops, ``openai`` aside), stage ``rules`` (rule drops by
        first failed check, ``failed_checks`` by every check).

    Raises:
        KeyError: unknown format; FileNotFoundError / ValueError: the reader's errors.
    """
    from ..formats import load_records, read_source

    config = config or RuleConfig()
    report = report or SynthesisReport()
    report.settings.update({"verify_only": True, "data_format": data_format, "data_path": str(path)})
    if data_format in ("openai", "sharegpt"):
        _lint_conversations(data_format, list(load_records(path)), report, config, str(path))
        return report
    result = read_source(data_format, path, validate=False)
    read = report.stage("read")
    read.keep(len(result.examples))
    for reason, n in result.dropped.items():
        read.seen += n
        read.dropped[reason] += n
    for msg in result.errors:
        if len(read.rejected) < 5:
            read.rejected.append({"id": None, "reason": msg.rsplit("[", 1)[-1].rstrip("]"), "message": msg})
    rules = report.stage("rules")
    for ex, ex_id in zip(result.examples, result.ids):
        messages, tools = example_dialog(ex)
        _check_one(rules, f"{ex.source} {ex_id}", messages, tools, config)
    return report
