"""Masking one row, and rows of a dataset: plan the names and defaults, then rewrite the row."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Sequence

from ..schema import Example, Tool, ToolCall
from .config import MaskingConfig
from .defaults import UsedDefaults, plan_defaults
from .inverse import InverseMap
from .names import draw_names, row_rng
from .rewrite import RowPlan, build_tools, rewrite_call, rewrite_query


__all__ = [
    "MaskedExample",
    "mask_dataset_rows",
    "mask_example",
    "mask_row",
    "plan_function_names",
    "plan_parameter_names",
]


@dataclass
class MaskedExample:
    """Result of masking one row.

    Attributes:
        example: the masked row (a new :class:`Example`; the input is never mutated). For a row left
            unmasked by :func:`mask_dataset_rows` this is the input object itself: treat it as
            read-only.
        inverse: maps masked names / values back (empty for an unmasked row).
        masked_kinds: kinds applied to at least one item, among ``"function"``, ``"parameter"``,
            ``"default"``, ``"shuffle"`` (empty for an unmasked row).
    """

    example: Example
    inverse: InverseMap = field(default_factory=InverseMap)
    masked_kinds: set[str] = field(default_factory=set)

    @property
    def is_masked(self) -> bool:
        """True when at least one kind was applied."""
        return bool(self.masked_kinds)


def plan_function_names(
    tools: list[Tool], rng: random.Random, config: MaskingConfig, used: set[str]
) -> dict[str, str]:
    """Real -> masked function name for each distinct tool name, in tool order (:func:`draw_names`;
    drawn names are added to ``used``). Empty for a row without tools."""
    real = list(dict.fromkeys(t.name for t in tools))
    if not real:
        return {}
    return dict(zip(real, draw_names(rng, len(real), config.function_name_length, config, used)))


def plan_parameter_names(
    tools: list[Tool], rng: random.Random, config: MaskingConfig, used: set[str]
) -> dict[str, dict[str, str]]:
    """Real function name -> {real parameter name -> masked name}, drawn in tool and parameter
    order (:func:`draw_names`; drawn names are added to ``used``). Empty when no tool has parameters."""
    keys: list[tuple[str, str]] = []
    maps: dict[str, dict[str, str]] = {}
    for t in tools:
        if t.parameters:
            pm = maps.setdefault(t.name, {})
            for p in t.parameters:
                if p.name not in pm:
                    pm[p.name] = ""
                    keys.append((t.name, p.name))
    if not keys:
        return {}
    for (fname, pname), masked in zip(keys, draw_names(rng, len(keys), config.parameter_name_length, config, used)):
        maps[fname][pname] = masked
    return maps


def mask_example(example: Example, config: MaskingConfig, rng: random.Random) -> MaskedExample:
    """Mask one row (always; the "is this row masked" draw belongs to :func:`mask_row`).

    Rules: Hammer §3 (arXiv 2410.04587) with the reference code's bugs fixed; the module docstring
    of :mod:`hammer_train.masking` states them. Draw order (fixed, so one ``rng`` state gives one
    result): three ``rng.random()`` draws decide function / parameter / default masking against
    ``config.*_prob``; then function names in tool order, then parameter names in tool and
    parameter order (each: all lengths, then all characters in one draw); then fresh default
    values; then the shuffle. The new row shares the input's immutable pieces (``extra`` dicts
    except a rewritten ``enum``; strings): treat both as read-only.

    Args:
        example: the row; never mutated.
        config: masking settings.
        rng: the row's random source (usually :func:`row_rng`).

    Returns:
        :class:`MaskedExample`: a new ``Example`` (same ``source``, ``row``, ``kind``), its
        :class:`InverseMap` and the kinds applied.

    Raises:
        ValueError: no unique masked name can be drawn (name lengths / alphabet too small for the row).
    """
    r_fn, r_par, r_def = rng.random(), rng.random(), rng.random()
    used = {name for t in example.tools for name in (t.name, *(p.name for p in t.parameters))}
    functions = plan_function_names(example.tools, rng, config, used) if r_fn < config.function_prob else {}
    parameters = plan_parameter_names(example.tools, rng, config, used) if r_par < config.parameter_prob else {}
    used_defaults = UsedDefaults()
    if r_def < config.default_prob and example.answers:
        used_defaults = plan_defaults(example, config, rng)
    plan = RowPlan(functions, parameters, used_defaults.plans, used_defaults.query_replacer)

    tools = build_tools(example.tools, plan, config.duplicate_padding)
    shuffled = config.shuffle_tools and len(tools) > 1
    if shuffled:
        rng.shuffle(tools)
    masked = Example(
        query=rewrite_query(example.query, plan),
        tools=tools,
        answers=[ToolCall(*rewrite_call(c.name, c.arguments, plan)) for c in example.answers],
        source=example.source,
        row=example.row,
        kind=example.kind,
    )
    inverse = InverseMap(
        functions={m: r for r, m in functions.items()},
        parameters={f: {m: r for r, m in pm.items()} for f, pm in parameters.items()},
        values=used_defaults.inverse_values,
    )
    done = {"function": functions, "parameter": parameters, "default": used_defaults.plans, "shuffle": shuffled}
    return MaskedExample(example=masked, inverse=inverse, masked_kinds={k for k, v in done.items() if v})


def mask_row(example: Example, config: MaskingConfig, seed: int, row: int, epoch: int = 0) -> MaskedExample:
    """Mask one row as :func:`mask_dataset_rows` would mask it at position ``row``.

    The row's rng is ``row_rng(seed, row, epoch)``; its first draw decides whether the row is
    masked (``< config.row_prob``; Hammer: 2/3), then :func:`mask_example` continues with it.
    Callers pass the epoch they mean (the static copy index, or the training epoch).

    Returns:
        A :class:`MaskedExample`; an unmasked row holds the input object, an empty inverse and
        no kinds.

    Raises:
        ValueError: from :func:`mask_example`.
    """
    rng = row_rng(seed, row, epoch)
    if rng.random() < config.row_prob:
        return mask_example(example, config, rng)
    return MaskedExample(example=example)


def mask_dataset_rows(
    examples: Sequence[Example], config: MaskingConfig, seed: int, epoch: int = 0
) -> list[MaskedExample]:
    """Mask a list of rows the Hammer way, reproducibly per row.

    Row ``i`` uses ``row_rng(seed, i, e)`` with ``e = epoch`` when ``config.dynamic`` else ``0``.
    Its first draw decides whether the row is masked (``rng.random() < config.row_prob``; Hammer
    masks 2/3 of rows, arXiv 2410.04587 §3); a masked row then goes through :func:`mask_example`
    with the same rng. So the result for a row depends only on ``(seed, i, e)``, the row and the
    config.

    Args:
        examples: rows, indexed by position.
        config: masking settings.
        seed: base seed.
        epoch: training epoch (ignored unless ``config.dynamic``).

    Returns:
        One :class:`MaskedExample` per row, in order; an unmasked row holds the input object itself,
        an empty inverse and no kinds.

    Raises:
        ValueError: from :func:`mask_example`.
    """
    e = epoch if config.dynamic else 0
    return [mask_row(ex, config, seed, i, e) for i, ex in enumerate(examples)]
