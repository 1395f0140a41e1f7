"""A recipe's sources -> one list of examples: read, weighted, fitted to the length, irrelevance mixed.

Each source is read by its reader (:mod:`hammer_train.formats`), weighted (``weight: 0.5`` takes
half of the rows, ``2.0`` repeats them), split into pools (call rows, existing no-call rows, an
external irrelevance set), cut to rows whose core fits ``max_length`` (:mod:`hammer_train.fitting`)
and mixed to the recipe's irrelevance share (:func:`hammer_train.irrelevance.mix_irrelevance`;
paper arXiv 2410.04587 §3). Everything is deterministic from the recipe seed.
"""

from __future__ import annotations

import math
import random
from pathlib import Path

from .config import DataSource, HammerArguments, RecipeError
from .data_report import DataReport
from .fitting import RowFitter
from .formats import SourceError, read_source
from .schema import DataError, Example


__all__ = ["load_examples", "holdout_keys"]


def _source_name(src: DataSource, i: int) -> str:
    return f"{i}:{src.format}:{src.path}"


def _weighted(examples: list[Example], weight: float, rng: random.Random) -> list[Example]:
    whole = int(math.floor(weight))
    out = examples * whole
    rest = round((weight - whole) * len(examples))
    if rest:
        picks = sorted(rng.sample(range(len(examples)), rest))
        out += [examples[j] for j in picks]
    return out


_NOT_MIXED = {"built": 0, "built_too_long": 0, "not_drawn": 0}
"""The length record's mixing counts when nothing is mixed (evaluation-loss sets)."""


def _drop_cores_too_long(pools: dict[str, list[Example]], fitter: RowFitter | None, mix: bool) -> dict[str, int]:
    """Drop, in place, the rows whose core does not fit ``fitter.max_length`` (only call rows
    when mixing: the mixer skips ``[]`` candidates that cannot fit itself). Returns the counts
    per pool (all 0 without ``fitter``)."""
    too_long = {name: 0 for name in pools}
    if fitter is None:
        return too_long
    for name in ("call",) if mix else tuple(pools):
        ok = fitter.cores_fit(pools[name])
        too_long[name] = ok.count(False)
        pools[name] = [r for r, keep in zip(pools[name], ok, strict=True) if keep]
    return too_long


def _mix_pools(
    pools: dict[str, list[Example]],
    args: HammerArguments,
    seed: int,
    fitter: RowFitter | None,
    report: DataReport,
    too_long: dict[str, int],
) -> tuple[list[Example], dict[str, int]]:
    """Mix the pools with :func:`hammer_train.irrelevance.mix_irrelevance`; set
    ``report.irrelevance`` and the ``[]`` pools' ``too_long`` counts. Returns the rows and
    ``{"built", "built_too_long", "not_drawn"}`` for the length record."""
    from .irrelevance import mix_irrelevance

    external = pools["irrelevance"]
    rows, irr = mix_irrelevance(
        pools["call"],
        args.irrelevance_ratio,
        seed,
        external=external or None,
        existing_no_call=pools["no_call"] or None,
        fits=fitter.core_fits if fitter is not None else None,
    )
    report.irrelevance = irr.to_dict()
    too_long["no_call"], too_long["irrelevance"] = irr.too_long["existing"], irr.too_long["external"]
    not_drawn = irr.existing_dropped + len(external) - irr.n_irrelevance["external"] - too_long["irrelevance"]
    return rows, {"built": irr.n_irrelevance["built"], "built_too_long": irr.too_long["built"], "not_drawn": not_drawn}


def load_examples(
    args: HammerArguments,
    seed: int,
    sources: list[DataSource] | None = None,
    mix: bool = True,
    fitter: RowFitter | None = None,
) -> tuple[list[Example], DataReport]:
    """Read every source, apply weights, and mix in irrelevance rows.

    Args:
        args: recipe arguments (sources, strict, irrelevance settings).
        seed: recipe seed; weighting and mixing are deterministic from it.
        sources: override ``args.sources`` (used for ``eval_sources``).
        mix: apply irrelevance mixing (off for evaluation-loss sets).
        fitter: the length step: rows whose core does not fit its ``max_length``
            (:meth:`RowFitter.cores_fit`) are dropped before mixing and counted in
            ``report.length``; the mixer skips ``[]`` candidates that cannot fit. ``None``: no
            length step here.

    Returns:
        ``(examples, report)``: examples in their final order (row index = position).

    A source that gives no rows (an empty file, or every row dropped) is a warning in
    ``report.warnings`` and the log, not an error, as long as another source gives rows.

    Raises:
        DataError: in strict mode, the first invalid row (message names source, row and field);
            a local file is named by its path as the recipe writes it.
        RecipeError: a source's file does not exist (the message names ``sources[i].path``).
        SourceError: no usable rows at all (a ``ValueError``).
    """
    report = DataReport()
    field_name = "sources" if sources is None else "eval_sources"
    holdout = holdout_keys(args.holdout_benchmarks)
    pools = _read_pools(args.sources if sources is None else sources, args.strict, field_name, seed, report, holdout)
    used = sum(len(p) for p in pools.values())
    too_long = _drop_cores_too_long(pools, fitter, mix)
    if not mix:
        rows, mixed = pools["call"] + pools["no_call"] + pools["irrelevance"], _NOT_MIXED
    else:
        rows, mixed = _mix_pools(pools, args, seed, fitter, report, too_long)
    if fitter is not None:
        report.length = {
            "max_length": fitter.max_length,
            "rows_used": used,
            "dropped_too_long": too_long,
            "not_drawn": mixed["not_drawn"],
            "built": mixed["built"],
            "rows_kept": len(rows),
            "built_too_long": mixed["built_too_long"],
        }
    if not rows:
        raise SourceError(
            "no usable rows: every source was empty or every row was dropped"
            + (f" ({'; '.join(report.warnings)})" if report.warnings else "")
        )
    return rows, report


