"""ToolACE's rule-based checks of one row: the called functions exist, their argument names exist,
required arguments are present, and values fit the declared types where those are checkable.

Source: the rule layer of ToolACE's dual-layer verification (arXiv 2409.00920, §2.3 and
Appendix B, Table 4, the "function calling executability" row). Every reader and the synthesis
rule checks (:mod:`hammer_train.synthesis.rules`) reuse :func:`validate_example`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import DataError


if TYPE_CHECKING:
    from .schema import Example

__all__ = ["canonical_type", "validate_example", "value_fits_type"]


_TYPE_ALIASES = {
    "str": "string",
    "string": "string",
    "text": "string",
    "int": "integer",
    "integer": "integer",
    "long": "integer",
    "float": "number",
    "number": "number",
    "double": "number",
    "bool": "boolean",
    "boolean": "boolean",
    "list": "array",
    "array": "array",
    "tuple": "array",
    "dict": "object",
    "object": "object",
    "map": "object",
}


def canonical_type(type_name: Any) -> str | None:
    """Map a declared type (``"str"``, ``"List[int]"``, ``"int, optional"``, ``"integer"``) to a
    JSON-schema type name, or ``None`` when the type is not checkable (``"any"``, unions, unknown).
    """
    if isinstance(type_name, list):  # JSON-schema union ["string", "null"]
        return None
    if not isinstance(type_name, str):
        return None
    head = type_name.split(",")[0].strip().lower()
    if "[" in head:
        head = head.split("[")[0].strip()
    if "|" in head or " or " in head:
        return None
    return _TYPE_ALIASES.get(head)


def value_fits_type(value: Any, type_name: Any) -> bool:
    """True when ``value`` fits the declared type, or when the type is not checkable.

    Rules: ``integer`` accepts ints but not bools; ``number`` accepts ints and floats but not bools;
    ``None`` fits any type (an explicit null for an optional argument).
    """
    kind = canonical_type(type_name)
    if kind is None or value is None:
        return True
    if kind == "string":
        return isinstance(value, str)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "array":
        return isinstance(value, list)
    if kind == "object":
        return isinstance(value, dict)
    return True


def validate_example(ex: Example) -> None:
    """Check an example (ToolACE-style rule-based verification).

    Checks: ``tools`` is not empty; every answer names a function in ``tools``; every argument name
    exists in that function; every required argument is present; every value fits its declared type
    where checkable (:func:`value_fits_type`).

    Raises:
        DataError: with reason ``empty_tools``, ``unknown_function``, ``unknown_argument``,
            ``missing_required_argument`` or ``argument_type`` and the field at fault
            (e.g. ``answers[1].arguments.city``); row and source are taken from ``ex``.
    """

    def err(reason: str, msg: str, fld: str) -> DataError:
        return DataError(reason, msg, row=ex.row, field=fld, source=ex.source)

    if not ex.tools:
        raise err("empty_tools", "the tool list is empty", "tools")
    by_name = {t.name: t for t in ex.tools}
    for i, call in enumerate(ex.answers):
        tool = by_name.get(call.name)
        if tool is None:
            raise err("unknown_function", f"calls {call.name!r}, which is not in tools", f"answers[{i}].name")
        params = {p.name: p for p in tool.parameters}
        for arg, value in call.arguments.items():
            p = params.get(arg)
            if p is None:
                raise err(
                    "unknown_argument", f"{call.name!r} has no parameter {arg!r}", f"answers[{i}].arguments.{arg}"
                )
            if not value_fits_type(value, p.type):
                raise err(
                    "argument_type",
                    f"value {value!r} does not fit declared type {p.type!r}",
                    f"answers[{i}].arguments.{arg}",
                )
        for p in tool.parameters:
            if p.required and p.name not in call.arguments:
                raise err(
                    "missing_required_argument",
                    f"required argument {p.name!r} of {call.name!r} is missing",
                    f"answers[{i}].arguments.{p.name}",
                )
