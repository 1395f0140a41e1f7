"""One typed model of an evaluation results file: read, write, summarise and tabulate it.

A results file is what :func:`hammer_train.evaluation.report.run_evaluation` returns and
``hammer-train evaluate`` writes (the JSON layout is unchanged; every file under ``docs/results/``
loads)::

    {"meta": {"model", "adapter", "prompt_style", "max_new_tokens", "limit", "wall_seconds", ...},
     "benchmarks": {"sealtool": {"n", "subset", "source", "format_errors", "lenient_format_errors",
                                 "cut_at_token_limit", "format_errors_cut", "gold_over_token_limit",
                                 "hammer", "strict",
                                 "irrelevance", "bfcl_ast", "renamed_from", "shuffled_from",
                                 "generation_seconds", "failed_requests", "failures", "drop"}, ...}}

The scores are those of :mod:`hammer_train.evaluation.metrics` (Hammer F1 as the authors'
``evaluation/evaluate.py`` in MadeAgents/Hammer computes it; strict F1; irrelevance accuracy)
and :mod:`hammer_train.evaluation.bfcl_ast`. ``failed_requests`` / ``failures`` count and name the
rows whose request to a model endpoint failed: such rows are reported, never scored as a silent
zero. Unknown keys of a file, of its ``meta`` and of a benchmark are kept as they are (pydantic's ``model_extra``)
and written back; a value of the wrong type is an error naming the file and the field.

Tables: :meth:`Results.table` here; the others from column choices in :mod:`hammer_train.tables`.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .tables import benchmark_table


__all__ = [
    "F1Scores",
    "StrictScores",
    "IrrelevanceScores",
    "BfclCategory",
    "BfclAstScores",
    "Failure",
    "RunMeta",
    "BenchmarkResult",
    "Results",
    "DROP_KEYS",
]


# --------------------------------------------------------------------------- the model


class _Scores(BaseModel):
    """Scores written by our code: every key is a declared field, every value of its declared type
    (``bool`` is not an integer, an integer is a number)."""

    model_config = ConfigDict(strict=True, extra="forbid")


class _Open(BaseModel):
    """Like :class:`_Scores`, but unknown keys are kept as they are (``model_extra``) and written back."""

    model_config = ConfigDict(strict=True, extra="allow")


class F1Scores(_Scores):
    """Micro-averaged call and argument F1 (``hammer_f1`` output; counts over the whole benchmark)."""

    n: int | None = None
    format_errors: int | None = None
    gold_calls: int | None = None
    pred_calls: int | None = None
    correct_calls: int | None = None
    gold_args: int | None = None
    pred_args: int | None = None
    correct_args: int | None = None
    api_precision: float | None = None
    api_recall: float | None = None
    api_f1: float | None = None
    args_precision: float | None = None
    args_recall: float | None = None
    args_f1: float | None = None


class StrictScores(F1Scores):
    """``strict_f1`` output: one-to-one call matching, refusals scored, plus exact-call counts."""

    exact_calls: int | None = None
    exact_call_precision: float | None = None
    exact_call_recall: float | None = None
    exact_call_f1: float | None = None
    row_exact_accuracy: float | None = None


class IrrelevanceScores(_Scores):
    """``irrelevance_accuracy`` output: rows with gold ``[]`` answered ``[]``, rows with calls called."""

    irrelevance_n: int | None = None
    irrelevance_correct: int | None = None
    irrelevance_accuracy: float | None = None
    relevance_n: int | None = None
    relevance_called: int | None = None
    relevance_rate: float | None = None


class BfclCategory(_Scores):
    """One BFCL category: rows, rows passing the AST check, and failed rows by error type."""

    n: int
    correct: int
    accuracy: float
    errors: dict[str, int] = Field(default_factory=dict)


class BfclAstScores(_Scores):
    """``bfcl_ast_accuracy`` output: per category and over all rows."""

    categories: dict[str, BfclCategory] = Field(default_factory=dict)
    n: int | None = None
    correct: int | None = None
    accuracy: float | None = None
    mean_category_accuracy: float | None = None


class Failure(_Scores):
    """A row whose request to a model endpoint failed: its position, its id and why."""

    index: int
    id: str
    reason: str


class RunMeta(_Open):
    """How a results file was measured (``hammer-train evaluate`` fills it; any field may be unknown).

    Times are seconds; ``limit`` is ``--limit`` (first N rows of each benchmark) or ``None``.
    """

    model: str | None = None
    adapter: str | None = None
    prompt_style: str | None = None
    backend: str | None = None
    batch_size: int | None = None
    max_new_tokens: int | None = None
    decoding: str | None = None
    limit: int | None = None
    load_seconds: float | None = None
    device: str | None = None
    torch_threads: int | None = None
    omp_num_threads: str | None = None
    torch: str | None = None
    transformers: str | None = None
    started: str | None = None
    wall_seconds: float | None = None


DROP_KEYS: dict[str, tuple[str, str]] = {
    "hammer_api_f1": ("hammer", "api_f1"),
    "hammer_args_f1": ("hammer", "args_f1"),
    "strict_api_f1": ("strict", "api_f1"),
    "strict_args_f1": ("strict", "args_f1"),
    "bfcl_ast_accuracy": ("bfcl_ast", "accuracy"),
}
"""Scores whose plain-minus-variant difference is ``drop``: key -> (score group, field)."""


class BenchmarkResult(_Open):
    """The scores of one benchmark in a results file (see the module docstring for the layout)."""

    n: int | None = None
    subset: str | None = None
    source: str | None = None
    format_errors: int | None = None
    lenient_format_errors: int | None = None
    cut_at_token_limit: int | None = None  # outputs that stopped at the token limit (finish reason "length")
    format_errors_cut: int | None = None  # Hammer format errors among them
    gold_over_token_limit: int | None = None  # gold answers longer than the limit, cut even when right
    hammer: F1Scores | None = None
    strict: StrictScores | None = None
    irrelevance: IrrelevanceScores | None = None
    bfcl_ast: BfclAstScores | None = None
    renamed_from: str | None = None
    shuffled_from: str | None = None
    generation_seconds: float | None = None
    failed_requests: int = 0
    failures: list[Failure] = Field(default_factory=list)
    drop: dict[str, float] | None = None  # written only when set

    @property
    def variant_of(self) -> str | None:
        """The plain benchmark this one is a renamed or shuffled variant of, else ``None``."""
        return self.renamed_from or self.shuffled_from

    def score(self, group: str, name: str) -> float | None:
        """A finite score, e.g. ``score("hammer", "api_f1")``; ``None`` when absent or not finite."""
        scores = getattr(self, group)
        value = getattr(scores, name, None) if scores is not None else None
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        return float(value) if ok else None

    def has_call_rows(self, name: str = "") -> bool:
        """Whether some gold answer calls a function: the irrelevance scores count relevance rows
        or the Hammer scores count gold calls; when neither is known, ``name`` lacks "irrelevance"."""
        rel_n = self.irrelevance.relevance_n if self.irrelevance else None
        gold = self.hammer.gold_calls if self.hammer else None
        if rel_n is None and gold is None:
            return "irrelevance" not in name.lower()
        return (rel_n or 0) > 0 or (gold or 0) > 0

    def headline(self, name: str = "") -> dict[str, float]:
        """The scores a model card shows: ``hammer_api_f1`` / ``hammer_args_f1`` (only with call
        rows: on a refusal-only benchmark F1 is 0 by construction), ``bfcl_ast_accuracy`` and
        ``irrelevance_accuracy`` (only with gold-``[]`` rows), where known."""
        out: dict[str, float | None] = {}
        if self.has_call_rows(name):
            out["hammer_api_f1"] = self.score("hammer", "api_f1")
            out["hammer_args_f1"] = self.score("hammer", "args_f1")
        out["bfcl_ast_accuracy"] = self.score("bfcl_ast", "accuracy")
        out["irrelevance_accuracy"] = self.score("irrelevance", "irrelevance_accuracy")  # None without [] rows
        return {k: v for k, v in out.items() if v is not None}


class Results(_Open):
    """A results file: how it was measured and the scores per benchmark (in run order)."""

    meta: RunMeta = Field(default_factory=RunMeta)
    benchmarks: dict[str, BenchmarkResult] = Field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Any, source: str = "results") -> Results:
        """Build from the parsed JSON.

        Raises:
            ValueError: not a results file (no ``"benchmarks"`` object), a field of the wrong
                type, or an unknown key where the layout has none (inside a score group): the
                message names ``source``, the field and pydantic's reason (``results.json:
                benchmarks.sealtool.hammer.api_f1: Input should be a valid number (got 'x')``).
        """
        if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), dict):
            raise ValueError(f"{source}: not a results file (no 'benchmarks' object)")
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise ValueError(f"{source}: {_first_error(exc)}") from None

    @classmethod
    def load(cls, path: str | Path) -> Results:
        """Read a results JSON file.

        Raises:
            FileNotFoundError: no such file.
            ValueError: not valid JSON (with line and column), or as :meth:`from_dict`.
        """
        text = Path(path).read_text(encoding="utf-8")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: not valid JSON: {exc}") from None
        return cls.from_dict(data, str(path))

    def to_dict(self) -> dict[str, Any]:
        """The JSON layout (``failed_requests`` and ``failures`` always written; ``drop`` and
        ``gold_over_token_limit`` only when set)."""
        out = self.model_dump()
        for bench in out["benchmarks"].values():
            for key in ("drop", "gold_over_token_limit"):
                if bench.get(key) is None:
                    bench.pop(key, None)
        return out

    def save(self, path: str | Path, markdown: bool = True) -> tuple[Path, Path | None]:
        """Write the JSON at ``path`` (parent folders created) and, with ``markdown``, :meth:`table`
        next to it (``.md``). Returns ``(json_path, markdown_path or None)``."""
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
        if not markdown:
            return p, None
        md = p.with_suffix(".md")
        md.write_text(self.table(), encoding="utf-8")
        return p, md

    def add_drops(self) -> Results:
        """Set ``drop`` (plain minus variant, per :data:`DROP_KEYS`) on every renamed or shuffled
        benchmark whose plain benchmark is here with the same ``n``; returns ``self``."""
        for res in self.benchmarks.values():
            plain = self.benchmarks.get(res.variant_of or "")
            if plain is None or plain.n != res.n:
                continue
            drop = {}
            for key, (group, name) in DROP_KEYS.items():
                a, b = plain.score(group, name), res.score(group, name)
                if a is not None and b is not None:
                    drop[key] = a - b
            res.drop = drop
        return self

    def summary(self) -> dict[str, float | None]:
        """The scores a sweep compares points by.

        Per benchmark ``B``: ``B.api_f1`` and ``B.args_f1`` (Hammer F1; only with call rows, see
        :meth:`BenchmarkResult.has_call_rows`), ``B.bfcl_ast`` (BFCL AST accuracy),
        ``B.irrelevance`` (irrelevance accuracy; for a BFCL irrelevance benchmark with only an AST
        score, that score) and ``B.failed_requests`` (only when some request failed).

        ``call_accuracy`` is the mean over benchmarks with call rows of BFCL AST accuracy where
        there is one, else Hammer API F1; ``irrelevance_accuracy`` the mean over benchmarks with
        refusal rows of irrelevance accuracy. Renamed and shuffled variants get columns but stay
        out of both means.

        Returns:
            ``{"call_accuracy", "irrelevance_accuracy", "B.api_f1", ...}``; means are ``None``
            when no benchmark has the score.
        """
        out: dict[str, float | None] = {}
        calls: list[float] = []
        refusals: list[float] = []
        for name, b in self.benchmarks.items():
            has_calls = b.has_call_rows(name)
            ast = b.score("bfcl_ast", "accuracy")
            irr = b.score("irrelevance", "irrelevance_accuracy")
            if irr is None and "irrelevance" in name.lower():
                irr = ast
            api, args = (b.score("hammer", "api_f1"), b.score("hammer", "args_f1")) if has_calls else (None, None)
            for key, v in (("api_f1", api), ("args_f1", args), ("bfcl_ast", ast), ("irrelevance", irr)):
                if v is not None:
                    out[f"{name}.{key}"] = v
            if b.failed_requests:
                out[f"{name}.failed_requests"] = b.failed_requests
            if b.variant_of:
                continue
            call = ast if ast is not None else api
            if has_calls and call is not None:
                calls.append(call)
            if irr is not None:
                refusals.append(irr)
        means = {
            "call_accuracy": sum(calls) / len(calls) if calls else None,
            "irrelevance_accuracy": sum(refusals) / len(refusals) if refusals else None,
        }
        return {**means, **out}

    def describe(self) -> str:
        """One line naming the model and settings (empty when none is known)."""
        m = self.meta
        desc = [f"model `{m.model}`" if m.model else None, f"adapter `{m.adapter}`" if m.adapter else None]
        desc += [
            f"{k} {v}"
            for k in ("prompt_style", "max_new_tokens", "backend", "device")
            if (v := getattr(m, k)) is not None
        ]
        if m.wall_seconds is not None:
            desc.append(f"wall {m.wall_seconds:.0f} s")
        return ", ".join(d for d in desc if d)

    def table(self) -> str:
        """Markdown: a line naming the model and settings, the table of :func:`benchmark_columns`
        (benchmark, rows, Hammer F1 api / args, strict F1 api / args, format errors Hammer /
        lenient, irrelevance and BFCL AST accuracy, drop vs plain in Hammer F1, and failed
        requests when any), then the rows used and the failed requests by row."""
        desc = self.describe()
        lines = [desc, ""] if desc else []
        lines.append(benchmark_table(self))
        if self.benchmarks:
            lines += ["", "Rows used:", *(f"- {name}: {b.subset}" for name, b in self.benchmarks.items())]
        failed = [(name, f) for name, b in self.benchmarks.items() for f in b.failures]
        if failed:
            lines += ["", "Failed requests (not scored):"]
            lines += [f"- {name} row {f.index} (`{f.id}`): {f.reason}" for name, f in failed]
        return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- errors


def _first_error(exc: ValidationError) -> str:
    """pydantic's first error as ``benchmarks.sealtool.failures[0].index: Input should be a valid
    integer (got True)``; ``(and N more)`` when there are others."""
    errors = exc.errors()
    err = errors[0]
    where = ""
    for part in err["loc"]:
        where += f"[{part}]" if isinstance(part, int) else (f".{part}" if where else str(part))
    got = "" if err["type"] == "missing" else f" (got {err.get('input')!r:.60})"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where or 'top level'}: {err['msg']}{got}{more}"