def holdout_keys(benchmarks: list[str]) -> set[str]:
    """The queries of held-out benchmarks (:func:`hammer_train.evaluation.tool_call_slice.query_key`:
    whitespace collapsed, case folded): a training row with one of them is a benchmark row.

    Raises:
        RecipeError: an unknown benchmark name, or one whose data is missing (names the field).
    """
    if not benchmarks:
        return set()
    from .evaluation.benchmarks import BENCHMARKS, load_benchmark
    from .evaluation.tool_call_slice import query_key

    keys: set[str] = set()
    for name in benchmarks:
        if name not in BENCHMARKS:
            raise RecipeError(f"holdout_benchmarks: unknown benchmark {name!r}; known: {', '.join(BENCHMARKS)}")
        try:
            keys |= {query_key(ex) for ex in load_benchmark(name).examples}
        except FileNotFoundError as exc:
            raise RecipeError(f"holdout_benchmarks: {name}: {exc}") from None
    return keys


def _read_pools(
    sources: list[DataSource], strict: bool, field_name: str, seed: int, report: DataReport, holdout: set[str]
) -> dict[str, list[Example]]:
    """Read and weight every source into three pools: ``call`` rows, existing ``no_call`` rows and
    ``irrelevance`` rows (an external irrelevance set, or rows a reader marks so); rows whose query
    is in ``holdout`` are dropped (``held_out_benchmark_row``); each source's counts go into
    ``report.sources``, an empty source into ``report.warnings``."""
    from .evaluation.tool_call_slice import query_key

    rng = random.Random(seed)
    pools: dict[str, list[Example]] = {"call": [], "no_call": [], "irrelevance": []}
    for i, src in enumerate(sources):
        result = _read(src, strict, f"{field_name}[{i}]")
        if result.rows_read == 0:
            report.warn(f"{_source_name(src, i)}: the source is empty (0 rows read)")
        elif not result.examples:
            reasons = ", ".join(f"{k}: {v}" for k, v in result.dropped.most_common())
            report.warn(f"{_source_name(src, i)}: no usable rows, all {result.candidates} dropped ({reasons})")
        examples = [ex for ex in result.examples if ex.kind != "relevance"]
        dropped = dict(result.dropped)
        if len(examples) < len(result.examples):
            # BFCL live_relevance: a call is expected but no gold call exists; evaluation only.
            dropped["relevance_without_gold"] = len(result.examples) - len(examples)
        if holdout:
            kept = [ex for ex in examples if query_key(ex) not in holdout]
            if len(kept) < len(examples):
                dropped["held_out_benchmark_row"] = len(examples) - len(kept)
            examples = kept
        if src.max_rows is not None:
            examples = examples[: src.max_rows]
        used = _weighted(examples, src.weight, rng)
        report.sources[_source_name(src, i)] = {
            "rows_read": result.rows_read,
            "examples": len(result.examples),
            "dropped": dropped,
            "warnings": dict(result.warnings),
            "used": len(used),
            "errors": list(result.errors)[:5],
        }
        for ex in used:
            if src.kind == "irrelevance" or ex.kind == "irrelevance":
                pools["irrelevance"].append(ex)
            else:
                pools["call" if ex.answers else "no_call"].append(ex)
    return pools


def _read(src: DataSource, strict: bool, field_name: str):
    """``read_source`` for a recipe's source. A missing file (or an unreachable hub dataset) is a
    :class:`RecipeError` naming the field (``sources[2].path``); a strict error names a local file
    by its path as the recipe writes it (the reader's own name for it is the file stem)."""
    try:
        return read_source(
            src.format,
            src.path,
            split=src.split,
            config=src.name,
            strict=strict,
            kind=src.kind if src.format == "xlam" else None,
            # the evaluation-set reader keeps rows that fail a check by default; training drops them
            **({"validate": True} if src.format == "hammer_eval" else {}),
        )
    except (FileNotFoundError, ConnectionError) as exc:  # no such file; a hub dataset that cannot be reached
        raise RecipeError(f"{field_name}.path: {exc}") from None
    except DataError as err:
        if err.source == Path(src.path).stem:
            raise err.located(source=src.path) from None
        raise
