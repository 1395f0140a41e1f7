"""The masking ablation (does function masking make a model robust to unseen tool names?).

Three trainings of one recipe, same data, seed and steps, that differ only in the two Hammer
levers (Hammer paper, arXiv 2410.04587, sections 3.1-3.2):

* ``no_masking``: ``masking_row_prob 0``, ``irrelevance_ratio 0``;
* ``masking``: Hammer's masking of 2/3 of rows, ``irrelevance_ratio 0``;
* ``masking_irrelevance``: the same masking plus 10% irrelevance rows (answer ``[]``).

Each is a point of :mod:`hammer_train.sweep` (folder ``irr<r>-mask<p>`` under the sweep folder),
so the points are shared with an irrelevance sweep run into the same folder and a finished point
is never trained again; the folder's ``sweep.json`` and ``results.*`` cover every run in it
(:func:`hammer_train.sweep.write_report`). Every adapter is scored plain and with renamed tools
(``<benchmark>_renamed``: names masked by our masking, predictions mapped back) plus BFCL
irrelevance; :func:`ablation_table` puts the three side by side with training and evaluation
wall times.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .sweep import Runner, SweepSpec, point_results, read_json_or_none, run_sweep
from .tables import Column, markdown_table


__all__ = ["RUNS", "DEFAULT_BENCHMARKS", "ablation_specs", "ablation_rows", "ablation_table", "main"]

RUNS: dict[str, dict[str, float]] = {
    "no_masking": {"irrelevance_ratio": 0.0, "masking_row_prob": 0.0},
    "masking": {"irrelevance_ratio": 0.0, "masking_row_prob": 0.6667},
    "masking_irrelevance": {"irrelevance_ratio": 0.1, "masking_row_prob": 0.6667},
}
"""Run name -> the recipe fields it sets. 0.6667 is Hammer's 2/3 (reference ``train.py``)."""

DEFAULT_BENCHMARKS = "sealtool,sealtool_renamed,bfcl_simple,bfcl_simple_renamed,bfcl_irrelevance"
"""Held out from the CPU recipe's training rows (BFCL v4 *live* categories)."""


def ablation_specs(
    recipe: str,
    sweep_dir: str | Path,
    overrides: Sequence[str] = (),
    benchmarks: str = DEFAULT_BENCHMARKS,
    limit: int | None = None,
    eval_args: Sequence[str] = (),
) -> dict[str, SweepSpec]:
    """One single-point :class:`~hammer_train.sweep.SweepSpec` per run of :data:`RUNS`, all in
    ``sweep_dir``.

    Returns:
        ``{run name: spec}``; ``spec.points()[0]`` is the run's point.
    """
    return {
        name: SweepSpec(
            recipe=recipe,
            axes={k: [v] for k, v in values.items()},
            sweep_dir=Path(sweep_dir),
            overrides=list(overrides),
            benchmarks=benchmarks,
            limit=limit,
            eval_args=list(eval_args),
        )
        for name, values in RUNS.items()
    }


def _train_seconds(folder: Path) -> float | None:
    log = read_json_or_none(folder / "train_log.json")
    if isinstance(log, list):
        for entry in reversed(log):
            if isinstance(entry, dict) and isinstance(entry.get("train_runtime"), (int, float)):
                return float(entry["train_runtime"])
    return None


def ablation_rows(specs: dict[str, SweepSpec]) -> list[dict[str, Any]]:
    """One row per run: ``run``, the recipe fields, ``folder``, ``train_s`` (``train_runtime``
    from ``train_log.json``), ``eval_s`` (``meta.wall_seconds`` of ``results.json``), ``subset``
    (per benchmark the rows used), every score of
    :meth:`hammer_train.results.Results.summary` (``None`` where a run has not finished) and
    ``error`` for a ``results.json`` that cannot be read."""
    rows = []
    for name, spec in specs.items():
        point = spec.points()[0]
        results, error = point_results(point.output_dir)
        row = {
            "run": name,
            **point.values,
            "folder": str(point.output_dir),
            "train_s": _train_seconds(point.output_dir),
            "eval_s": results.meta.wall_seconds if results else None,
            "subset": {b: r.subset for b, r in results.benchmarks.items()} if results else {},
            **(results.summary() if results else {}),
        }
        if error:
            row["error"] = error
        rows.append(row)
    return rows


def _pair(bench: str) -> Callable[[dict[str, Any]], tuple]:
    return lambda r: (r.get(f"{bench}.api_f1"), r.get(f"{bench}.args_f1"))


