"""One canonical function-calling row: :class:`Example` with :class:`Tool` specs and :class:`ToolCall` answers.

Every reader in :mod:`hammer_train.formats` produces ``Example`` objects; masking, irrelevance
mixing and prompt rendering work on them, never on rendered text.

Tool specs arrive in two layouts and are normalized to one:

* the flat xLAM layout (Hammer's training data, ``shared/data/hammer_eval``)::

      {"name": ..., "description": ..., "parameters": {"p": {"type": "str", "description": ..., "default": ...}}}

  optionally with a tool-level ``"required": [...]`` list (Seal-Tools) or per-parameter
  ``"required": true`` flags (what :meth:`Tool.to_xlam` writes for JSON-schema tools); without
  either, a parameter is optional when it has a default or its type says ``optional``;
* the OpenAI / JSON-schema layout (Glaive, BFCL, OpenAI ``tools=``)::

      {"name": ..., "description": ..., "parameters": {"type": "object", "properties": {...}, "required": [...]}}

  optionally wrapped as ``{"type": "function", "function": {...}}``.

Validation follows the rule-based checks of ToolACE (:func:`~hammer_train.validation.validate_example`):
every answer calls a function that is in ``tools``, its argument names exist, required arguments
are present, and argument values fit the declared type where that type is checkable.  A failed
check raises :class:`~hammer_train.errors.DataError`, which names the row, the field and a short
``reason`` code that the data report counts in lenient mode.  Both are re-exported here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .errors import DataError, parse_json_field
from .parameters import MISSING, Parameter, parameters_layout, parse_parameters
from .validation import canonical_type, validate_example, value_fits_type


__all__ = [
    "MISSING",
    "DataError",
    "Parameter",
    "Tool",
    "ToolCall",
    "Example",
    "canonical_type",
    "parse_json_field",
    "validate_example",
    "value_fits_type",
]


@dataclass
class Tool:
    """A function the model may call.

    Attributes:
        name: function name (non-empty string).
        description: function description.
        parameters: ordered list of :class:`Parameter`.
        layout: layout the spec came in, ``"xlam"`` or ``"openai"``; rendering keeps it by default.
        extra: other top-level keys of the source spec (``return``, ``response``...).
    """

    name: str
    description: str = ""
    parameters: list[Parameter] = field(default_factory=list)
    layout: str = "xlam"
    extra: dict[str, Any] = field(default_factory=dict)

    # ---- construction
    @classmethod
    def from_dict(cls, spec: Any, field_name: str = "tools") -> "Tool":
        """Normalize a tool spec in either layout (see module docstring).

        Raises:
            DataError: ``bad_name`` when the name is missing or not a non-empty string;
                ``bad_field`` when ``spec`` or its parameters are not objects.
        """
        if isinstance(spec, dict) and spec.get("type") == "function" and isinstance(spec.get("function"), dict):
            spec = spec["function"]
        if not isinstance(spec, dict):
            raise DataError("bad_field", f"tool spec must be an object, got {type(spec).__name__}", field=field_name)
        name = spec.get("name")
        if not isinstance(name, str) or not name.strip():
            raise DataError(
                "bad_name", f"tool name must be a non-empty string, got {name!r}", field=f"{field_name}.name"
            )
        description = spec.get("description") or ""
        description = description if isinstance(description, str) else json.dumps(description, ensure_ascii=False)
        params_spec = {} if spec.get("parameters") is None else spec.get("parameters")
        if not isinstance(params_spec, dict):
            raise DataError("bad_field", "parameters must be an object", field=f"{field_name}.parameters")
        extra = {k: v for k, v in spec.items() if k not in ("name", "description", "parameters", "required")}
        layout, required, props = parameters_layout(spec, params_spec, extra)
        if not isinstance(required, list):
            raise DataError("bad_field", "required must be a list of names", field=f"{field_name}.required")
        params = parse_parameters(props, required, layout, extra, field_name)
        return cls(name=name, description=description, parameters=params, layout=layout, extra=extra)

    # ---- access
    def parameter(self, name: str) -> Parameter | None:
        """The parameter called ``name``, or ``None``."""
        for p in self.parameters:
            if p.name == name:
                return p
        return None

    # ---- rendering
    def to_xlam(self) -> dict[str, Any]:
        """xLAM / Hammer layout: ``{"name", "description", "parameters": {name: {description, type, default}}}``.

        A tool that came in JSON-schema layout (BFCL, Glaive, OpenAI) has its tool-level
        ``required`` list turned into ``"required": true`` on each required parameter, as BFCL's
        Hammer handler does (``bfcl_eval/model_handler/local_inference/hammer.py``) and as
        Hammer's Seal-Tools test set has it; without it the flat layout cannot tell a required
        parameter from an optional one that has no default. A required object-typed parameter
        with its own nested ``required`` list gets the flag in its place, as that handler writes
        it (BFCL ``irrelevance_238``, ``parallel_29``). Tools that came in xLAM layout are
        rendered as they came (Hammer's training data carries no such flag).
        """
        params: dict[str, Any] = {}
        for p in self.parameters:
            spec = p.spec("xlam")
            if self.layout == "openai" and p.required:
                spec["required"] = True
            params[p.name] = spec
        return {"name": self.name, "description": self.description, "parameters": params}

    def to_openai(self) -> dict[str, Any]:
        """JSON-schema layout, as OpenAI's ``tools=`` and chat templates expect:
        ``{"type": "function", "function": {"name", "description", "parameters": {"type": "object", ...}}}``.
        """
        params: dict[str, Any] = {
            "type": "object",
            "properties": {p.name: p.spec("openai") for p in self.parameters},
        }
        req = [p.name for p in self.parameters if p.required]
        if req:
            params["required"] = req
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": params},
        }

    def to_dict(self) -> dict[str, Any]:
        """Lossless storage form (JSON-serializable), read back by :meth:`from_storage`."""
        return {
            "name": self.name,
            "description": self.description,
            "layout": self.layout,
            "parameters": [
                {
                    "name": p.name,
                    "type": p.type,
                    "description": p.description,
                    **({"default": p.default} if p.default is not MISSING else {}),
                    "required": p.required,
                    **({"extra": p.extra} if p.extra else {}),
                }
                for p in self.parameters
            ],
            **({"extra": self.extra} if self.extra else {}),
        }

    @classmethod
    def from_storage(cls, d: dict[str, Any]) -> "Tool":
        """Inverse of :meth:`to_dict`."""
        return cls(
            name=d["name"],
            description=d.get("description", ""),
            layout=d.get("layout", "xlam"),
            parameters=[
                Parameter(
                    p["name"],
                    p.get("type"),
                    p.get("description", ""),
                    p.get("default", MISSING),
                    p.get("required", False),
                    dict(p.get("extra", {})),
                )
                for p in d.get("parameters", [])
            ],
            extra=dict(d.get("extra", {})),
        )


@dataclass
class ToolCall:
    """One function call: ``name`` and ``arguments`` (a dict, never a JSON string: some chat
    templates apply ``tojson`` and would double-encode a string; docs/design.md, "TRL and transformers traps")."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: Any, field_name: str = "answers") -> "ToolCall":
        """Accept ``{"name", "arguments"}``, Hammer-eval's ``{"tool", "parameters"}``, and OpenAI's
        ``{"function": {"name", "arguments": "<json>"}}``.

        Raises:
            DataError: ``bad_field`` when the call is not an object or arguments are not an object;
                ``bad_name`` when the name is missing; ``broken_json`` for unparseable arguments.
        """
        if not isinstance(d, dict):
            raise DataError("bad_field", f"a call must be an object, got {type(d).__name__}", field=field_name)
        if isinstance(d.get("function"), dict):
            d = d["function"]
        name = d.get("name", d.get("tool"))
        if not isinstance(name, str) or not name:
            raise DataError(
                "bad_name", f"call name must be a non-empty string, got {name!r}", field=f"{field_name}.name"
            )
        args = d.get("arguments", d.get("parameters", {}))
        if args is None:
            args = {}
        args = parse_json_field(args, f"{field_name}.arguments")
        if not isinstance(args, dict):
            raise DataError(
                "bad_field", f"arguments must be an object, got {type(args).__name__}", field=f"{field_name}.arguments"
            )
        return cls(name=name, arguments=args)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "arguments": self.arguments}


