"""Irrelevance rows: build them from call rows and mix them in at a target ratio.

Hammer trains on xLAM 60k plus 7.5k "XLAM-7.5k-Irrelevance" rows: a query whose needed function
was removed from ``tools``, with ``answers`` ``[]`` (about 11% of the mix; the paper's sweep found
about 10% best: more raises refusal accuracy and lowers call accuracy). Sources: arXiv 2410.04587
§3 and docs/design.md "What Hammer does".

:func:`make_irrelevance_example` builds one such row; :func:`mix_irrelevance` mixes call rows,
real no-call rows, external irrelevance rows and built ones so that the share of ``[]`` rows is the
requested ratio (to within one row), and reports what it did.
"""

from __future__ import annotations

import math
import random
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Sequence

from .schema import Example


__all__ = ["IrrelevanceReport", "make_irrelevance_example", "mix_irrelevance", "target_irrelevance_count"]

_DONOR_TRIES = 30


def make_irrelevance_example(example: Example, donors: Sequence[Example] | None, rng: random.Random) -> Example | None:
    """Turn a call row into an irrelevance row (Hammer's XLAM-7.5k-Irrelevance construction).

    Every function that the answers call is removed from ``tools``; the query is left unchanged
    (it still asks for what the removed function did, so no remaining tool fits) and ``answers``
    becomes ``[]``. If no tool remains, 1 to 3 tools (count uniform in 1..3) are taken from random
    donor rows: tools whose names differ from the removed functions and from each other. Tool
    order is kept for the remaining tools (masking shuffles later).

    Args:
        example: a row with at least one call; not mutated (the new row shares its ``Tool`` objects,
            which nothing here mutates).
        donors: rows to borrow tools from when none remains (may include ``example`` itself: its
            tools are all removed functions and are skipped), or ``None``.
        rng: random source for the donor draw (``rng`` is not touched when no donor is needed).

    Returns:
        A new :class:`Example` with ``kind="irrelevance"``, same ``query``, ``source`` and ``row``;
        or ``None`` when impossible: the row has no calls, or no tool remains and no usable donor
        tool was found in a bounded number of random tries (callers count these).
    """
    if not example.answers:
        return None
    removed = {c.name for c in example.answers}
    remaining = [t for t in example.tools if t.name not in removed]
    if not remaining:
        if not donors:
            return None
        want = rng.randint(1, 3)
        taken: set[str] = set()
        for _ in range(_DONOR_TRIES):
            if len(remaining) >= want:
                break
            donor = donors[rng.randrange(len(donors))]
            if not donor.tools:
                continue
            tool = donor.tools[rng.randrange(len(donor.tools))]
            if tool.name in removed or tool.name in taken:
                continue
            taken.add(tool.name)
            remaining.append(tool)
        if not remaining:
            return None
    return Example(
        query=example.query, tools=remaining, answers=[], source=example.source, row=example.row, kind="irrelevance"
    )


