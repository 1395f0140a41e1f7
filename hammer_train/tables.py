"""Markdown tables from a list of column choices: one function draws the results table, the
comparison of several results files, the sweep and ablation tables and the model card's table.

:func:`markdown_table` takes rows of any shape and :class:`Column` getters; :func:`benchmark_columns`
offers the per-benchmark columns of a :class:`~hammer_train.results.Results` by key.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any


if TYPE_CHECKING:
    from .results import BenchmarkResult, Results


__all__ = [
    "Column",
    "cell",
    "markdown_table",
    "RESULTS_COLUMNS",
    "CARD_COLUMNS",
    "benchmark_columns",
    "benchmark_table",
    "comparison_table",
]


@dataclass(frozen=True)
class Column:
    """One column of :func:`markdown_table`.

    Attributes:
        header: the header cell.
        get: ``row -> value``; a tuple value is written ``a / b``.
        digits: decimals for floats.
        fmt: ``value -> cell text``, replacing the default formatting (see :func:`cell`).
        bold_max: write the largest float of the column in bold (every cell equal to it).
    """

    header: str
    get: Callable[[Any], Any]
    digits: int = 3
    fmt: Callable[[Any], str] | None = None
    bold_max: bool = False


def cell(value: Any, digits: int = 3) -> str:
    """Text of one cell: ``-`` for ``None`` or ``""``, floats to ``digits`` decimals, tuples
    joined with `` / ``, anything else ``str()``."""
    if value is None or value == "":
        return "-"
    if isinstance(value, tuple):
        return " / ".join(cell(v, digits) for v in value)
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def markdown_table(rows: Sequence[Any], columns: Sequence[Column]) -> str:
    """A markdown table, one line per row (no trailing newline).

    Args:
        rows: anything the columns' getters read (dicts, ``(name, BenchmarkResult)`` pairs...).
        columns: the columns, in order.
    """
    values = [[c.get(r) for c in columns] for r in rows]
    best = []
    for j, c in enumerate(columns):
        floats = [v[j] for v in values if isinstance(v[j], float)]
        best.append(max(floats) if c.bold_max and floats else None)
    lines = ["| " + " | ".join(c.header for c in columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    for v in values:
        cells = []
        for j, c in enumerate(columns):
            text = c.fmt(v[j]) if c.fmt else cell(v[j], c.digits)
            cells.append(f"**{text}**" if best[j] is not None and v[j] == best[j] else text)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _scores(group: str) -> Callable[[str, BenchmarkResult], Any]:
    def get(name: str, b: BenchmarkResult) -> Any:
        return (b.score(group, "api_f1"), b.score(group, "args_f1")) if getattr(b, group) else None

    return get


def _headline_pair(name: str, b: BenchmarkResult) -> Any:
    h = b.headline(name)
    return (h.get("hammer_api_f1"), h.get("hammer_args_f1")) if b.has_call_rows(name) else None


def _acc(name: str, b: BenchmarkResult) -> float | None:
    return b.score("bfcl_ast", "accuracy") if b.bfcl_ast else b.score("irrelevance", "irrelevance_accuracy")


def _drop(name: str, b: BenchmarkResult) -> Any:
    return (b.drop.get("hammer_api_f1"), b.drop.get("hammer_args_f1")) if b.drop else None


_BENCHMARK_COLUMNS: dict[str, tuple[str, Callable[[str, BenchmarkResult], Any]]] = {
    "rows": ("rows", lambda name, b: b.n),
    "subset": ("rows used", lambda name, b: b.subset),
    "hammer": ("Hammer F1 api / args", _scores("hammer")),
    "strict": ("strict F1 api / args", _scores("strict")),
    "format_errors": ("format errors (Hammer / lenient)", lambda name, b: (b.format_errors, b.lenient_format_errors)),
    "format_errors_cut": ("of which cut at the token limit", lambda name, b: b.format_errors_cut),
    "gold_over_token_limit": ("gold answers over the token limit", lambda name, b: b.gold_over_token_limit),
    "hammer_format_errors": ("format errors", lambda name, b: b.format_errors),
    "fmt_err": ("fmt err", lambda name, b: b.format_errors),
    "irrelevance": ("irrelevance acc", lambda name, b: b.score("irrelevance", "irrelevance_accuracy")),
    "bfcl_ast": ("BFCL AST acc", lambda name, b: b.score("bfcl_ast", "accuracy")),
    "acc": ("acc", _acc),
    "drop": ("drop vs plain (Hammer F1 api / args)", _drop),
    "headline_hammer": ("Hammer F1 functions / arguments", _headline_pair),
    "headline_ast": ("BFCL AST accuracy", lambda name, b: b.headline(name).get("bfcl_ast_accuracy")),
    "headline_irrelevance": ("irrelevance accuracy", lambda name, b: b.headline(name).get("irrelevance_accuracy")),
    "failed_requests": ("failed requests", lambda name, b: b.failed_requests),
}
"""Per-benchmark columns by key: ``(header, getter(benchmark name, result))``."""

RESULTS_COLUMNS = ("rows", "hammer", "strict", "format_errors", "irrelevance", "bfcl_ast", "drop")
"""The columns of :meth:`Results.table` (the ``.md`` next to a results file), after ``benchmark``."""

CARD_COLUMNS = ("subset", "headline_hammer", "headline_ast", "headline_irrelevance", "hammer_format_errors")
"""The columns of the model card's evaluation table, after ``benchmark``."""


