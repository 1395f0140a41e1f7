"""Reader for the xLAM layout: Hammer's training data.

Rows are ``{"query": str, "tools": <JSON string or list>, "answers": <JSON string or list>}``
(plus an optional ``id``), as in ``Salesforce/xlam-function-calling-60k`` and Hammer's irrelevance
set ``MadeAgents/XLAM-7.5k-Irrelevance`` (same layout, ``answers`` ``[]``: a query whose needed
function was removed from ``tools``; docs/design.md, "What Hammer does").
"""

from __future__ import annotations

from typing import Any, Iterable

from ..schema import DataError
from ._common import ReadResult, build_example


__all__ = ["read_xlam"]


def read_xlam(
    records: Iterable[dict[str, Any]],
    source: str = "xlam",
    strict: bool = False,
    kind: str | None = None,
    validate: bool = True,
) -> ReadResult:
    """Read xLAM rows into validated examples, one per row.

    Args:
        records: dicts with ``query``, ``tools`` and ``answers`` (the last two JSON strings or
            decoded lists); an optional ``id`` becomes the example's id in ``ReadResult.ids``.
        source: name written into ``Example.source`` and error messages.
        strict: raise the first :class:`DataError` instead of dropping the row.
        kind: force ``Example.kind`` for every row. ``None`` infers it: ``"call"`` when the row
            has answers, else ``"irrelevance"`` (in this layout an empty answer list is Hammer's
            irrelevance label).
        validate: run the semantic checks (see :func:`~hammer_train.formats._common.build_example`).

    Returns:
        :class:`ReadResult`; ``candidates == rows_read``.

    Raises:
        DataError: only when ``strict``; names the row and the field (e.g. ``answers[0].name``).
            A row forced to ``kind="irrelevance"`` that has answers fails with ``bad_field``.
    """
    result = ReadResult()
    for i, rec in enumerate(records):
        result.rows_read += 1
        try:
            if not isinstance(rec, dict):
                raise DataError(
                    "bad_field", f"a row must be an object, got {type(rec).__name__}", row=i, source=source
                )
            ex = build_example(
                rec.get("query"),
                rec.get("tools"),
                rec.get("answers"),
                source=source,
                row=i,
                kind=kind,
                validate=validate,
                result=result,
            )
            if kind is None and not ex.answers:
                ex.kind = "irrelevance"
            if ex.kind == "irrelevance" and ex.answers:
                raise DataError(
                    "bad_field", "an irrelevance row must have no answers", row=i, field="answers", source=source
                )
        except DataError as err:
            result.reject(err, strict)
            continue
        rid = rec.get("id")
        result.keep(ex, str(rid) if rid is not None else str(i))
    return result
