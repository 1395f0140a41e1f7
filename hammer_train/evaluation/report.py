"""Run benchmarks through a generator, score them and report: results JSON plus markdown tables.

Per benchmark the results hold (DESIGN.md, "Evaluation exactly as the Hammer authors score it"):

* ``n`` and ``subset`` (which rows: "first 10 of 294 rows (--limit 10)");
* ``hammer``: :func:`~.metrics.hammer_f1` (the authors' micro F1, API and arguments, bit-compatible);
* ``strict``: :func:`~.metrics.strict_f1` (one-to-one matching, refusals scored);
* ``format_errors``: outputs Hammer's parser rejects, and ``lenient_format_errors``: outputs even
  our lenient :func:`~.parse.parse_calls` cannot read;
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
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..masking import InverseMap, unmask_calls
from .benchmarks import Benchmark, load_benchmark
from .bfcl_ast import bfcl_ast_accuracy
from .generate import GenerateFn, RenderFn, plain_renderer
from .metrics import hammer_f1, irrelevance_accuracy, strict_f1
from .parse import ParseResult, hammer_parse, parse_calls


logger = logging.getLogger(__name__)

__all__ = [
    "map_back",
    "unmask_strict",
    "NOT_OFFERED",
    "score_benchmark",
    "run_evaluation",
    "add_drops",
    "results_table",
    "write_results",
    "load_results",
    "merge_results",
    "DROP_KEYS",
]

DROP_KEYS = {
    "hammer_api_f1": ("hammer", "api_f1"),
    "hammer_args_f1": ("hammer", "args_f1"),
    "strict_api_f1": ("strict", "api_f1"),
    "strict_args_f1": ("strict", "args_f1"),
    "bfcl_ast_accuracy": ("bfcl_ast", "accuracy"),
}
"""Scores whose plain-minus-renamed difference is reported: key -> path in a benchmark's result."""


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


def _get(d: dict, path: tuple[str, ...]) -> Any:
    for k in path:
        if not isinstance(d, dict) or d.get(k) is None:
            return None
        d = d[k]
    return d


