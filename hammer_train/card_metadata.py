"""The model card's metadata parts: Hub ids of the base model and datasets, and the evaluation
scores as ``huggingface_hub.EvalResult`` entries (``model-index``), read from a folder's
``eval_results.json``. :mod:`hammer_train.card` builds the card from them.

``eval_results.json`` is a JSON list of :class:`hammer_train.results.Results` files, oldest first;
``hammer-train evaluate --update_card`` appends to it (a benchmark scored again leaves the older run).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .results import BenchmarkResult, Results


__all__ = [
    "BFCL_DATASET",
    "EVAL_RESULTS_FILE",
    "METRIC_NAMES",
    "eval_results",
    "hub_datasets",
    "hub_id",
    "read_eval_results",
]

EVAL_RESULTS_FILE = "eval_results.json"
BFCL_DATASET = "gorilla-llm/Berkeley-Function-Calling-Leaderboard"
"""The Hub copy of BFCL; ``format: bfcl`` sources read the same rows from the ``bfcl-eval`` package."""

METRIC_NAMES = {
    "hammer_api_f1": "Hammer F1 (functions)",
    "hammer_args_f1": "Hammer F1 (arguments)",
    "bfcl_ast_accuracy": "BFCL AST accuracy",
    "irrelevance_accuracy": "Irrelevance accuracy",
}
"""``metric_type`` of :meth:`~hammer_train.results.BenchmarkResult.headline` -> ``metric_name``."""


def hub_id(name: Any) -> str | None:
    """``name`` when it reads as a Hugging Face Hub repo id, else ``None``: a ``pypi:`` or
    ``.gguf`` model, an absolute or relative path, an existing local path or a data file is not."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    if not isinstance(name, str) or not name or name.startswith(("pypi:", "/", ".", "~")):
        return None
    if name.endswith((".gguf", ".json", ".jsonl", ".parquet", ".csv")) or Path(name).exists():
        return None
    try:
        validate_repo_id(name)
    except HFValidationError:
        return None
    return name


def hub_datasets(sources: Any) -> list[str]:
    """Hub dataset ids of a recipe's ``sources`` (dicts with ``format`` and ``path``), in order:
    a ``path`` that is a Hub id, and :data:`BFCL_DATASET` for ``format: bfcl``."""
    out: list[str] = []
    for src in sources if isinstance(sources, list) else []:
        if not isinstance(src, dict):
            continue
        ds = BFCL_DATASET if src.get("format") == "bfcl" else hub_id(src.get("path"))
        if ds and ds not in out:
            out.append(ds)
    return out


def eval_results(runs: list[Results]) -> list:
    """One ``huggingface_hub.EvalResult`` per benchmark and headline score of ``runs``
    (:meth:`~hammer_train.results.BenchmarkResult.headline`): ``task_type`` text-generation,
    ``dataset_type`` and ``dataset_name`` the benchmark, ``metric_type`` ``hammer_api_f1`` /
    ``hammer_args_f1`` / ``bfcl_ast_accuracy`` / ``irrelevance_accuracy``, values rounded to 4
    decimals. A benchmark in several runs is taken from the last."""
    from huggingface_hub import EvalResult

    benches: dict[str, BenchmarkResult] = {}
    for run in runs:
        benches.update(run.benchmarks)
    out = []
    for name, bench in benches.items():
        for metric, value in bench.headline(name).items():
            out.append(
                EvalResult(
                    task_type="text-generation",
                    task_name="Function calling",
                    dataset_type=name,
                    dataset_name=name,
                    metric_type=metric,
                    metric_name=METRIC_NAMES[metric],
                    metric_value=round(value, 4),
                )
            )
    return out


def _from_card_metrics(data: dict[str, Any], path: Path) -> Results:
    """An ``eval_results.json`` of the earlier layout (``{benchmark: {"subset", "format_errors",
    "hammer_api_f1", ...}}``) as one :class:`Results`."""
    benches = {}
    for name, m in data.items():
        if not isinstance(m, dict):
            raise ValueError(f"{path}: {name}: expected an object of scores, got {m!r:.60}")
        b: dict[str, Any] = {"subset": m.get("subset"), "format_errors": m.get("format_errors")}
        if "hammer_api_f1" in m:
            b["hammer"] = {"api_f1": m["hammer_api_f1"], "args_f1": m.get("hammer_args_f1")}
        if "bfcl_ast_accuracy" in m:
            b["bfcl_ast"] = {"accuracy": m["bfcl_ast_accuracy"]}
        if "irrelevance_accuracy" in m:
            b["irrelevance"] = {"irrelevance_accuracy": m["irrelevance_accuracy"]}
        benches[name] = b
    return Results.from_dict({"benchmarks": benches}, str(path))


def read_eval_results(folder: str | Path) -> list[Results]:
    """The evaluation runs recorded in ``folder/eval_results.json``, oldest first (``[]`` without
    the file). A single results file, and the earlier ``{benchmark: {metric: value}}`` layout, are
    read as one run.

    Raises:
        ValueError: the file is not valid JSON or holds no results (the path is named).
    """
    path = Path(folder) / EVAL_RESULTS_FILE
    if not path.is_file():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON: {exc}") from None
    if isinstance(data, list):
        return [Results.from_dict(d, f"{path}[{i}]") for i, d in enumerate(data)]
    if isinstance(data, dict) and "benchmarks" in data:
        return [Results.from_dict(data, str(path))]
    if isinstance(data, dict):
        return [_from_card_metrics(data, path)]
    raise ValueError(f"{path}: expected a list of results files, got {type(data).__name__}")
