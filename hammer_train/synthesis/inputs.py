"""The user's tools: OpenAI tools JSON, xLAM tools, an OpenAPI 3 document, or the tools of a dataset.

Everything becomes a list of API specs (:mod:`hammer_train.synthesis.apispec`). An OpenAPI
document is read the way ToolAlpaca starts from API documentation (arXiv 2306.05301, §2.1:
each function of an API's OpenAPI specification is one tool; the authors' ``utils.py`` reads
``paths`` -> methods -> ``requestBody`` / ``responses``): every operation under ``paths`` becomes
one tool, named by its ``operationId`` (or method and path), described by its summary and
description, with its path / query / header parameters and its JSON request body as parameters,
and its first 2xx JSON response schema as the return schema.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ..schema import DataError
from .apispec import api_from_dict, to_json_schema


__all__ = ["load_tools", "tools_from_openapi", "tools_from_dataset", "read_document"]

_METHODS = ("get", "post", "put", "patch", "delete", "head", "options")
_AUTH_HEADERS = {"authorization", "cookie", "x-api-key", "api-key"}
_MAX_REF_DEPTH = 8


def read_document(path: str | Path) -> Any:
    """Parse a JSON or YAML file (``.yaml`` / ``.yml`` through ``yaml.safe_load``).

    Raises:
        FileNotFoundError: no such file.
        ValueError: not valid JSON / YAML, naming the file.
    """
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() in (".yaml", ".yml"):
        import yaml

        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ValueError(f"{path}: not valid YAML ({exc})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None


def _resolve(node: Any, doc: dict[str, Any], depth: int = 0) -> Any:
    """Inline local ``$ref`` pointers (``#/components/schemas/X``); a cycle deeper than
    :data:`_MAX_REF_DEPTH` becomes ``{"type": "object"}``."""
    if isinstance(node, list):
        return [_resolve(v, doc, depth) for v in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str):
        if not ref.startswith("#/") or depth >= _MAX_REF_DEPTH:
            return {"type": "object", "description": node.get("description", "")}
        target: Any = doc
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(target, dict) or part not in target:
                raise ValueError(f"OpenAPI $ref {ref!r} points nowhere")
            target = target[part]
        extra = {k: v for k, v in node.items() if k != "$ref"}
        return _resolve({**target, **extra}, doc, depth + 1)
    return {k: _resolve(v, doc, depth) for k, v in node.items()}


def _operation_name(method: str, path: str, op: dict[str, Any]) -> str:
    name = op.get("operationId") or f"{method}_{path}"
    name = re.sub(r"[^A-Za-z0-9_-]+", "_", str(name))
    name = re.sub(r"_{2,}", "_", name).strip("_")
    return name[:64] or method


def _json_content(container: Any) -> Any:
    content = container.get("content") if isinstance(container, dict) else None
    if not isinstance(content, dict):
        return None
    for media, body in content.items():
        if (media.startswith("application/json") or media.endswith("+json")) and isinstance(body, dict):
            return body.get("schema")
    return None


def _operation_parameters(item: dict[str, Any], op: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    props: dict[str, Any] = {}
    required: list[str] = []
    for param in [*(item.get("parameters") or []), *(op.get("parameters") or [])]:
        if not isinstance(param, dict) or not isinstance(param.get("name"), str):
            continue
        where = param.get("in")
        if where == "cookie" or (where == "header" and param["name"].lower() in _AUTH_HEADERS):
            continue
        schema = dict(param.get("schema") or {"type": "string"})
        schema["description"] = param.get("description") or schema.get("description") or f"{where} parameter"
        props[param["name"]] = schema
        if (param.get("required") or where == "path") and param["name"] not in required:
            required.append(param["name"])
    body = _json_content(op.get("requestBody"))
    if isinstance(body, dict):
        if body.get("type", "object") == "object" and isinstance(body.get("properties"), dict):
            for pname, pschema in body["properties"].items():
                key = pname if pname not in props else f"body_{pname}"
                props[key] = pschema
                if pname in (body.get("required") or []):
                    required.append(key)
        else:
            props["body"] = {**body, "description": body.get("description") or "request body"}
            if (op.get("requestBody") or {}).get("required"):
                required.append("body")
    return props, required


def _operation_returns(op: dict[str, Any]) -> Any:
    responses = op.get("responses") or {}
    for code in sorted(responses, key=str):
        if str(code).startswith("2"):
            schema = _json_content(responses[code])
            if schema is not None:
                return schema
    return _json_content(responses.get("default"))


def tools_from_openapi(doc: dict[str, Any], source: str = "openapi") -> list[dict[str, Any]]:
    """One API spec per operation of an OpenAPI 3 document (see the module docstring).

    Args:
        doc: the parsed document (``{"openapi": "3.x", "paths": {...}, "components": {...}}``).
        source: name used in error messages (the file).

    Returns:
        API specs in path order, each with an ``http`` entry ``{"method", "path"}`` (what the call
        maps to, as ToolAlpaca's ``Function_Projection``); operations without a name clash.

    Raises:
        ValueError: not an OpenAPI 3 document, a ``$ref`` that points nowhere, two operations with
            one name, or no operation at all (naming ``source``).
    """
    if not isinstance(doc, dict) or not str(doc.get("openapi", "")).startswith("3"):
        raise ValueError(f"{source}: not an OpenAPI 3 document (no 'openapi: 3.x' key)")
    resolved = _resolve(doc.get("paths") or {}, doc)
    apis: list[dict[str, Any]] = []
    for path, item in resolved.items():
        if not isinstance(item, dict):
            continue
        for method in _METHODS:
            op = item.get(method)
            if not isinstance(op, dict):
                continue
            name = _operation_name(method, path, op)
            if any(a["name"] == name for a in apis):
                raise ValueError(f"{source}: two operations are named {name!r} (paths.{path}.{method})")
            props, required = _operation_parameters(item, op)
            parts = [
                s.strip().rstrip(".")
                for s in (op.get("summary"), op.get("description"))
                if isinstance(s, str) and s.strip()
            ]
            text = ". ".join(parts) + "." if parts else ""
            params: dict[str, Any] = {"type": "object", "properties": props}
            if required:
                params["required"] = required
            api = {"name": name, "description": text or f"{method.upper()} {path}", "parameters": params}
            returns = _operation_returns(op)
            if isinstance(returns, dict):
                api["returns"] = to_json_schema(returns)
            api["http"] = {"method": method.upper(), "path": path}
            apis.append(api)
    if not apis:
        raise ValueError(f"{source}: the OpenAPI document has no operations under 'paths'")
    return apis


def _tool_list(data: Any, source: str) -> list[Any]:
    if isinstance(data, dict) and isinstance(data.get("tools"), list):
        return data["tools"]
    if isinstance(data, dict) and ("name" in data or "function" in data):
        return [data]
    if isinstance(data, list):
        return data
    raise ValueError(f"{source}: expected a list of tool specs, an object with 'tools', or an OpenAPI document")


def load_tools(path: str | Path, tools_format: str = "auto") -> list[dict[str, Any]]:
    """Read the user's tools from a file.

    Args:
        path: a JSON or YAML file: OpenAI tools (``[{"type": "function", "function": {...}}]``),
            bare function specs, xLAM tools (``[{"name", "description", "parameters": {p: {type,
            description}}}]``), ``{"tools": [...]}``, or an OpenAPI 3 document.
        tools_format: ``auto`` (an object with an ``openapi`` key is OpenAPI, anything else a tool
            list), ``openai``, ``xlam`` or ``openapi``.

    Returns:
        API specs (unique names), in file order.

    Raises:
        FileNotFoundError: no such file.
        ValueError: unreadable file, unknown ``tools_format``, two tools with one name, no tools.
        DataError: a tool spec without a name or with malformed parameters, naming file and index.
    """
    if tools_format not in ("auto", "openai", "xlam", "openapi"):
        raise ValueError(f"tools_format must be auto, openai, xlam or openapi, got {tools_format!r}")
    data = read_document(path)
    if tools_format == "openapi" or (tools_format == "auto" and isinstance(data, dict) and "openapi" in data):
        return tools_from_openapi(data, str(path))
    apis: list[dict[str, Any]] = []
    for i, raw in enumerate(_tool_list(data, str(path))):
        try:
            api = api_from_dict(raw, f"tools[{i}]")
        except DataError as err:
            raise err.located(source=str(path)) from None
        if any(a["name"] == api["name"] for a in apis):
            raise ValueError(f"{path}: two tools are named {api['name']!r} (tools[{i}])")
        apis.append(api)
    if not apis:
        raise ValueError(f"{path}: no tools in the file")
    return apis


def tools_from_dataset(spec: str) -> list[dict[str, Any]]:
    """The distinct tools of an existing dataset, read with one of our readers.

    Args:
        spec: ``"FORMAT:PATH"``, e.g. ``"sharegpt:data/glaive.json"`` or ``"bfcl:live_simple"``.

    Returns:
        API specs, first occurrence of each name kept, in reading order.

    Raises:
        ValueError: ``spec`` without a format, or a dataset without tools.
    """
    from ..formats import read_source

    fmt, sep, path = spec.partition(":")
    if not sep or not path:
        raise ValueError(f"tools_data must be FORMAT:PATH (e.g. sharegpt:glaive.json), got {spec!r}")
    result = read_source(fmt, path, validate=False)
    apis: dict[str, dict[str, Any]] = {}
    for ex in result.examples:
        for tool in ex.tools:
            if tool.name not in apis:
                apis[tool.name] = api_from_dict(tool.to_openai(), f"{spec}:{tool.name}")
    if not apis:
        raise ValueError(f"{spec}: the dataset offers no tools")
    return list(apis.values())
