"""The error every reader, the masking and the synthesis checks raise for a row that cannot be used.

:class:`DataError` names the row, the field and a short ``reason`` code; readers in lenient mode
count the codes in the data report instead of raising (:mod:`hammer_train.formats`).
"""

from __future__ import annotations

import json
from typing import Any


__all__ = ["DataError", "parse_json_field"]


class DataError(ValueError):
    """A row that cannot be used.

    Attributes:
        reason: short stable code counted in the data report (``"broken_json"``,
            ``"unknown_function"``, ``"unknown_argument"``, ``"missing_required_argument"``,
            ``"argument_type"``, ``"empty_tools"``, ``"bad_name"``, ``"duplicate_tool"``,
            ``"bad_field"``, ``"no_query"``; ``"history_call_not_parsed"`` only as a warning).
        row: index of the row in its source (``None`` when unknown).
        field: the field at fault, e.g. ``"answers[0].arguments.city"``.
        source: name of the source the row came from.
    """

    def __init__(self, reason: str, message: str, *, row: int | None = None, field: str = "", source: str = ""):
        self.reason = reason
        self.row = row
        self.field = field
        self.source = source
        self.message = message
        super().__init__(self._format())

    def _format(self) -> str:
        where = []
        if self.source:
            where.append(self.source)
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.field:
            where.append(f"field {self.field!r}")
        prefix = ", ".join(where)
        return f"{prefix}: {self.message} [{self.reason}]" if prefix else f"{self.message} [{self.reason}]"

    def located(self, *, row: int | None = None, source: str | None = None, field_prefix: str = "") -> "DataError":
        """Return a copy of this error with row / source filled in and ``field_prefix`` prepended."""
        fld = f"{field_prefix}{self.field}" if field_prefix else self.field
        return DataError(
            self.reason,
            self.message,
            row=self.row if row is None else row,
            field=fld,
            source=self.source if source is None else source,
        )


def parse_json_field(value: Any, field_name: str) -> Any:
    """Decode ``value`` if it is a JSON string, else return it unchanged.

    Raises:
        DataError: reason ``broken_json`` when ``value`` is a string that is not valid JSON.
    """
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise DataError("broken_json", f"not valid JSON ({exc.msg} at char {exc.pos})", field=field_name) from None
    return value
