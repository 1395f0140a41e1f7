"""Run benchmarks through a generator, score them and report: results JSON plus markdown tables.

Per benchmark the results hold (scored as the Hammer authors score, their ``evaluation/evaluate.py`` in
MadeAgents/Hammer; layout: :class:`hammer_train.results.Results`):

* ``n`` and ``subset`` (which rows: "first 10 of 294 rows (--limit 10)");
* ``hammer``: :func:`~.metrics.hammer_f1` (the authors' micro F1, API and arguments, bit-compatible);
* ``strict``: :func:`~.metrics.strict_f1` (one-to-one matching, refusals scored);
* ``format_errors``: outputs Hammer's parser rejects, and ``lenient_format_errors``: outputs even
  our lenient :func:`~.parse.parse_calls` cannot read;
* ``cut_at_token_limit``: outputs that ended at the token limit without a stop token (finish
  reason ``"length"``, as vLLM and OpenAI name it), and ``format_errors_cut``: Hammer format
  errors among them (an unfinished answer, most often a loop); both ``None`` when the generator
  gave no finish reasons (:class:`~.generate.Generation`);
* ``gold_over_token_limit``: rows whose gold answer alone is longer than the token limit
  (:func:`gold_over_token_limit`), which a right answer cannot fit; absent when not counted;
* ``irrelevance``: :func:`~.metrics.irrelevance_accuracy`, when some gold is ``[]``;
* ``bfcl_ast``: :func:`~.bfcl_ast.bfcl_ast_accuracy` for ``bfcl_*`` benchmarks;
* ``drop`` (on a ``*_renamed`` or ``*_shuffled`` benchmark when its plain benchmark ran on the
  same rows): plain minus variant for each headline score.

For a renamed benchmark the outputs are mapped back to the real names before scoring: the Hammer
parse of the text, unmasked and written back as JSON, for Hammer's F1 (so a format error stays a
format error), and the lenient parse, unmasked, for the other scores.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..masking import InverseMap, unmask_calls
from ..prompts import format_answers
from ..results import DROP_KEYS, Results
from ..tables import comparison_table
from .benchmarks import Benchmark, load_benchmark
from .bfcl_ast import bfcl_ast_accuracy
from .generate import GenerateFn, RenderFn, cut_at_token_limit, finish_reason, plain_renderer
from .metrics import hammer_f1, irrelevance_accuracy, strict_f1
from .parse import ParseResult, hammer_parse, parse_calls


logger = logging.getLogger(__name__)

__all__ = [
    "map_back",
    "unmask_strict",
    "NOT_OFFERED",
    "score_benchmark",
    "run_evaluation",
    "gold_over_token_limit",
    "results_table",
    "write_results",
    "load_results",
    "merge_results",
    "DROP_KEYS",
]

# --------------------------------------------------------------------------- scoring


NOT_OFFERED = "<not offered>"
"""Prefix given by :func:`unmask_strict` to a name the renamed prompt did not offer."""


def unmask_strict(calls: list, inverse: InverseMap) -> list:
    """Map the calls of a renamed row back to real names, refusing names the prompt never showed.

    :func:`~hammer_train.masking.unmask_calls` leaves unknown names as they are, so a prediction
    that guesses the *real* name (``get_weather``, never shown) would score as correct. Here a
    function name that is not a masked name, and an argument key that is not a masked parameter of
    that function, get the prefix :data:`NOT_OFFERED` first, so they can match nothing. A row
    whose inverse map is empty (nothing was masked) is mapped with ``unmask_calls`` alone.

    Args:
        calls: predicted calls (dicts; other items are passed through).
        inverse: the row's inverse map.

    Returns:
        New list of new call dicts.
    """
    if inverse.is_empty():
        return unmask_calls(calls, inverse)
    guarded = []
    for call in calls:
        if not isinstance(call, dict) or not isinstance(call.get("name"), str):
            guarded.append(call)
            continue
        new = dict(call)
        name = call["name"]
        if name not in inverse.functions:
            new["name"] = NOT_OFFERED + name
        args = call.get("arguments")
        if isinstance(args, dict):
            masked_keys = inverse.parameters.get(inverse.functions.get(name, ""), {})
            new["arguments"] = {(k if k in masked_keys else NOT_OFFERED + str(k)): v for k, v in args.items()}
        guarded.append(new)
    return unmask_calls(guarded, inverse)


def map_back(bench: Benchmark, outputs: Sequence[str]) -> tuple[list[str], list[ParseResult]]:
    """Predictions ready to score against ``bench.golds``.

    Args:
        bench: the benchmark the outputs answer.
        outputs: one generated text per row.

    Returns:
        ``(hammer_texts, parsed)``: per row the text for :func:`~.metrics.hammer_f1` and the lenient
        :class:`~.parse.ParseResult`. For a plain benchmark the texts are the outputs unchanged.
        For a renamed one, a text that Hammer's parser reads as a list of calls is replaced by
        that list with real names (``json.dumps``), other texts are kept (they stay format errors);
        lenient parses get their calls unmasked. Names the prompt did not show cannot match
        (:func:`unmask_strict`).

    Raises:
        ValueError: ``len(outputs) != len(bench)``.
    """
    if len(outputs) != len(bench):
        raise ValueError(f"benchmark {bench.name!r}: {len(outputs)} outputs for {len(bench)} rows")
    parsed = [parse_calls(o) for o in outputs]
    inverse = bench.inverse
    if inverse is None:
        return list(outputs), parsed
    texts: list[str] = []
    mapped: list[ParseResult] = []
    for out, res, inv in zip(outputs, parsed, inverse, strict=True):
        h = hammer_parse(out)
        texts.append(json.dumps(unmask_strict(h.calls, inv), ensure_ascii=False) if h.calls is not None else out)
        mapped.append(ParseResult(unmask_strict(res.calls, inv), None, res.raw) if res.calls is not None else res)
    return texts, mapped


def score_benchmark(bench: Benchmark, outputs: Sequence[str]) -> dict:
    """All scores of one benchmark.

    Args:
        bench: the benchmark.
        outputs: one generated text per row, in row order.

    Returns:
        JSON-able ``{"n", "subset", "source", "format_errors", "lenient_format_errors",
        "cut_at_token_limit", "format_errors_cut" (``None`` both when no output carries a
        finish reason), "hammer", "strict", "irrelevance" (or ``None`` when no gold is ``[]``),
        "bfcl_ast" (or ``None`` for non-BFCL benchmarks), "renamed_from" and "shuffled_from" (the
        plain benchmark's name for that variant, else ``None``)}``.

    Raises:
        ValueError: wrong number of outputs, or a bad gold.
    """
    texts, parsed = map_back(bench, outputs)
    golds = bench.golds
    base, variant = bench.extra.get("base"), bench.extra.get("variant")
    hammer = hammer_f1(texts, golds)
    cut, cut_errors = _cut_counts(outputs, texts)
    result: dict[str, Any] = {
        "n": len(bench),
        "subset": bench.subset,
        "source": bench.extra.get("source"),
        "format_errors": hammer["format_errors"],
        "lenient_format_errors": sum(1 for p in parsed if p.calls is None),
        "cut_at_token_limit": cut,
        "format_errors_cut": cut_errors,
        "hammer": hammer,
        "strict": strict_f1(parsed, golds),
        "irrelevance": irrelevance_accuracy(parsed, golds) if any(not g for g in golds) else None,
        "bfcl_ast": None,
        "renamed_from": base if variant == "renamed" else None,
        "shuffled_from": base if variant == "shuffled" else None,
    }
    if bench.is_bfcl:
        cat = bench.extra["bfcl_category"]
        result["bfcl_ast"] = bfcl_ast_accuracy(
            [cat] * len(bench), bench.extra["functions"], [p.calls for p in parsed], bench.extra["possible_answers"]
        )
    return result


def _cut_counts(outputs: Sequence[str], texts: Sequence[str]) -> tuple[int | None, int | None]:
    """``(outputs cut at the token limit, Hammer format errors among them)``, or ``(None, None)``
    when no output says why it stopped. ``texts``: what Hammer's F1 parses (:func:`map_back`)."""
    flags = cut_at_token_limit(outputs)
    if flags is None:
        return None, None
    cut = [i for i, c in enumerate(flags) if c]
    return len(cut), sum(1 for i in cut if hammer_parse(texts[i]).calls is None)


def _generate_and_score(bench: Benchmark, prompts: list[str], generate_fn: GenerateFn) -> tuple[list[str], dict]:
    """Generate one output per prompt and score them: ``(outputs, score_benchmark(...) +
    {"generation_seconds"})``. Raises ValueError when ``generate_fn`` returns the wrong count."""
    logger.info("%s: %s, generating", bench.name, bench.subset)
    t0 = time.perf_counter()
    outputs = list(generate_fn(prompts))
    gen_s = time.perf_counter() - t0
    if len(outputs) != len(prompts):
        raise ValueError(f"generate_fn returned {len(outputs)} outputs for {len(prompts)} prompts")
    res = score_benchmark(bench, outputs)
    res["generation_seconds"] = round(gen_s, 3)
    logger.info(
        "%s: Hammer F1 api %.3f args %.3f, %d format errors (%s cut at the token limit) (%.1f s)",
        bench.name,
        res["hammer"]["api_f1"],
        res["hammer"]["args_f1"],
        res["format_errors"],
        res["format_errors_cut"],
        gen_s,
    )
    return outputs, res


def gold_over_token_limit(bench: Benchmark, count_tokens: Callable[[str], int], max_new_tokens: int) -> int:
    """How many rows of ``bench`` have a gold answer longer than the generation limit.

    The answer is written as the model is trained to write it (:func:`hammer_train.prompts.format_answers`
    of the row's answers as shown to the model, masked on a renamed benchmark) and tokenized alone.
    Such a row is cut at the limit, a format error, even when the model writes the gold answer: on
    the first 100 API-Bank L1 rows 2 gold answers take 129 and 130 SmolLM2 tokens, over the 128
    new tokens of docs/quality.md (the Hammer authors decode 512, DESIGN.md). Meaningful for the
    Hammer prompt style only.

    Args:
        bench: the benchmark.
        count_tokens: ``count_tokens(text) -> int``, the model's tokenizer without special tokens.
        max_new_tokens: the generation limit, in tokens.

    Returns:
        The number of such rows, ``0 <= n <= len(bench)``. Raises nothing of its own; a row
        without answers (``[]``) takes the few tokens of the fenced empty list.
    """
    return sum(count_tokens(format_answers(ex.answers)) > max_new_tokens for ex in bench.examples)


def _write_predictions(pred_file: Any, bench: Benchmark, prompts: list[str], outputs: list[str]) -> None:
    """Append one JSON line per row (layout: :func:`run_evaluation`'s ``predictions_path``)."""
    _, parsed = map_back(bench, outputs)
    ids = bench.extra.get("ids") or [str(i) for i in range(len(bench))]
    for i, (p, o, r, g) in enumerate(zip(prompts, outputs, parsed, bench.golds, strict=True)):
        rec = {
            "benchmark": bench.name,
            "index": i,
            "id": ids[i],
            "prompt": p,
            "output": o,
            "finish_reason": finish_reason(o),
            "calls": r.calls,
            "gold": g,
        }
        pred_file.write(json.dumps(rec, ensure_ascii=False, default=str) + "\n")
    pred_file.flush()


def run_evaluation(
    benchmarks: Sequence[str | Benchmark],
    generate_fn: GenerateFn,
    render_fn: RenderFn | None = None,
    *,
    limit: int | None = None,
    data_dir: str | Path | None = None,
    meta: dict | None = None,
    predictions_path: str | Path | None = None,
    count_tokens: Callable[[str], int] | None = None,
    max_new_tokens: int | None = None,
) -> dict:
    """Load, render, generate and score each benchmark in turn.

    Args:
        benchmarks: names from :data:`~.benchmarks.BENCHMARKS` or already-built
            :class:`~.benchmarks.Benchmark` objects.
        generate_fn: ``generate_fn(prompts: list[str]) -> list[str]`` (same length and order).
        render_fn: ``render(example) -> prompt``; default :func:`~.generate.plain_renderer`
            (tokenizer-free; give :func:`~.generate.chat_renderer` for a real model).
        limit: first ``limit`` rows of each named benchmark.
        data_dir: folder of Hammer's evaluation sets (see :func:`~.benchmarks.hammer_eval_dir`).
        meta: run description stored under ``"meta"`` (model, adapter, settings...).
        predictions_path: when given, a JSON-lines file written with one line per row:
            ``{"benchmark", "index", "id", "prompt", "output", "finish_reason" (``"stop"``,
            ``"length"`` or ``null``), "calls" (lenient parse, real names; ``null`` on a format
            error), "gold"}``.
        count_tokens, max_new_tokens: when both are given, each benchmark also counts
            :func:`gold_over_token_limit` (and a warning names the benchmarks that have any).

    Returns:
        ``{"meta": {...,"wall_seconds"}, "benchmarks": {name: score_benchmark(...) +
        {"generation_seconds", "failed_requests", "failures"}}}``, with ``drop`` set on renamed and
        shuffled benchmarks (:meth:`hammer_train.results.Results.add_drops`): the JSON layout of
        :class:`hammer_train.results.Results`.

    Raises:
        KeyError, FileNotFoundError: from :func:`~.benchmarks.load_benchmark`.
        ValueError: ``generate_fn`` returned the wrong number of outputs.
    """
    render_fn = render_fn or plain_renderer()
    t_start = time.perf_counter()
    out: dict[str, Any] = {"meta": dict(meta or {}), "benchmarks": {}}
    out["meta"].setdefault("limit", limit)
    pred_file = open(predictions_path, "w", encoding="utf-8") if predictions_path else None
    try:
        for item in benchmarks:
            bench = item if isinstance(item, Benchmark) else load_benchmark(item, limit=limit, data_dir=data_dir)
            prompts = [render_fn(ex) for ex in bench.examples]
            over = None  # counted before generating, so the warning comes before the long part
            if count_tokens is not None and max_new_tokens is not None:
                over = gold_over_token_limit(bench, count_tokens, max_new_tokens)
                if over:
                    logger.warning(
                        "%s: %d gold answers are longer than %d tokens: cut there even when right",
                        bench.name,
                        over,
                        max_new_tokens,
                    )
            outputs, res = _generate_and_score(bench, prompts, generate_fn)
            if over is not None:
                res["gold_over_token_limit"] = over
            out["benchmarks"][bench.name] = res
            if pred_file is not None:
                _write_predictions(pred_file, bench, prompts, outputs)
    finally:
        if pred_file is not None:
            pred_file.close()
    out["meta"]["wall_seconds"] = round(time.perf_counter() - t_start, 3)
    return Results.from_dict(out, "run_evaluation").add_drops().to_dict()


# --------------------------------------------------------------------------- files and tables


def _as_results(results: Results | dict, source: str = "results") -> Results:
    return results if isinstance(results, Results) else Results.from_dict(results, source)


def results_table(results: Results | dict) -> str:
    """Markdown table of one results file (:meth:`hammer_train.results.Results.table`).

    Columns: benchmark, rows, Hammer F1 api / args, strict F1 api / args, format errors (Hammer /
    lenient parser), irrelevance accuracy, BFCL AST accuracy, drop against the plain benchmark in
    Hammer F1 api / args (renamed and shuffled variants), and failed requests when any.
    A header line names the model and settings; the subsets (and failed rows) are listed under it.

    Raises:
        ValueError: ``results`` is not a results dict.
    """
    return _as_results(results).table()


def write_results(results: Results | dict, path: str | Path) -> tuple[Path, Path]:
    """Write ``results`` as JSON at ``path`` and its :func:`results_table` next to it (``.md``).

    Creates missing parent folders.

    Returns:
        ``(json_path, markdown_path)``.
    """
    json_path, md_path = _as_results(results).save(path)
    assert md_path is not None
    return json_path, md_path


def load_results(path: str | Path) -> Results:
    """Read a results JSON written by :func:`write_results` (:meth:`hammer_train.results.Results.load`).

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a results file, or a field of the wrong type (file and field named).
    """
    return Results.load(path)


def merge_results(paths: Sequence[str | Path], labels: Sequence[str] | None = None) -> str:
    """A markdown comparison table across several results files, one column group per run
    (:func:`hammer_train.tables.comparison_table`).

    Each group has: rows (``n``), Hammer F1 api / args, strict F1 api / args, Hammer format
    errors, and accuracy (BFCL AST accuracy for ``bfcl_*``, else irrelevance accuracy, else ``-``).
    Rows are the union of the benchmarks, in order of first appearance; a run that lacks a
    benchmark shows ``-``. A legend under the table names each run's model and settings.

    Args:
        paths: results JSON files.
        labels: one label per run (default: each file's stem).

    Returns:
        The markdown text.

    Raises:
        ValueError: no paths, or ``labels`` of another length; and as :func:`load_results`.
    """
    if not paths:
        raise ValueError("merge_results needs at least one results file")
    labels = list(labels) if labels is not None else [Path(p).stem for p in paths]
    if len(labels) != len(paths):
        raise ValueError(f"{len(labels)} labels for {len(paths)} results files")
    return comparison_table([(lab, str(p), load_results(p)) for lab, p in zip(labels, paths, strict=True)])