def score_benchmark(bench: Benchmark, outputs: Sequence[str]) -> dict:
    """All scores of one benchmark.

    Args:
        bench: the benchmark.
        outputs: one generated text per row, in row order.

    Returns:
        JSON-able ``{"n", "subset", "source", "format_errors", "lenient_format_errors", "hammer",
        "strict", "irrelevance" (or ``None`` when no gold is ``[]``), "bfcl_ast" (or ``None`` for
        non-BFCL benchmarks), "renamed_from" and "shuffled_from" (the plain benchmark's name for
        that variant, else ``None``)}``.

    Raises:
        ValueError: wrong number of outputs, or a bad gold.
    """
    texts, parsed = map_back(bench, outputs)
    golds = bench.golds
    base, variant = bench.extra.get("base"), bench.extra.get("variant")
    hammer = hammer_f1(texts, golds)
    result: dict[str, Any] = {
        "n": len(bench),
        "subset": bench.subset,
        "source": bench.extra.get("source"),
        "format_errors": hammer["format_errors"],
        "lenient_format_errors": sum(1 for p in parsed if p.calls is None),
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


def add_drops(results: dict) -> dict:
    """Add ``drop`` (plain minus variant, per :data:`DROP_KEYS`) to every renamed or shuffled
    benchmark whose plain benchmark is in the same results with the same ``n``; returns
    ``results`` (modified)."""
    benches = results.get("benchmarks", {})
    for name, res in benches.items():
        base = res.get("renamed_from") or res.get("shuffled_from")
        if not base or base not in benches or benches[base].get("n") != res.get("n"):
            continue
        plain = benches[base]
        drop = {}
        for key, path in DROP_KEYS.items():
            a, b = _get(plain, path), _get(res, path)
            if a is not None and b is not None:
                drop[key] = a - b
        res["drop"] = drop
    return results


def run_evaluation(
    benchmarks: Sequence[str | Benchmark],
    generate_fn: GenerateFn,
    render_fn: RenderFn | None = None,
    *,
    limit: int | None = None,
    data_dir: str | Path | None = None,
    meta: dict | None = None,
    predictions_path: str | Path | None = None,
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
            ``{"benchmark", "index", "id", "prompt", "output", "calls" (lenient parse, real names;
            ``null`` on a format error), "gold"}``.

    Returns:
        ``{"meta": {...,"wall_seconds"}, "benchmarks": {name: score_benchmark(...) +
        {"generation_seconds"}}}``, with :func:`add_drops` applied.

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
            logger.info("%s: %s, generating", bench.name, bench.subset)
            t0 = time.perf_counter()
            outputs = list(generate_fn(prompts))
            gen_s = time.perf_counter() - t0
            if len(outputs) != len(prompts):
                raise ValueError(f"generate_fn returned {len(outputs)} outputs for {len(prompts)} prompts")
            res = score_benchmark(bench, outputs)
            res["generation_seconds"] = round(gen_s, 3)
            out["benchmarks"][bench.name] = res
            logger.info(
                "%s: Hammer F1 api %.3f args %.3f, %d format errors (%.1f s)",
                bench.name,
                res["hammer"]["api_f1"],
                res["hammer"]["args_f1"],
                res["format_errors"],
                gen_s,
            )
            if pred_file is not None:
                _, parsed = map_back(bench, outputs)
                ids = bench.extra.get("ids") or [str(i) for i in range(len(bench))]
                for i, (p, o, r, g) in enumerate(zip(prompts, outputs, parsed, bench.golds, strict=True)):
                    rec = {
                        "benchmark": bench.name,
                        "index": i,
                        "id": ids[i],
                        "prompt": p,
                        "output": o,
                        "calls": r.calls,
                        "gold": g,
                    }
                    pred_file.write(json.dumps(rec, ensure_ascii=False, default=str) + "\n")
                pred_file.flush()
    finally:
        if pred_file is not None:
            pred_file.close()
    out["meta"]["wall_seconds"] = round(time.perf_counter() - t_start, 3)
    return add_drops(out)


# --------------------------------------------------------------------------- tables


def _f(x: Any, digits: int = 3) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:.{digits}f}"
    return str(x)


def _pair(res: dict, key: str) -> str:
    d = res.get(key) or {}
    return f"{_f(d.get('api_f1'))} / {_f(d.get('args_f1'))}"


def _irr(res: dict) -> str:
    irr = res.get("irrelevance")
    return _f(irr.get("irrelevance_accuracy")) if irr else "-"


def _ast(res: dict) -> str:
    a = res.get("bfcl_ast")
    return _f(a.get("accuracy")) if a else "-"


def _drop(res: dict) -> str:
    d = res.get("drop")
    if not d:
        return "-"
    return f"{_f(d.get('hammer_api_f1'))} / {_f(d.get('hammer_args_f1'))}"


def results_table(results: dict) -> str:
    """Markdown table of one results dict (as returned by :func:`run_evaluation`).

    Columns: benchmark, rows, Hammer F1 api / args, strict F1 api / args, format errors (Hammer /
    lenient parser), irrelevance accuracy, BFCL AST accuracy, drop against the plain benchmark in
    Hammer F1 api / args (renamed and shuffled variants).
    A header line names the model and settings; the subsets are listed under the table.
    """
    meta = results.get("meta", {})
    lines = []
    desc = [f"model `{meta['model']}`" if meta.get("model") else None]
    if meta.get("adapter"):
        desc.append(f"adapter `{meta['adapter']}`")
    for k in ("prompt_style", "max_new_tokens", "backend", "device"):
        if meta.get(k) is not None:
            desc.append(f"{k} {meta[k]}")
    if meta.get("wall_seconds") is not None:
        desc.append(f"wall {meta['wall_seconds']:.0f} s")
    desc = [d for d in desc if d]
    if desc:
        lines += [", ".join(desc), ""]
    lines.append(
        "| benchmark | rows | Hammer F1 api / args | strict F1 api / args | format errors (Hammer / lenient) "
        "| irrelevance acc | BFCL AST acc | drop vs plain (Hammer F1 api / args) |"
    )
    lines.append("|---|---|---|---|---|---|---|---|")
    subsets = []
    for name, res in results.get("benchmarks", {}).items():
        lines.append(
            f"| {name} | {res.get('n')} | {_pair(res, 'hammer')} | {_pair(res, 'strict')} "
            f"| {res.get('format_errors')} / {res.get('lenient_format_errors')} | {_irr(res)} | {_ast(res)} | {_drop(res)} |"
        )
        subsets.append(f"- {name}: {res.get('subset')}")
    if subsets:
        lines += ["", "Rows used:", *subsets]
    return "\n".join(lines) + "\n"


def write_results(results: dict, path: str | Path) -> tuple[Path, Path]:
    """Write ``results`` as JSON at ``path`` and its :func:`results_table` next to it (``.md``).

    Creates missing parent folders.

    Returns:
        ``(json_path, markdown_path)``.
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(results, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    md = p.with_suffix(".md")
    md.write_text(results_table(results), encoding="utf-8")
    return p, md


def load_results(path: str | Path) -> dict:
    """Read a results JSON written by :func:`write_results`.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a results file (no ``"benchmarks"`` object).
    """
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), dict):
        raise ValueError(f"{path}: not a results file (no 'benchmarks' object)")
    return data


def merge_results(paths: Sequence[str | Path], labels: Sequence[str] | None = None) -> str:
    """A markdown comparison table across several results files, one column group per run.

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
    runs = [load_results(p) for p in paths]
    names: list[str] = []
    for r in runs:
        names += [n for n in r["benchmarks"] if n not in names]
    cols = ["rows", "Hammer F1 api / args", "strict F1 api / args", "fmt err", "acc"]
    head = ["benchmark"] + [f"{lab}: {c}" for lab in labels for c in cols]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name in names:
        cells = [name]
        for r in runs:
            res = r["benchmarks"].get(name)
            if res is None:
                cells += ["-"] * len(cols)
                continue
            acc = _ast(res) if res.get("bfcl_ast") else _irr(res)
            cells += [
                str(res.get("n")),
                _pair(res, "hammer"),
                _pair(res, "strict"),
                str(res.get("format_errors")),
                acc,
            ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "acc: BFCL AST accuracy for bfcl_*, else irrelevance accuracy where gold [] rows exist.",
        "",
        "Runs:",
    ]
    for lab, p, r in zip(labels, paths, runs, strict=True):
        m = r.get("meta", {})
        bits = [f"`{p}`"]
        for k in ("model", "adapter", "prompt_style", "max_new_tokens", "limit"):
            if m.get(k) is not None:
                bits.append(f"{k} {m[k]}")
        lines.append(f"- {lab}: " + ", ".join(bits))
    return "\n".join(lines) + "\n"
