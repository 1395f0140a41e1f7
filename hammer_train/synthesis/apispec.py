"""API specs, the unit of the API pool, and the rule checks of an API definition.

An *API spec* is a plain dict::

    {"name": str, "description": str,
     "parameters": {"type": "object", "properties": {name: JSON Schema}, "required": [names]},
     "returns": JSON Schema (optional)}

the OpenAI function layout plus the return schema that ToolACE's API pool carries and its tool
agent simulates (ToolACE, arXiv 2409.00920, §2.1 and §2.2). :func:`api_to_tool` gives the OpenAI
``tools`` entry written into output rows (without ``returns``: an OpenAI tool has no return field).

:func:`check_api` is the rule check "API definition clarity" of ToolACE's Appendix B, Table 4: the
definition has every field (name, description, a description and a type for each parameter) and is
valid JSON Schema (checked with :mod:`jsonschema`). In *strict* mode (specs the generator wrote)
the types must be JSON Schema's own; in lenient mode (existing data) the common aliases of xLAM and
BFCL (``str``, ``int``, ``float``, ``dict``, ``tuple``, ``any``...) are mapped first, because those
layouts are conventions, not mistakes.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from typing import Any

from ..schema import DataError, Tool, canonical_type


__all__ = [
    "CONSTRAINT_KEYS",
    "to_json_schema",
    "api_from_dict",
    "api_to_tool",
    "check_api",
    "api_signature",
    "schema_problem",
]

CONSTRAINT_KEYS = (
    "enum",
    "const",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "pattern",
    "format",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
)
"""Keywords that constrain a value beyond its type (the "add a constraint" evolution of
ToolACE §2.1 adds one of these; the rule layer checks values against them)."""

_STRICT_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # what OpenAI's tools= accepts
_JSON_TYPES = {"string", "integer", "number", "boolean", "array", "object", "null"}
_RETURN_KEYS = ("returns", "return", "response", "results")


def _map_type(value: Any) -> Any:
    if isinstance(value, str) and value not in _JSON_TYPES:
        if value.strip().lower() == "any":
            return None
        mapped = canonical_type(value)
        return mapped if mapped is not None else value
    return value


def to_json_schema(schema: Any, strict: bool = False) -> Any:
    """A copy of ``schema`` with xLAM / BFCL type aliases mapped to JSON Schema types.

    ``str`` -> ``string``, ``int`` -> ``integer``, ``float`` -> ``number``, ``dict`` -> ``object``,
    ``tuple`` / ``list`` -> ``array``, ``List[int]`` -> ``array``, ``"int, optional"`` -> ``integer``;
    ``any`` drops the ``type`` keyword (any value). A boolean ``required`` flag inside a property
    (xLAM layout) is removed: the tool-level ``required`` list carries it. With ``strict=True``
    nothing is mapped (only the copy is made).

    Args:
        schema: a JSON Schema (dict), or anything else (returned unchanged).

    Returns:
        The mapped copy; unknown type names are left for :func:`check_api` to reject.
    """
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "type" and not strict:
            value = _map_type(value)
            if value is None:
                continue
        elif key == "required" and isinstance(value, bool) and not strict:
            continue
        elif key in ("properties", "patternProperties", "$defs", "definitions") and isinstance(value, dict):
            value = {k: to_json_schema(v, strict) for k, v in value.items()}
        elif key in ("items", "additionalProperties", "not", "contains") and isinstance(value, dict):
            value = to_json_schema(value, strict)
        elif key in ("anyOf", "oneOf", "allOf", "prefixItems", "items") and isinstance(value, list):
            value = [to_json_schema(v, strict) for v in value]
        out[key] = value
    return out


def _returns_of(raw: dict[str, Any]) -> Any:
    for key in _RETURN_KEYS:
        if isinstance(raw.get(key), dict):
            return raw[key]
    return None


def api_from_dict(raw: Any, field_name: str = "tools") -> dict[str, Any]:
    """Normalize one tool spec (OpenAI-wrapped, OpenAI function, or xLAM layout) into an API spec.

    The spec is read with :meth:`hammer_train.schema.Tool.from_dict` (both layouts), written back
    in the OpenAI layout with type aliases mapped (:func:`to_json_schema`), and keeps a return
    schema found under ``returns`` / ``return`` / ``response`` / ``results``.

    Raises:
        DataError: ``bad_name`` / ``bad_field`` from :meth:`Tool.from_dict`, naming ``field_name``.
    """
    tool = Tool.from_dict(raw, field_name)
    unwrapped = raw["function"] if isinstance(raw, dict) and isinstance(raw.get("function"), dict) else raw
    fn = tool.to_openai()["function"]
    api = {"name": fn["name"], "description": fn["description"], "parameters": to_json_schema(fn["parameters"])}
    returns = _returns_of(unwrapped)
    if returns is not None:
        api["returns"] = returns
    return api


def api_to_tool(api: dict[str, Any]) -> dict[str, Any]:
    """The OpenAI ``tools`` entry of an API spec: ``{"type": "function", "function": {name,
    description, parameters}}`` (the return schema stays in the pool and the row's provenance)."""
    return {
        "type": "function",
        "function": {"name": api["name"], "description": api["description"], "parameters": api["parameters"]},
    }


def _fail(reason: str, message: str, field_name: str) -> DataError:
    return DataError(reason, message, field=field_name)


@functools.lru_cache(maxsize=8192)
def schema_problem(schema_json: str) -> str | None:
    """Why the JSON Schema written as ``schema_json`` is invalid (``"at <path>: <message>"``), or
    ``None`` when :mod:`jsonschema`'s meta-schema check passes. Cached: datasets repeat their tools,
    and one check costs milliseconds."""
    from jsonschema import SchemaError
    from jsonschema.validators import Draft7Validator, validator_for

    schema = json.loads(schema_json)
    try:
        validator_for(schema, default=Draft7Validator).check_schema(schema)
    except SchemaError as exc:
        where = "/".join(str(p) for p in exc.path)
        return f"at {where or 'top'}: {exc.message}"
    return None


def _check_schema(schema: Any, field_name: str) -> None:
    problem = schema_problem(json.dumps(schema, sort_keys=True, ensure_ascii=False))
    if problem:
        raise _fail("api_invalid_schema", f"not valid JSON Schema {problem}", field_name)


def _check_property(pname: str, pspec: Any, field_name: str, strict: bool) -> None:
    fld = f"{field_name}.parameters.properties.{pname}"
    if not isinstance(pspec, dict):
        raise _fail("api_invalid_schema", "a parameter schema must be an object", fld)
    if not isinstance(pspec.get("description"), str) or not pspec["description"].strip():
        raise _fail("api_missing_field", f"parameter {pname!r} has no description", f"{fld}.description")
    typed = "type" in pspec or any(k in pspec for k in ("anyOf", "oneOf", "allOf", "enum", "const", "$ref"))
    if not typed and strict:
        raise _fail("api_missing_field", f"parameter {pname!r} has no type", f"{fld}.type")
    for key in ("default", "enum"):
        if key not in pspec or "type" not in pspec:
            continue
        values = pspec[key] if key == "enum" and isinstance(pspec[key], list) else [pspec[key]]
        for v in values:
            if v is not None and not _fits(v, pspec["type"]):
                raise _fail("api_invalid_schema", f"{key} value {v!r} does not fit type {pspec['type']!r}", fld)


def _fits(value: Any, json_type: Any) -> bool:
    types = json_type if isinstance(json_type, list) else [json_type]
    checks = {
        "string": lambda v: isinstance(v, str),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
        "array": lambda v: isinstance(v, list),
        "object": lambda v: isinstance(v, dict),
        "null": lambda v: v is None,
    }
    return any(checks.get(t, lambda v: True)(value) for t in types)


def check_api(api: Any, field_name: str = "api", strict: bool = True) -> None:
    """Rule check of one API definition (ToolACE Appendix B, Table 4, "API definition clarity").

    Checks, in order: a name (strict: OpenAI's ``^[A-Za-z0-9_-]{1,64}$``; lenient: no whitespace);
    a non-empty description; ``parameters`` an object schema whose properties each have a
    description (and, strict, a type) and whose ``required`` names exist; ``default`` and ``enum``
    values that fit the parameter's type; the parameter schema and the return schema (when present)
    valid JSON Schema (:mod:`jsonschema`'s meta-schema check, after :func:`to_json_schema` when not
    strict).

    Args:
        api: an API spec (see the module docstring); lenient callers pass the OpenAI function dict.
        field_name: prefix of the field named in an error (``"tools[2]"``).
        strict: JSON Schema types only, a type on every parameter, OpenAI's name pattern.

    Raises:
        DataError: ``api_missing_field``, ``api_invalid_schema`` or ``bad_name``, naming the field.
    """
    if not isinstance(api, dict):
        raise _fail("api_invalid_schema", f"an API definition must be an object, got {type(api).__name__}", field_name)
    name = api.get("name")
    if not isinstance(name, str) or not name.strip():
        raise _fail("api_missing_field", "the API has no name", f"{field_name}.name")
    if (strict and not _STRICT_NAME.match(name)) or (not strict and re.search(r"\s", name)):
        raise _fail("bad_name", f"API name {name!r} is not a valid function name", f"{field_name}.name")
    if not isinstance(api.get("description"), str) or not api["description"].strip():
        raise _fail("api_missing_field", f"API {name!r} has no description", f"{field_name}.description")
    params = api.get("parameters", {"type": "object", "properties": {}})
    if not strict:
        params = to_json_schema(params)
    if not isinstance(params, dict) or params.get("type", "object" if not strict else None) != "object":
        raise _fail("api_invalid_schema", "parameters must be an object schema", f"{field_name}.parameters")
    props = params.get("properties", {})
    if not isinstance(props, dict):
        raise _fail("api_invalid_schema", "parameters.properties must be an object", f"{field_name}.parameters")
    for pname, pspec in props.items():
        _check_property(pname, pspec, field_name, strict)
    required = params.get("required", [])
    if not isinstance(required, list) or any(r not in props for r in required):
        raise _fail(
            "api_invalid_schema",
            f"required {required!r} names a parameter that is not defined",
            f"{field_name}.parameters.required",
        )
    _check_schema(params, f"{field_name}.parameters")
    if "returns" in api:
        returns = api["returns"] if strict else to_json_schema(api["returns"])
        if not isinstance(returns, dict):
            raise _fail("api_invalid_schema", "returns must be a JSON Schema object", f"{field_name}.returns")
        _check_schema(returns, f"{field_name}.returns")


def api_signature(api: dict[str, Any]) -> str:
    """SHA-256 of what an API *does*, without its name: the description (case and spacing folded),
    the parameter schema and the return schema. Two specs with one signature are duplicates under
    different names (ToolACE §2.1 keeps the pool free of duplicates)."""
    blob = json.dumps(
        {
            "description": " ".join(str(api.get("description", "")).lower().split()),
            "parameters": api.get("parameters"),
            "returns": api.get("returns"),
        },
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()
