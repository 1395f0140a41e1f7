"""The way back from a masked row: :class:`InverseMap` (JSON-serializable) maps masked names and
values back to the real ones, and :func:`unmask_calls` applies it to predicted calls (evaluation
on renamed benchmarks scores predictions against the original gold this way)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from ..schema import ToolCall


__all__ = ["InverseMap", "unmask_calls"]


@dataclass
class InverseMap:
    """How to map a masked row's names and values back to the real ones.

    Attributes:
        functions: masked function name -> real function name.
        parameters: real function name -> {masked parameter name -> real parameter name}.
        values: real function name -> {real parameter name -> ``[[masked value, real value], ...]``}
            for replaced default values. A predicted argument value is mapped back only when it has
            the masked value's exact JSON type and is equal to it.

    JSON-serializable through :meth:`to_dict` / :meth:`from_dict` (evaluation stores it).
    """

    functions: dict[str, str] = field(default_factory=dict)
    parameters: dict[str, dict[str, str]] = field(default_factory=dict)
    values: dict[str, dict[str, list[list[Any]]]] = field(default_factory=dict)

    def is_empty(self) -> bool:
        """True for an unmasked row (nothing to map back)."""
        return not (self.functions or self.parameters or self.values)

    def to_dict(self) -> dict[str, Any]:
        """``{"functions": ..., "parameters": ..., "values": ...}``, plain JSON types only."""
        return {
            "functions": dict(self.functions),
            "parameters": {f: dict(m) for f, m in self.parameters.items()},
            "values": {
                f: {p: [list(pair) for pair in pairs] for p, pairs in m.items()} for f, m in self.values.items()
            },
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "InverseMap":
        """Inverse of :meth:`to_dict` (missing keys read as empty)."""
        return cls(
            functions=dict(d.get("functions") or {}),
            parameters={f: dict(m) for f, m in (d.get("parameters") or {}).items()},
            values={
                f: {p: [list(pair) for pair in pairs] for p, pairs in m.items()}
                for f, m in (d.get("values") or {}).items()
            },
        )

    def unmask_name(self, name: str) -> str:
        """The real function name for ``name`` (unknown names are returned unchanged)."""
        return self.functions.get(name, name)


def _unmask_value(value: Any, pairs: list[list[Any]] | None) -> Any:
    if not pairs:
        return value
    tv = type(value)
    for masked, real in pairs:
        if type(masked) is tv and masked == value:
            return real
    return value


def unmask_calls(calls: Iterable[Any], inverse: InverseMap) -> list[dict[str, Any]]:
    """Map predicted calls of a masked row back to real names, keys and default values.

    Args:
        calls: predicted calls, each a ``{"name", "arguments"}`` dict (a :class:`ToolCall` is
            accepted too). Other keys of a call are kept.
        inverse: the row's :class:`InverseMap`.

    Returns:
        New list of new dicts. Unknown function names, unknown argument keys, values that match no
        replaced default, and malformed items (not a dict, arguments not a dict) are left as they are.
    """
    out: list[dict[str, Any]] = []
    functions, parameters, values = inverse.functions, inverse.parameters, inverse.values
    for call in calls:
        if isinstance(call, ToolCall):
            call = call.to_dict()
        if not isinstance(call, dict):
            out.append(call)
            continue
        new = dict(call)
        name = call.get("name")
        real = functions.get(name, name) if isinstance(name, str) else name
        new["name"] = real
        args = call.get("arguments")
        if isinstance(args, dict) and isinstance(real, str):
            pmap = parameters.get(real) or {}
            vmap = values.get(real) or {}
            new_args = {}
            for k, v in args.items():
                rk = pmap.get(k, k)
                new_args[rk] = _unmask_value(v, vmap.get(rk))
            new["arguments"] = new_args
        out.append(new)
    return out