def benchmark_columns(
    results: Results, keys: Sequence[str] = RESULTS_COLUMNS, label: str | None = None
) -> list[Column]:
    """Columns of ``results`` for rows that are benchmark names, chosen by key (``rows``,
    ``subset``, ``hammer``, ``strict``, ``format_errors``, ``hammer_format_errors``, ``fmt_err``,
    ``irrelevance``, ``bfcl_ast``, ``acc``, ``drop``, ``headline_hammer``, ``headline_ast``,
    ``headline_irrelevance``), plus ``failed requests`` when some benchmark has a failed request,
    and after ``format_errors`` the Hammer format errors cut at the token limit
    (``format_errors_cut``) when some benchmark counts them, then the gold answers longer than the
    token limit (``gold_over_token_limit``) when some benchmark has any.
    A name that ``results`` lacks shows ``-`` in every column.

    Args:
        results: the results the cells are read from.
        keys: the columns wanted, in order (the ``benchmark`` name column is not among them).
        label: prefix every header with ``"label: "`` (one run's column group).

    Raises:
        KeyError: an unknown key.
    """
    benches = results.benchmarks.values()
    keys = list(keys) + (["failed_requests"] if any(b.failed_requests for b in benches) else [])
    if "format_errors" in keys and any(b.format_errors_cut is not None for b in benches):
        keys.insert(keys.index("format_errors") + 1, "format_errors_cut")
    if "format_errors" in keys and any(b.gold_over_token_limit for b in benches):
        after = "format_errors_cut" if "format_errors_cut" in keys else "format_errors"
        keys.insert(keys.index(after) + 1, "gold_over_token_limit")
    out = []
    for key in keys:
        header, get = _BENCHMARK_COLUMNS[key]

        def read(name: str, get: Callable = get) -> Any:
            b = results.benchmarks.get(name)
            return None if b is None else get(name, b)

        out.append(Column(f"{label}: {header}" if label else header, read))
    return out


def benchmark_table(results: Results, keys: Sequence[str] = RESULTS_COLUMNS) -> str:
    """:func:`markdown_table` of every benchmark of ``results``: the name, then the ``keys`` columns."""
    columns = [Column("benchmark", str), *benchmark_columns(results, keys)]
    return markdown_table(list(results.benchmarks), columns)


def comparison_table(runs: Sequence[tuple[str, str, Results]]) -> str:
    """Several results side by side: one row per benchmark (union, in order of first appearance),
    per run a column group rows / Hammer F1 api / args / strict F1 api / args / format errors /
    acc (BFCL AST accuracy where the benchmark has it, else irrelevance accuracy), then a legend of
    each run's model and settings.

    Args:
        runs: ``(label, where it was read from, results)`` per run.
    """
    names: list[str] = []
    for _, _, r in runs:
        names += [n for n in r.benchmarks if n not in names]
    columns = [Column("benchmark", str)]
    for label, _, r in runs:
        columns += benchmark_columns(r, ("rows", "hammer", "strict", "fmt_err", "acc"), label=label)
    lines = [markdown_table(names, columns), ""]
    lines += ["acc: BFCL AST accuracy for bfcl_*, else irrelevance accuracy where gold [] rows exist.", "", "Runs:"]
    for label, where, r in runs:
        keys = ("model", "adapter", "prompt_style", "max_new_tokens", "limit")
        bits = [f"`{where}`", *(f"{k} {v}" for k in keys if (v := getattr(r.meta, k)) is not None)]
        lines.append(f"- {label}: " + ", ".join(bits))
    return "\n".join(lines) + "\n"
