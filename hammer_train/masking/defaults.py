"""Default values an answer uses: finding them, drawing fresh values, planning their replacement.

The rules are in the module docstring of :mod:`hammer_train.masking` ("Default values"); the
typed comparison and rendering are in :mod:`.values`, the text replacement in :mod:`.text`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from ..schema import Example, Parameter
from .config import MaskingConfig
from .names import random_string
from .text import Replacer, case_variants, query_text
from .values import decode_scalar, float_decimals, render_like, same_value, scalars, skippable, spelling


__all__ = ["DefaultPlan", "UsedDefaults", "fresh_value", "plan_defaults"]


@dataclass
class DefaultPlan:
    """How one used default of one parameter is replaced.

    Attributes:
        new_default: the spec's new ``default`` (the fresh value in the old default's JSON type).
        replacer: old -> new spellings for the parameter's description and the query.
        new_value: the typed fresh value.
        old_value: the typed old value (the default, normalized).
        int_mode: the value counts as an integer (see :func:`~.values.render_like`).
    """

    new_default: Any
    replacer: Replacer
    new_value: Any
    old_value: Any
    int_mode: bool


@dataclass
class UsedDefaults:
    """Every used default of a row that gets a fresh value.

    Attributes:
        plans: real function name -> real parameter name -> :class:`DefaultPlan`.
        query_replacer: all spellings of all plans, for the query.
        inverse_values: real function name -> real parameter name -> ``[[masked, real], ...]``
            (:attr:`~.inverse.InverseMap.values`).
    """

    plans: dict[str, dict[str, DefaultPlan]] = field(default_factory=dict)
    query_replacer: Replacer = field(default_factory=Replacer)
    inverse_values: dict[str, dict[str, list[list[Any]]]] = field(default_factory=dict)


def fresh_value(
    base: Any, int_mode: bool, rng: random.Random, config: MaskingConfig, avoid: list[Any], query_text: str
) -> Any:
    """A fresh value for the typed default ``base`` (Hammer's rules, arXiv 2410.04587 §3, typed).

    bool: ``not base``; string: 5 characters from the letters and digits of ``config.alphabet``,
    not ``base``, not inside ``query_text``; integer (``int_mode``): ``base + k``, ``k`` uniform in
    1..4; float: ``round(base + u, n)``, ``u ~ U(0, 1)``, ``n`` the decimals of ``base``, bumped
    one unit in the last place when rounding gave ``base`` back. Redrawn (up to 20 times; integers
    step up from ``base + 5``) while equal to a value of ``avoid``.

    Returns:
        The fresh value; it can still equal a value of ``avoid`` when none was found (callers check).
    """
    tb = type(base)
    if tb is bool:
        return not base
    if tb is str:
        new = base
        for _ in range(20):
            new = random_string(rng, 5, config._value_alphabet, config._value_tables)
            if new != base and new not in query_text and not any(same_value(new, a) for a in avoid):
                break
        return new
    if int_mode:
        ib = int(base)
        new = ib + rng.randint(1, 4)
        k = 5
        while any(same_value(new, a) for a in avoid) and k < 1000:
            new = ib + k
            k += 1
        return new
    dec = float_decimals(base)
    unit = 10.0**-dec
    new = base
    for _ in range(20):
        new = round(base + rng.random(), dec)
        if new == base:
            new = round(base + unit, dec)
        if not any(same_value(new, a) for a in avoid):
            break
    return new


def plan_defaults(example: Example, config: MaskingConfig, rng: random.Random) -> UsedDefaults:
    """Find the row's used defaults and draw their fresh values, in tool and parameter order.

    A default is used when an answer calling its function passes it (typed comparison); it is left
    unmasked when another argument passes the same value, or when no fresh value differs from the
    parameter's other passed and allowed (``enum``) values. Equal old values share one fresh value.

    Args:
        example: the row (its answers decide what is used); never mutated.
        config: gives the alphabet of fresh strings.
        rng: the row's random source (draws only for defaults that get a fresh value).
    """
    out = UsedDefaults()
    calls_by_fn: dict[str, list[dict[str, Any]]] = {}
    for c in example.answers:
        calls_by_fn.setdefault(c.name, []).append(c.arguments)
    passed = [(c.name, k, v) for c in example.answers for k, a in c.arguments.items() for v in scalars(a)]
    fresh_cache: dict[tuple, Any] = {}
    qtext: str | None = None
    for t in example.tools:
        arg_lists = calls_by_fn.get(t.name)
        if not arg_lists or t.name in out.plans:
            continue
        for p in t.parameters:
            use = _used_default(t.name, p, arg_lists, passed)
            if use is None:
                continue
            places, others = use
            base, int_mode = _typed_base(p.default, places)
            qtext = query_text(example.query) if qtext is None else qtext
            new = _cached_fresh(base, int_mode, others, fresh_cache, rng, config, qtext)
            if new is None:
                continue  # no unambiguous fresh value (a bool whose negation is also passed)
            rep = _spellings(p.default, base, new, places, int_mode)
            for o, (n, _) in rep.pairs.items():
                out.query_replacer.add(o, n)
            plan = DefaultPlan(render_like(new, p.default, int_mode), rep, new, base, int_mode)
            out.plans.setdefault(t.name, {})[p.name] = plan
            pairs = out.inverse_values.setdefault(t.name, {}).setdefault(p.name, [])
            pairs.extend(_inverse_pairs(new, places, int_mode))
    return out


def _used_default(
    fn: str, p: Parameter, arg_lists: list[dict[str, Any]], passed: list[tuple[str, str, Any]]
) -> tuple[list[Any], list[Any]] | None:
    """``(places, others)``: the values passed to ``p`` that equal its default, and the other
    values it must not become (other passed values, other ``enum`` entries); ``None`` when the
    default is skippable, unused, or also passed to another argument (its text in the query backs
    that argument too)."""
    d = p.default
    if skippable(d):
        return None
    places = []
    others = []
    for args in arg_lists:
        if p.name in args:
            v = args[p.name]
            if same_value(d, v):
                places.append(v)
            else:
                others.append(v)
    if not places:
        return None
    if any(same_value(d, v) for f, k, v in passed if (f, k) != (fn, p.name)):
        return None
    enum = p.extra.get("enum") if p.extra else None
    if isinstance(enum, list):  # the fresh value must not be another allowed value
        others.extend(e for e in enum if not same_value(d, e))
    return places, others


def _typed_base(d: Any, places: list[Any]) -> tuple[Any, bool]:
    """The default normalized to the answers' type (a numeric / boolean string used by a
    non-string answer decodes), and whether it counts as an integer."""
    base = d
    if type(d) is str and any(type(v) is not str for v in places):
        base = decode_scalar(d)
    tb = type(base)
    int_mode = tb is int or (tb is float and base.is_integer() and any(type(v) is int for v in places))
    return base, int_mode


def _cached_fresh(
    base: Any,
    int_mode: bool,
    others: list[Any],
    cache: dict[tuple, Any],
    rng: random.Random,
    config: MaskingConfig,
    qtext: str,
) -> Any:
    """The row's fresh value for ``base`` (reused for an equal old value when it avoids
    ``others``), or ``None`` when the one drawn equals one of ``others``."""
    key = (type(base).__name__, base, int_mode)
    new = cache.get(key)
    if new is None or any(same_value(new, a) for a in others):
        new = fresh_value(base, int_mode, rng, config, others, qtext)
        if any(same_value(new, a) for a in others):
            return None
        cache.setdefault(key, new)
    return new


def _spellings(d: Any, base: Any, new: Any, places: list[Any], int_mode: bool) -> Replacer:
    """Old -> new text spellings: four case variants of a string or bool; for a number every
    string spelling seen (the default and the answers), then the canonical spellings."""
    rep = Replacer()
    tb = type(base)
    if tb is str:
        for o, n in case_variants(base, new):
            rep.add(o, n)
    elif tb is bool:
        for o, n in case_variants(spelling(base), spelling(new)):
            rep.add(o, n)
    else:
        for occ in [d] + places:
            if type(occ) is str:
                rep.add(occ, render_like(new, occ, int_mode))
        if tb is int:
            rep.add(str(base), str(new))
        else:
            rep.add(repr(base), repr(float(new)))
            if int_mode:
                rep.add(str(int(base)), str(int(new)))
    return rep


def _inverse_pairs(new: Any, places: list[Any], int_mode: bool) -> list[list[Any]]:
    """``[[masked, real], ...]`` for each distinct typed masked value of ``places``."""
    pairs = []
    seen = set()
    for v in places:
        mv = render_like(new, v, int_mode)
        k = (type(mv).__name__, mv)
        if k not in seen:
            seen.add(k)
            pairs.append([mv, v])
    return pairs
