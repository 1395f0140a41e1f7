"""Apply a row's masking plan: new tools, rewritten answers, rewritten query (and the tool calls of
earlier turns in a multi-turn query). Nothing here draws from the rng."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..schema import Parameter, Tool
from .defaults import DefaultPlan
from .text import Replacer
from .values import render_like, same_value


__all__ = ["RowPlan", "build_tools", "rewrite_call", "rewrite_history_call", "rewrite_query"]


@dataclass
class RowPlan:
    """What :func:`~hammer_train.masking.mask_example` decided for one row.

    Attributes:
        functions: real function name -> masked name (empty: names kept).
        parameters: real function name -> {real parameter name -> masked name}.
        defaults: real function name -> {real parameter name -> :class:`~.defaults.DefaultPlan`}.
        query_replacer: old -> new spellings of replaced defaults, for the query's user turns.
    """

    functions: dict[str, str]
    parameters: dict[str, dict[str, str]]
    defaults: dict[str, dict[str, DefaultPlan]]
    query_replacer: Replacer


def build_tools(tools: list[Tool], plan: RowPlan, duplicate_padding: bool) -> list[Tool]:
    """The masked tools, in the input order (the caller shuffles).

    Names are renamed, a replaced default is written into the spec's ``default``, its parameter's
    description and its ``enum``; function descriptions never change. Without
    ``duplicate_padding`` a tool whose name was listed before is dropped (Hammer's de-duplication).
    New ``Tool`` / ``Parameter`` objects share the input's ``extra`` dicts (except a rewritten
    ``enum``).
    """
    new_tools: list[Tool] = []
    seen_names: set[str] = set()
    for t in tools:
        if not duplicate_padding:
            if t.name in seen_names:
                continue
            seen_names.add(t.name)
        pm = plan.parameters.get(t.name)
        vp = plan.defaults.get(t.name)
        params = [_masked_parameter(p, pm, vp.get(p.name) if vp else None) for p in t.parameters]
        new_tools.append(
            Tool(
                name=plan.functions.get(t.name, t.name),
                description=t.description,
                parameters=params,
                layout=t.layout,
                extra=t.extra,
            )
        )
    return new_tools


def _masked_parameter(p: Parameter, names: dict[str, str] | None, plan: DefaultPlan | None) -> Parameter:
    extra = p.extra
    if plan is not None:
        desc = plan.replacer.apply(p.description)
        default = plan.new_default
        enum = extra.get("enum") if extra else None
        if isinstance(enum, list):
            extra = dict(extra)
            extra["enum"] = [
                render_like(plan.new_value, e, plan.int_mode) if same_value(plan.old_value, e) else e for e in enum
            ]
    else:
        desc = p.description
        default = p.default
    return Parameter(names[p.name] if names else p.name, p.type, desc, default, p.required, extra)


def rewrite_call(name: str, args: Any, plan: RowPlan) -> tuple[str, Any]:
    """``(new name, new arguments)`` of a call to the real function ``name``.

    Argument keys are renamed only for that function's parameters; an argument equal to a
    replaced default (typed comparison) gets the fresh value in its own JSON type. Arguments that
    are not a dict are returned as they are.
    """
    new_name = plan.functions.get(name, name)
    if not isinstance(args, dict):
        return new_name, args
    pmap = plan.parameters.get(name)
    vplans = plan.defaults.get(name)
    if not pmap and not vplans:
        return new_name, dict(args)
    new_args = {}
    for k, v in args.items():
        if vplans:
            dplan = vplans.get(k)
            if dplan is not None and same_value(dplan.old_value, v):
                v = render_like(dplan.new_value, v, dplan.int_mode)
        new_args[pmap.get(k, k) if pmap else k] = v
    return new_name, new_args


def rewrite_history_call(call: Any, plan: RowPlan) -> Any:
    """A tool call of an earlier turn, rewritten like an answer.

    Accepts ``{"name", "arguments"}`` and the OpenAI shape ``{"function": {...}}``; arguments
    given as a JSON string stay a JSON string. Anything else is returned as it is.
    """
    if not isinstance(call, dict):
        return call
    new = dict(call)
    if isinstance(call.get("function"), dict):  # OpenAI shape
        new["function"] = rewrite_history_call(call["function"], plan)
        return new
    name = call.get("name")
    if not isinstance(name, str):
        return new
    args = call.get("arguments")
    encoded = False
    if isinstance(args, str):
        try:
            args = json.loads(args)
            encoded = isinstance(args, dict)
        except ValueError:
            pass
    new_name, new_args = rewrite_call(name, args, plan)
    new["name"] = new_name
    if "arguments" in call:
        new["arguments"] = json.dumps(new_args, ensure_ascii=False) if encoded else new_args
    return new


def rewrite_query(query: Any, plan: RowPlan) -> Any:
    """The query with replaced defaults' spellings rewritten (a string, or the user turns of a
    message list) and earlier turns' ``tool_calls`` renamed; messages are new dicts."""
    if isinstance(query, str):
        return plan.query_replacer.apply(query)
    if not isinstance(query, list):
        return query
    new_query = []
    for m in query:
        if not isinstance(m, dict):
            new_query.append(m)
            continue
        nm = dict(m)
        if plan.query_replacer and m.get("role") in ("user", "human") and isinstance(m.get("content"), str):
            nm["content"] = plan.query_replacer.apply(m["content"])
        if m.get("tool_calls"):
            nm["tool_calls"] = [rewrite_history_call(c, plan) for c in m["tool_calls"]]
        new_query.append(nm)
    return new_query