def _minutes(key: str) -> Callable[[dict[str, Any]], float | None]:
    return lambda r: r[key] / 60 if isinstance(r.get(key), (int, float)) else None


def _drop(r: dict[str, Any]) -> float | None:
    a, b = r.get("sealtool.api_f1"), r.get("sealtool_renamed.api_f1")
    return a - b if a is not None and b is not None else None


_COLUMNS = [
    Column("run", lambda r: r["run"]),
    Column("masked rows", lambda r: r.get("masking_row_prob"), digits=2),
    Column("irrelevance share", lambda r: r.get("irrelevance_ratio"), digits=2),
    Column("Seal-Tools F1 api / args", _pair("sealtool"), digits=2),
    Column("renamed F1 api / args", _pair("sealtool_renamed"), digits=2),
    Column("api F1 drop", _drop, digits=2),
    Column("BFCL simple AST", lambda r: r.get("bfcl_simple.bfcl_ast"), digits=2),
    Column("renamed AST", lambda r: r.get("bfcl_simple_renamed.bfcl_ast"), digits=2),
    Column("BFCL irrelevance acc", lambda r: r.get("bfcl_irrelevance.irrelevance"), digits=2),
    Column("train min", _minutes("train_s"), digits=1),
    Column("eval min", _minutes("eval_s"), digits=1),
]


def _failed(r: dict[str, Any]) -> int:
    return sum(v for k, v in r.items() if k.endswith(".failed_requests"))


def ablation_table(rows: Sequence[dict[str, Any]]) -> str:
    """The markdown table (:func:`hammer_train.tables.markdown_table`): per run, the masking and
    irrelevance settings, Seal-Tools Hammer F1 (functions / arguments) plain and renamed and the
    drop in function F1, BFCL simple AST accuracy plain and renamed, BFCL irrelevance accuracy,
    training and evaluation minutes, and failed requests when a run has any."""
    columns = list(_COLUMNS)
    if any(_failed(r) for r in rows):
        columns.append(Column("failed requests", _failed))
    return markdown_table(rows, columns) + "\n"


def main(argv: Sequence[str] | None = None, runner: Runner | None = None) -> int:
    """``scripts/experiments/masking_ablation.py``: train and score the three runs (finished ones
    are skipped), then write ``<sweep_dir>/masking_ablation.md`` and ``.json``.

    Unknown ``--flags`` are recipe overrides for all three runs.

    Returns:
        0, or 1 when a run failed.
    """
    p = argparse.ArgumentParser(prog="scripts/experiments/masking_ablation.py", description=__doc__.split("\n", 1)[0])
    p.add_argument("--recipe", default="recipes/smollm2-135m.yaml")
    p.add_argument(
        "--sweep_dir",
        default=None,
        help="folder of the runs (default outputs/sweep-<recipe name>, shared with hammer-train sweep)",
    )
    p.add_argument("--benchmarks", default=DEFAULT_BENCHMARKS)
    p.add_argument("--limit", type=int, default=20, help="rows per benchmark (first N)")
    p.add_argument(
        "--eval_args",
        default="--max_new_tokens 128",
        help="further arguments for hammer-train evaluate, one quoted string",
    )
    p.add_argument("--collect_only", action="store_true", help="train nothing; tabulate what has finished")
    args, overrides = p.parse_known_args(list(sys.argv[1:] if argv is None else argv))
    sweep_dir = Path(args.sweep_dir or Path("outputs") / f"sweep-{Path(args.recipe).stem}")
    specs = ablation_specs(args.recipe, sweep_dir, overrides, args.benchmarks, args.limit, shlex.split(args.eval_args))
    failed = 0
    if not args.collect_only:
        for name, spec in specs.items():
            print(f"[ablation] {name}: {spec.points()[0].values}")
            failed += len(run_sweep(spec, runner=runner).failed)
    rows = ablation_rows(specs)
    command = shlex.join(
        ["python", "scripts/experiments/masking_ablation.py", *(argv if argv is not None else sys.argv[1:])]
    )
    md = f"Command: `{command}`\n\n" + ablation_table(rows)
    sweep_dir.mkdir(parents=True, exist_ok=True)
    (sweep_dir / "masking_ablation.md").write_text(md)
    (sweep_dir / "masking_ablation.json").write_text(json.dumps(rows, indent=1))
    print(md)
    return 1 if failed else 0
