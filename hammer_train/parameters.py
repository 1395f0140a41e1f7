"""A tool's parameters: :class:`Parameter`, and the parameters map of a tool spec read in either
layout (flat xLAM / Hammer, or JSON schema), with each parameter's ``required`` flag decided.

The layouts are described in :mod:`hammer_train.schema`; :meth:`hammer_train.schema.Tool.from_dict`
is the entry point.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import DataError


__all__ = ["MISSING", "Parameter", "parameters_layout", "parse_parameters"]


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


def parameters_layout(spec: dict[str, Any], params_spec: dict[str, Any], extra: dict[str, Any]):
    """Which layout a tool spec's ``parameters`` object (``params_spec``) is in.

    Args:
        spec: the whole tool spec (its tool-level ``"required"`` list counts in the xLAM layout).
        params_spec: ``spec["parameters"]``.
        extra: the tool's extra keys; layout-specific keys are recorded in it (mutated).

    Returns:
        ``(layout, required, props)``: ``"openai"`` or ``"xlam"``, the list of required names
        (``[]`` when none; not checked to be a list here), and the map parameter name -> spec.
    """
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


def parse_parameters(props: dict, required: list, layout: str, extra: dict[str, Any], field_name: str):
    """The :class:`Parameter` list of a tool's ``props`` map, with each one's ``required`` flag decided.

    A parameter is required when it is in ``required`` (JSON schema, or xLAM with a tool-level
    list, as Hammer's Seal-Tools set has), when it carries ``"required": true`` (the flags BFCL's
    Hammer handler writes, ``bfcl_eval/model_handler/local_inference/hammer.py``), or, in plain
    xLAM, when it has no default and its type does not say ``optional``.

    Raises:
        DataError: ``bad_name`` for a parameter name that is not a non-empty string, ``bad_field``
            for a spec that is not an object; the field is ``{field_name}.parameters[.name]``.
    """
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