@dataclass
class Example:
    """One training or evaluation row.

    Attributes:
        query: the user's request (``str``) or a chat history: a list of ``{"role", "content"}``
            dicts (roles ``user``, ``assistant``, ``tool``; an assistant turn may carry
            ``tool_calls``: a list of ``{"name", "arguments"}``).
        tools: the functions offered, in order.
        answers: the calls the model should make, in order; ``[]`` means "no call fits"
            (irrelevance) or "information is missing".
        source: name of the source (for the report and error messages).
        row: index of the row in its source.
        kind: ``"call"``, ``"irrelevance"`` (built by :mod:`hammer_train.irrelevance` or read from
            an irrelevance set), ``"no_call"`` (a real answer without calls) or ``"relevance"``
            (a call is expected but no gold call is known: BFCL live_relevance; evaluation only).
    """

    query: str | list[dict[str, Any]]
    tools: list[Tool]
    answers: list[ToolCall]
    source: str = ""
    row: int | None = None
    kind: str = "call"

    def tool(self, name: str) -> Tool | None:
        for t in self.tools:
            if t.name == name:
                return t
        return None

    def to_dict(self) -> dict[str, Any]:
        """Storage form (JSON-serializable), read back by :meth:`from_storage`."""
        return {
            "query": self.query,
            "tools": [t.to_dict() for t in self.tools],
            "answers": [a.to_dict() for a in self.answers],
            "source": self.source,
            "row": self.row,
            "kind": self.kind,
        }

    @classmethod
    def from_storage(cls, d: dict[str, Any]) -> "Example":
        return cls(
            query=d["query"],
            tools=[Tool.from_storage(t) for t in d["tools"]],
            answers=[ToolCall(a["name"], dict(a.get("arguments") or {})) for a in d["answers"]],
            source=d.get("source", ""),
            row=d.get("row"),
            kind=d.get("kind", "call"),
        )

    @classmethod
    def from_raw(
        cls,
        query: Any,
        tools: Any,
        answers: Any,
        *,
        source: str = "",
        row: int | None = None,
        kind: str | None = None,
        dedupe_tools: bool = True,
        validate: bool = True,
    ) -> "Example":
        """Build and validate an example from raw fields (JSON strings or decoded values).

        Args:
            query: string, or list of ``{"role", "content"}`` messages.
            tools: list of tool specs in either layout, or its JSON string.
            answers: list of calls, or its JSON string.
            dedupe_tools: drop exact duplicate tool specs; two *different* specs with one name
                raise ``duplicate_tool``.
            validate: run :func:`validate_example` (the semantic checks). With ``False`` only the
                structure is checked (JSON, names, shapes) and an empty tool list is accepted:
                evaluation sets keep their rows as released (BFCL live_irrelevance has rows
                without tools; Seal-Tools writes numbers as strings).

        Raises:
            DataError: naming ``row`` and the field; see :func:`validate_example`.
        """
        try:
            _check_query(query)
            parsed_tools = _parse_tools(_raw_list(tools, "tools", allow_object=False), dedupe_tools)
            calls = [ToolCall.from_dict(a, f"answers[{i}]") for i, a in enumerate(_raw_list(answers, "answers"))]
            if kind is None:
                kind = "call" if calls else "no_call"
            ex = cls(query=query, tools=parsed_tools, answers=calls, source=source, row=row, kind=kind)
            if validate:
                validate_example(ex)
        except DataError as err:
            raise err.located(row=row, source=source) from None
        return ex


