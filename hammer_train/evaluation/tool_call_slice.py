"""The fixed held-out slice that :class:`hammer_train.callbacks.ToolCallEvalCallback` generates on,
and its scores.

A slice has three sections, generated together and scored apart:

* ``calls``: rows of a benchmark whose gold is at least one call (default ``bfcl_simple``);
* ``irrelevance``: rows of a benchmark whose gold is ``[]`` (default ``bfcl_irrelevance``);
* ``renamed``: the *same* rows as ``calls`` with every function and parameter name replaced by a
  random string, exactly as the ``*_renamed`` benchmarks do it (:func:`~.benchmarks.rename_benchmark`,
  seed :data:`~.benchmarks.RENAME_SEED`, row ``i`` masked by its position in the full benchmark), so
  ``name_accuracy - renamed_name_accuracy`` is a paired measure of how much the model leans on names.

Rows are picked at evenly spaced positions over the whole benchmark (no random draw: the same rows
in every run of every recipe), and **never training rows**: a benchmark row whose query (whitespace
collapsed, case folded) is the query of any training row is skipped and replaced by the next row
that is not, and counted. The key is the query alone, not (query, tool names), because the BFCL
data shows both kinds of leak: ``live_irrelevance`` (trained on by the CPU recipes) holds
``irrelevance`` rows 0, 78 and 233 verbatim, row 69 with ``regression_model.predict`` spelled
``regression_model_predict``, and ``simple_python`` row 14's query with other tools and answer ``[]``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..schema import Example
from .benchmarks import Benchmark, load_benchmark, rename_benchmark
from .bfcl_ast import ast_check
from .generate import cut_at_token_limit
from .metrics import irrelevance_accuracy, strict_f1
from .parse import hammer_parse
from .report import map_back


__all__ = [
    "METRICS",
    "ToolCallSlice",
    "query_key",
    "pick_rows",
    "build_tool_call_slice",
    "score_tool_call_slice",
    "slice_summary",
]

METRICS = (
    "name_accuracy",
    "argument_accuracy",
    "json_valid",
    "irrelevance_accuracy",
    "renamed_name_accuracy",
    "call_refusal",
    "cut_at_token_limit",
)
"""Score names :func:`score_tool_call_slice` returns (each in [0, 1] or ``None``; see its docstring)."""


def query_key(example: Example) -> str:
    """The overlap key of a row: its query text (a chat history as ``role: content`` lines),
    whitespace collapsed and case folded."""
    q = example.query
    if not isinstance(q, str):
        q = "\n".join(f"{m.get('role', '')}: {m.get('content') or ''}" for m in q)
    return " ".join(q.split()).casefold()


def pick_rows(candidates: Sequence[int], k: int, excluded: set[int]) -> tuple[list[int], int]:
    """``k`` rows at evenly spaced positions of ``candidates``, skipping ``excluded`` ones.

    Position ``j`` targets ``candidates[j * len(candidates) // k]``; an excluded or already taken
    target moves to the next candidate that is neither (wrapping around), so an overlap moves only
    its own row and the rest of the slice stays where it was.

    Args:
        candidates: row indices to choose from, in order.
        k: rows wanted (>= 0).
        excluded: row indices that must not be taken.

    Returns:
        ``(rows, skipped)``: the chosen indices in ascending order, and how many targets hit an
        excluded row.

    Raises:
        ValueError: fewer than ``k`` candidates are not excluded.
    """
    usable = [c for c in candidates if c not in excluded]
    if len(usable) < k:
        raise ValueError(f"{k} rows wanted, {len(usable)} of {len(candidates)} candidates are usable")
    taken: set[int] = set()
    skipped = 0
    n = len(candidates)
    for j in range(k):
        pos = j * n // k
        skipped += candidates[pos] in excluded
        while candidates[pos] in excluded or candidates[pos] in taken:
            pos = (pos + 1) % n
        taken.add(candidates[pos])
    return sorted(taken), skipped


def _take(bench: Benchmark, rows: list[int]) -> Benchmark:
    """The rows ``rows`` of a benchmark, with every per-row ``extra`` list cut to them."""
    extra = dict(bench.extra)
    for key in ("ids", "functions", "possible_answers", "inverse"):
        if isinstance(extra.get(key), list):
            extra[key] = [extra[key][i] for i in rows]
    extra["rows"] = list(rows)
    extra["subset"] = f"{len(rows)} of {extra.get('total', len(bench))} rows at evenly spaced positions"
    return Benchmark(bench.name, [bench.examples[i] for i in rows], [bench.golds[i] for i in rows], extra)


@dataclass
class ToolCallSlice:
    """A built slice (see the module docstring).

    Attributes:
        calls: the call rows (a :class:`~.benchmarks.Benchmark` of the chosen rows).
        renamed: the same rows renamed (``extra["inverse"]`` maps predictions back).
        irrelevance: the irrelevance rows, or ``None`` when the recipe names no irrelevance benchmark.
        report: JSON-able account: per section the benchmark, the chosen row indices and how many
            targets were training rows (``overlap_skipped``).
    """

    calls: Benchmark
    renamed: Benchmark
    irrelevance: Benchmark | None = None
    report: dict[str, Any] = field(default_factory=dict)

    @property
    def sections(self) -> list[tuple[str, Benchmark]]:
        """``[(section name, benchmark), ...]`` in generation order: calls, irrelevance, renamed."""
        out = [("calls", self.calls)]
        if self.irrelevance is not None:
            out.append(("irrelevance", self.irrelevance))
        out.append(("renamed", self.renamed))
        return out

    @property
    def examples(self) -> list[Example]:
        """Every row as shown to the model, sections concatenated in :attr:`sections` order."""
        return [ex for _, bench in self.sections for ex in bench.examples]

    def __len__(self) -> int:
        return sum(len(b) for _, b in self.sections)


def _section(name: str, rows: int, keys: set[str], want_calls: bool, data_dir) -> tuple[Benchmark, list[int], dict]:
    bench = load_benchmark(name, data_dir=data_dir)
    candidates = [i for i, g in enumerate(bench.golds) if bool(g) == want_calls]
    excluded = {i for i in candidates if query_key(bench.examples[i]) in keys}
    what = "call" if want_calls else "irrelevance ([] gold)"
    try:
        chosen, skipped = pick_rows(candidates, rows, excluded)
    except ValueError:
        raise ValueError(
            f"tool_call_eval: benchmark {name!r} has {len(candidates)} {what} rows, {len(excluded)} of them training "
            f"rows (same query), so {rows} held-out rows cannot be taken; name a benchmark the recipe does not "
            f"train on, or lower tool_call_eval_rows"
        ) from None
    report = {"benchmark": name, "rows": chosen, "candidates": len(candidates), "overlap_skipped": skipped}
    return bench, chosen, report


def build_tool_call_slice(
    benchmark: str,
    irrelevance: str | None,
    rows: int,
    training_examples: Iterable[Example],
    *,
    data_dir: str | None = None,
) -> ToolCallSlice:
    """Load, pick and rename the rows of the slice.

    ``rows`` is split as ``calls = renamed = rows // 3`` and ``irrelevance = rows - 2 * (rows // 3)``
    (36 -> 12 + 12 + 12); without an irrelevance benchmark, ``calls = renamed = rows // 2``.

    Args:
        benchmark: a plain benchmark name of :data:`~.benchmarks.BENCHMARKS` with call rows
            (``"bfcl_simple"``); its renamed rows are built here.
        irrelevance: a benchmark name with ``[]`` gold rows (``"bfcl_irrelevance"``), or ``None``.
        rows: total rows of the slice (>= 3, or >= 2 without irrelevance).
        training_examples: the rows the recipe trains on; any benchmark row with the same query
            (:func:`query_key`) is skipped.
        data_dir: folder of Hammer's evaluation sets, for ``sealtool`` / ``apibank_l1``.

    Returns:
        A :class:`ToolCallSlice`.

    Raises:
        KeyError: unknown benchmark name.
        FileNotFoundError: the benchmark's data is absent.
        ValueError: too few rows, or too few held-out rows of the wanted kind (the message names the
            benchmark and how many rows were training rows).
    """
    n_sections = 3 if irrelevance else 2
    if rows < n_sections:
        raise ValueError(f"tool_call_eval_rows must be >= {n_sections}, got {rows}")
    n_calls = rows // n_sections
    keys = {query_key(ex) for ex in training_examples}
    plain, chosen, rep_calls = _section(benchmark, n_calls, keys, True, data_dir)
    report: dict[str, Any] = {"calls": rep_calls, "renamed": {"benchmark": f"{benchmark} renamed", "rows": chosen}}
    irr = None
    if irrelevance:
        irr_bench, irr_rows, rep_irr = _section(irrelevance, rows - 2 * n_calls, keys, False, data_dir)
        irr = _take(irr_bench, irr_rows)
        report["irrelevance"] = rep_irr
    renamed = rename_benchmark(plain)  # the full benchmark, so row i gets the names of *_renamed's row i
    return ToolCallSlice(_take(plain, chosen), _take(renamed, chosen), irr, report)


# --------------------------------------------------------------------------- scores


def _name_ok(calls: list[dict] | None, gold: list[dict]) -> bool:
    s = strict_f1([calls], [gold])
    return s["correct_calls"] == s["gold_calls"] == s["pred_calls"]


def _args_ok(bench: Benchmark, i: int, calls: list[dict] | None) -> bool:
    if bench.is_bfcl:
        ex = bench.extra
        return ast_check(ex["bfcl_category"], ex["functions"][i], calls, ex["possible_answers"][i])[0]
    return strict_f1([calls], [bench.golds[i]])["row_exact_accuracy"] == 1.0


def _share(flags: list[bool]) -> float | None:
    return sum(flags) / len(flags) if flags else None


def score_tool_call_slice(tool_slice: ToolCallSlice, outputs: Sequence[str]) -> dict[str, float | None]:
    """The in-training tool-call scores of one generation pass over a slice.

    Outputs are parsed with our lenient parser (:func:`~.parse.parse_calls`, through
    :func:`~.report.map_back`, which also maps the renamed rows back to the real names and makes a
    name the renamed prompt never showed match nothing). Definitions (each a share in [0, 1]):

    * ``name_accuracy``: call rows whose calls match the gold calls one to one by function name (as
      many calls as gold, order ignored; :func:`~.metrics.strict_f1` on the row has ``correct_calls
      == gold_calls == pred_calls``). A refusal or a format error is wrong.
    * ``argument_accuracy``: call rows answered completely right, arguments included: for a BFCL
      benchmark BFCL's AST check (:func:`~.bfcl_ast.ast_check`: every acceptable value, optional
      arguments may be left out); otherwise every gold call matched with exactly the same argument
      keys and values (``strict_f1``'s ``row_exact_accuracy``).
    * ``json_valid``: all rows of the slice (every section) whose output is the JSON the prompt asks
      for: Hammer's parser (:func:`~.parse.hammer_parse`: fences removed, ``json.loads``) reads a list
      of call objects (``[]`` counts). Python-call syntax or prose that only our lenient parser
      reads is not valid JSON.
    * ``irrelevance_accuracy``: irrelevance rows answered ``[]`` (:func:`~.metrics.irrelevance_accuracy`;
      a format error is wrong); ``None`` without an irrelevance section.
    * ``renamed_name_accuracy``: ``name_accuracy`` on the renamed rows, after mapping back.
    * ``call_refusal``: call rows (plain names) answered ``[]``: over-refusal.
    * ``cut_at_token_limit``: all rows whose generation reached the token limit without a stop
      token (finish reason ``"length"``, :class:`~.generate.Generation`): mostly loops, which cost
      the whole ``max_new_tokens`` each; ``None`` when the outputs carry no finish reason.

    Args:
        tool_slice: the slice.
        outputs: one generated text per row, in :attr:`ToolCallSlice.examples` order.

    Returns:
        ``{metric: value}`` for every name of :data:`METRICS`.

    Raises:
        ValueError: ``len(outputs) != len(tool_slice)``.
    """
    if len(outputs) != len(tool_slice):
        raise ValueError(f"{len(outputs)} outputs for a slice of {len(tool_slice)} rows")
    by_section: dict[str, list[str]] = {}
    start = 0
    for name, bench in tool_slice.sections:
        by_section[name] = list(outputs[start : start + len(bench)])
        start += len(bench)
    _, calls = map_back(tool_slice.calls, by_section["calls"])
    _, renamed = map_back(tool_slice.renamed, by_section["renamed"])
    gold = tool_slice.calls.golds
    scores: dict[str, float | None] = {
        "name_accuracy": _share([_name_ok(p.calls, g) for p, g in zip(calls, gold, strict=True)]),
        "argument_accuracy": _share([_args_ok(tool_slice.calls, i, p.calls) for i, p in enumerate(calls)]),
        "json_valid": _share([hammer_parse(o).calls is not None for o in outputs]),
        "irrelevance_accuracy": None,
        "renamed_name_accuracy": _share([_name_ok(p.calls, g) for p, g in zip(renamed, gold, strict=True)]),
        "call_refusal": _share([p.calls == [] for p in calls]),
        "cut_at_token_limit": None,
    }
    if (cut := cut_at_token_limit(outputs)) is not None:
        scores["cut_at_token_limit"] = _share(cut)
    if tool_slice.irrelevance is not None:
        _, irr = map_back(tool_slice.irrelevance, by_section["irrelevance"])
        scores["irrelevance_accuracy"] = irrelevance_accuracy(irr, tool_slice.irrelevance.golds)[
            "irrelevance_accuracy"
        ]
    return scores


def slice_summary(tool_slice: ToolCallSlice) -> str:
    """One line naming the slice's sections, sizes and skipped training rows (for the log)."""
    parts = []
    for name, bench in tool_slice.sections:
        skipped = tool_slice.report.get(name, {}).get("overlap_skipped")
        source = tool_slice.report.get(name, {}).get("benchmark", bench.name)
        parts.append(
            f"{name}: {len(bench)} rows of {source}" + (f" ({skipped} training rows skipped)" if skipped else "")
        )
    return "; ".join(parts)
