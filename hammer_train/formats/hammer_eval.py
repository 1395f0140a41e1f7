"""Reader for the evaluation sets as the Hammer authors released them (Seal-Tools, API-Bank...).

Layout (``shared/data/hammer_eval/*.json``): ``{"query", "tools", "answers"}``.

* ``query``: a string (Seal-Tools) or a chat history (API-Bank): a list of ``{"role", "content"}``
  with roles ``user`` / ``agent`` / ``assistant`` / ``tool``. Kept verbatim: Hammer's test prompts
  render ``agent`` as ``AI:`` and join an ``assistant`` call to the ``tool`` result after it
  (DESIGN.md, "Evaluation"), so the roles must survive.
* ``tools``: xLAM layout; Seal-Tools adds a tool-level ``required`` list (handled by the schema).
* ``answers``: ``{"tool", "parameters"}`` (Seal-Tools) or ``{"name", "arguments"}`` (API-Bank).

The released gold does not always agree with its own tool specs (Seal-Tools writes ``"85"`` for an
``int``; API-Bank calls ``CancelTimedSwitch`` with an undeclared ``device_id``). Hammer's F1
compares ``str(gold) == str(pred)``, so the gold must be kept as written, or published numbers stop
being comparable: by default rows are kept and the failed checks are counted in
``ReadResult.warnings``.
"""

from __future__ import annotations

from typing import Any, Iterable

from ..schema import DataError
from ._common import ReadResult, build_example, check_messages

__all__ = ["read_hammer_eval"]


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
                raise DataError("bad_field", f"a row must be an object, got {type(rec).__name__}", row=i, source=source)
            query = rec.get("query")
            if isinstance(query, list):
                try:
                    check_messages(query)
                except DataError as err:
                    raise err.located(row=i, source=source) from None
                query = [dict(m) for m in query]
            ex = build_example(query, rec.get("tools"), rec.get("answers"), source=source, row=i, validate=validate, result=result)
        except DataError as err:
            result.reject(err, strict)
            continue
        result.keep(ex, str(i))
    return result