def _check_query(query: Any) -> None:
    """Raise ``no_query`` unless ``query`` is a non-blank string or a non-empty message list."""
    if isinstance(query, str):
        if not query.strip():
            raise DataError("no_query", "query is empty", field="query")
    elif isinstance(query, list):
        if not query:
            raise DataError("no_query", "conversation is empty", field="query")
    else:
        raise DataError(
            "no_query", f"query must be a string or a message list, got {type(query).__name__}", field="query"
        )


def _raw_list(value: Any, field_name: str, allow_object: bool = True) -> list:
    """``value`` (or its JSON string) as a list: ``None`` is ``[]``; one object is a one-item list
    when ``allow_object`` (a single answer call). Raises ``broken_json`` or ``bad_field``."""
    raw = parse_json_field(value, field_name)
    if raw is None:
        return []
    if allow_object and isinstance(raw, dict):
        return [raw]
    if not isinstance(raw, list):
        raise DataError("bad_field", f"{field_name} must be a list, got {type(raw).__name__}", field=field_name)
    return raw


def _parse_tools(tools_raw: list, dedupe_tools: bool) -> list[Tool]:
    """The :class:`Tool` list; an exact duplicate spec is dropped when ``dedupe_tools``, two different
    specs with one name raise ``duplicate_tool``."""
    parsed: list[Tool] = []
    seen: dict[str, Tool] = {}
    for i, spec in enumerate(tools_raw):
        t = Tool.from_dict(spec, f"tools[{i}]")
        if t.name in seen:
            if dedupe_tools and seen[t.name].to_dict() == t.to_dict():
                continue
            raise DataError("duplicate_tool", f"two different tools are named {t.name!r}", field=f"tools[{i}].name")
        seen[t.name] = t
        parsed.append(t)
    return parsed