@dataclass
class IrrelevanceReport:
    """What :func:`mix_irrelevance` did.

    Attributes:
        target_ratio: requested share of ``[]`` rows.
        achieved_ratio: share of ``[]`` rows in the returned list (0.0 for an empty list).
        n_call: rows with at least one call.
        n_total: rows returned.
        n_target: ``round(ratio * n_call / (1 - ratio))``, the ``[]`` rows wanted.
        n_irrelevance: ``[]`` rows returned, by origin: ``external``, ``built``, ``existing``.
        existing_dropped: real no-call rows left out because there were more than ``n_target``.
        shortfall: ``[]`` rows missing because there were not enough candidates.
        built_failed: call rows :func:`make_irrelevance_example` could not turn into a row.
        too_long: ``[]`` candidates that ``fits`` rejected, by origin (``existing``, ``external``,
            ``built``); all 0 without ``fits``.
    """

    target_ratio: float
    achieved_ratio: float
    n_call: int
    n_total: int
    n_target: int
    n_irrelevance: dict[str, int] = field(default_factory=lambda: {"external": 0, "built": 0, "existing": 0})
    existing_dropped: int = 0
    shortfall: int = 0
    built_failed: int = 0
    too_long: dict[str, int] = field(default_factory=lambda: {"existing": 0, "external": 0, "built": 0})

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types."""
        return asdict(self)


def target_irrelevance_count(n_call: int, ratio: float) -> int:
    """Number of ``[]`` rows that make their share ``ratio`` next to ``n_call`` call rows:
    ``round(ratio * n_call / (1 - ratio))``.

    Raises:
        ValueError: naming ``irrelevance_ratio`` when ``ratio`` is not in [0, 1).
    """
    _check_ratio(ratio)
    return int(round(ratio * n_call / (1.0 - ratio)))


def _check_ratio(ratio: float) -> None:
    if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or math.isnan(ratio) or not (0.0 <= ratio < 1.0):
        raise ValueError(f"irrelevance_ratio must be in [0, 1), got {ratio!r}")


def _draw(
    pool: list[Example], k: int, rng: random.Random, fits: Callable[[Example], bool] | None, always: bool = False
) -> tuple[list[Example], int]:
    """Up to ``k`` rows of ``pool`` in pool order, sampled with ``rng`` (also when all are taken,
    with ``always``: the draws of earlier versions, kept so that results reproduce); with
    ``fits``, rows are tried in a random order and those it rejects are skipped.
    Returns ``(rows, rejected)``."""
    if fits is None:
        if len(pool) <= k and not always:
            return list(pool), 0
        return [pool[i] for i in sorted(rng.sample(range(len(pool)), min(k, len(pool))))], 0
    picked: list[int] = []
    rejected = 0
    for i in rng.sample(range(len(pool)), len(pool)) if len(pool) > k else range(len(pool)):
        if len(picked) >= k:
            break
        if fits(pool[i]):
            picked.append(i)
        else:
            rejected += 1
    return [pool[i] for i in sorted(picked)], rejected


def _check_no_calls(existing_no_call: list[Example] | None, external: list[Example] | None) -> None:
    """Raise ``ValueError`` for an ``existing_no_call`` or ``external`` row that has calls."""
    for name, rows in (("existing_no_call", existing_no_call or []), ("external", external or [])):
        for r in rows:
            if r.answers:
                raise ValueError(
                    f"{name} rows must have answers [], got a row with calls (source {r.source!r}, row {r.row})"
                )


def _build_irrelevance(
    calls: list[Example], need: int, rng: random.Random, fits: Callable[[Example], bool] | None
) -> tuple[list[Example], int, int]:
    """Up to ``need`` rows built from ``calls`` taken in a random order: ``(built, failed, too_long)``."""
    built: list[Example] = []
    built_failed = too_long = 0
    for i in rng.sample(range(len(calls)), len(calls)):
        if len(built) >= need:
            break
        row = make_irrelevance_example(calls[i], calls, rng)
        if row is None:
            built_failed += 1
        elif fits is not None and not fits(row):
            too_long += 1
        else:
            built.append(row)
    return built, built_failed, too_long


def mix_irrelevance(
    call_rows: list[Example],
    ratio: float,
    seed: int,
    external: list[Example] | None = None,
    existing_no_call: list[Example] | None = None,
    fits: Callable[[Example], bool] | None = None,
) -> tuple[list[Example], IrrelevanceReport]:
    """Mix call rows with ``[]`` rows so that ``[]`` rows are a share ``ratio`` of the result.

    The number of ``[]`` rows is ``n_target = round(ratio * N_call / (1 - ratio))`` (so the share is
    exact to within one row), where ``N_call`` counts rows with calls. They come, in this order, from:

    1. ``existing_no_call`` (real ``[]`` answers from the sources; rows of ``call_rows`` whose
       answers are ``[]`` are counted here too): all of them when they fit, else a deterministic
       sample of ``n_target`` (the rest is reported as ``existing_dropped``);
    2. ``external`` irrelevance rows, sampled deterministically;
    3. rows built with :func:`make_irrelevance_example` from call rows taken in a random order,
       each source row used at most once (donors: all call rows).

    With ``fits`` (a length check, :meth:`hammer_train.fitting.RowFitter.core_fits`), a ``[]``
    candidate it rejects is skipped and counted in ``too_long`` and the next candidate is drawn, so
    the share holds for rows that will fit; call rows are expected to be checked by the caller.
    If candidates run out the result has fewer ``[]`` rows and ``shortfall`` says how many. All
    call rows are kept (Hammer keeps all xLAM rows next to the irrelevance rows built from them;
    docs/design.md "What Hammer does"). Every draw, and the final shuffle of the combined list, uses one
    ``random.Random(seed)``, so the result depends only on the inputs and ``seed``.

    Args:
        call_rows: rows with calls (and possibly some with ``[]``, see above).
        ratio: target share of ``[]`` rows, in [0, 1) (Hammer: about 0.1).
        seed: random seed.
        external: ready irrelevance rows (answers must be ``[]``), or ``None``.
        existing_no_call: real no-call rows, or ``None``.
        fits: ``None``, or a predicate on ``[]`` candidates (existing, external and built rows).

    Returns:
        ``(rows, report)``: the shuffled combined list and an :class:`IrrelevanceReport`.

    Raises:
        ValueError: naming ``irrelevance_ratio`` when ``ratio`` is not in [0, 1); when an
            ``external`` or ``existing_no_call`` row has calls.
    """
    _check_ratio(ratio)
    rng = random.Random(seed)
    calls = [r for r in call_rows if r.answers]
    existing = [r for r in call_rows if not r.answers] + list(existing_no_call or [])
    _check_no_calls(existing_no_call, external)
    n_call = len(calls)
    n_target = target_irrelevance_count(n_call, ratio)
    counts = {"external": 0, "built": 0, "existing": 0}

    too_long = {"existing": 0, "external": 0, "built": 0}

    # 1. existing no-call rows
    n_existing = len(existing)
    existing, too_long["existing"] = _draw(existing, n_target, rng, fits)
    existing_dropped = n_existing - len(existing) - too_long["existing"]
    counts["existing"] = len(existing)
    need = n_target - len(existing)

    # 2. external irrelevance rows
    ext_rows: list[Example] = []
    if external and need > 0:
        ext_rows, too_long["external"] = _draw(external, need, rng, fits, always=True)
        need -= len(ext_rows)
    counts["external"] = len(ext_rows)

    # 3. built from call rows
    built: list[Example] = []
    built_failed = 0
    if need > 0 and calls:
        built, built_failed, too_long["built"] = _build_irrelevance(calls, need, rng, fits)
        need -= len(built)
    counts["built"] = len(built)

    combined = calls + existing + ext_rows + built
    rng.shuffle(combined)
    n_empty = counts["external"] + counts["built"] + counts["existing"]
    report = IrrelevanceReport(
        target_ratio=float(ratio),
        achieved_ratio=(n_empty / len(combined)) if combined else 0.0,
        n_call=n_call,
        n_total=len(combined),
        n_target=n_target,
        n_irrelevance=counts,
        existing_dropped=existing_dropped,
        shortfall=max(need, 0),
        built_failed=built_failed,
        too_long=too_long,
    )
    return combined, report
