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

Validation follows the rule-based checks of ToolACE: every answer calls a function that is in
``tools``, its argument names exist, required arguments are present, and argument values fit the
declared type where that type is checkable.  A failed check raises :class:`DataError`, which names
the row, the field and a short ``reason`` code that the data report counts in lenient mode.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


__all__ = [
    "MISSING",
    "DataError",
    "Parameter",
    "Tool",
    "ToolCall",
    "Example",
    "parse_json_field",
    "validate_example",
]


class _Missing:
    """Sentinel for "no default value" (``None`` is a legal default)."""

    _instance = None

    def __new__(cls):
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Any = _Missing()


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


# --------------------------------------------------------------------------------------- types

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


# --------------------------------------------------------------------------------------- tools


@dataclass
class Parameter:
    """One parameter of a tool.

    Attributes:
        name: parameter name.
        type: declared type as written by the source (``"str"``, ``"integer"``, ``"List[int]"``);
            ``None`` when absent.
        description: parameter description ("" when absent).
        default: default value, or :data:`MISSING`.
        required: whether a call must pass it.
        extra: every other key of the source spec (``enum``, ``items``, ``properties``...), kept
            verbatim so that rendering loses nothing.
    """

    name: str
    type: Any = None
    description: str = ""
    default: Any = MISSING
    required: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def spec(self, layout: str = "xlam") -> dict[str, Any]:
        """The parameter's spec dict, without its name, in ``layout`` (``"xlam"`` or ``"openai"``)."""
        out: dict[str, Any] = {}
        if self.description or layout == "xlam":
            out["description"] = self.description
        if self.type is not None:
            out["type"] = self.type
        if self.default is not MISSING:
            out["default"] = self.default
        out.update(self.extra)
        return out


def _is_parameter_spec(value: dict[str, Any]) -> bool:
    """True for one xLAM parameter spec (``{"type": "str", "description": ...}``: string values),
    False for a JSON-schema ``properties`` map (parameter name -> spec dict)."""
    return isinstance(value.get("type"), str) or isinstance(value.get("description"), str)


def _parameters_layout(spec: dict[str, Any], params_spec: dict[str, Any], extra: dict[str, Any]):
    """``(layout, required, props)`` of a tool spec; records layout-specific keys in ``extra``."""
    props_value = params_spec.get("properties")
    if isinstance(props_value, dict) and (
        params_spec.get("type") in ("object", "dict")
        # no "type": JSON schema unless "properties" is itself one xLAM parameter spec
        # (a parameter *named* properties: {"type": "dict", "description": ...})
        or ("type" not in params_spec and not _is_parameter_spec(props_value))
    ):
        outer_extra = {k: v for k, v in params_spec.items() if k not in ("type", "properties", "required")}
        if outer_extra:
            extra["parameters_extra"] = outer_extra
        if params_spec.get("type") is not None and params_spec.get("type") != "object":
            extra["parameters_type"] = params_spec["type"]
        return "openai", params_spec.get("required") or [], params_spec["properties"]
    if "required" in spec:
        extra["has_required_list"] = True
    return "xlam", spec.get("required") or [], params_spec


def _parse_parameters(props: dict, required: list, layout: str, extra: dict[str, Any], field_name: str):
    """The :class:`Parameter` list of a tool's ``props`` map, with each one's ``required`` flag decided."""
    flagged = layout == "xlam" and any(
        isinstance(ps, dict) and isinstance(ps.get("required"), bool) for ps in props.values()
    )
    params = []
    for pname, pspec in props.items():
        if not isinstance(pname, str) or not pname:
            raise DataError(
                "bad_name",
                f"parameter name must be a non-empty string, got {pname!r}",
                field=f"{field_name}.parameters",
            )
        if not isinstance(pspec, dict):
            raise DataError("bad_field", "parameter spec must be an object", field=f"{field_name}.parameters.{pname}")
        ptype = pspec.get("type")
        pdesc = pspec.get("description") or ""
        pdesc = pdesc if isinstance(pdesc, str) else str(pdesc)
        default = pspec["default"] if "default" in pspec else MISSING
        if layout == "openai" or extra.get("has_required_list"):
            is_required = pname in required
        elif flagged:
            # per-parameter ``"required": true`` flags, as :meth:`Tool.to_xlam` writes for JSON-schema
            # tools (and BFCL's Hammer handler does): an unflagged parameter is optional.
            is_required = pspec.get("required") is True
        else:
            # xLAM layout has no required list: a parameter is optional when its type says so
            # ("str, optional") or it has a default.
            is_required = default is MISSING and not (isinstance(ptype, str) and "optional" in ptype.lower())
        pextra = {k: v for k, v in pspec.items() if k not in ("type", "description", "default")}
        params.append(Parameter(pname, ptype, pdesc, default, is_required, pextra))
    return params


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
        layout, required, props = _parameters_layout(spec, params_spec, extra)
        if not isinstance(required, list):
            raise DataError("bad_field", "required must be a list of names", field=f"{field_name}.required")
        params = _parse_parameters(props, required, layout, extra, field_name)
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
            tools_raw = parse_json_field(tools, "tools")
            if tools_raw is None:
                tools_raw = []
            if not isinstance(tools_raw, list):
                raise DataError("bad_field", f"tools must be a list, got {type(tools_raw).__name__}", field="tools")
            answers_raw = parse_json_field(answers, "answers")
            if answers_raw is None:
                answers_raw = []
            if isinstance(answers_raw, dict):
                answers_raw = [answers_raw]
            if not isinstance(answers_raw, list):
                raise DataError(
                    "bad_field", f"answers must be a list, got {type(answers_raw).__name__}", field="answers"
                )
            parsed_tools: list[Tool] = []
            seen: dict[str, Tool] = {}
            for i, spec in enumerate(tools_raw):
                t = Tool.from_dict(spec, f"tools[{i}]")
                if t.name in seen:
                    if dedupe_tools and seen[t.name].to_dict() == t.to_dict():
                        continue
                    raise DataError(
                        "duplicate_tool", f"two different tools are named {t.name!r}", field=f"tools[{i}].name"
                    )
                seen[t.name] = t
                parsed_tools.append(t)
            calls = [ToolCall.from_dict(a, f"answers[{i}]") for i, a in enumerate(answers_raw)]
            if kind is None:
                kind = "call" if calls else "no_call"
            ex = cls(query=query, tools=parsed_tools, answers=calls, source=source, row=row, kind=kind)
            if validate:
                validate_example(ex)
        except DataError as err:
            raise err.located(row=row, source=source) from None
        return ex


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
