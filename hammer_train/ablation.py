"""The masking ablation (does function masking make a model robust to unseen tool names?).

Three trainings of one recipe, same data, seed and steps, that differ only in the two Hammer
levers (Hammer paper, arXiv 2410.04587, sections 3.1-3.2):

* ``no_masking``: ``masking_row_prob 0``, ``irrelevance_ratio 0``;
* ``masking``: Hammer's masking of 2/3 of rows, ``irrelevance_ratio 0``;
* ``masking_irrelevance``: the same masking plus 10% irrelevance rows (answer ``[]``).

Each is a point of :mod:`hammer_train.sweep` (folder ``irr<r>-mask<p>`` under the sweep folder),
so the points are shared with an irrelevance sweep run into the same folder and a finished point
is never trained again. Every adapter is scored plain and with renamed tools
(``<benchmark>_renamed``: names masked by our masking, predictions mapped back) plus BFCL
irrelevance; :func:`ablation_table` puts the three side by side with training and evaluation
wall times.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .sweep import Runner, SweepSpec, point_metrics, read_json_or_none, run_sweep


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
    (per benchmark the rows used) and every metric of :func:`hammer_train.sweep.point_metrics`
    (``None`` where a run has not finished)."""
    rows = []
    for name, spec in specs.items():
        point = spec.points()[0]
        results = read_json_or_none(point.output_dir / "results.json")
        meta = results.get("meta", {}) if isinstance(results, dict) else {}
        benches = results.get("benchmarks", {}) if isinstance(results, dict) else {}
        rows.append(
            {
                "run": name,
                **point.values,
                "folder": str(point.output_dir),
                "train_s": _train_seconds(point.output_dir),
                "eval_s": meta.get("wall_seconds"),
                "subset": {b: d.get("subset") for b, d in benches.items() if isinstance(d, dict)},
                **(point_metrics(results) if isinstance(results, dict) else {}),
            }
        )
    return rows


def _f(v: Any, digits: int = 2) -> str:
    return "-" if not isinstance(v, (int, float)) else f"{v:.{digits}f}"


def _pair(row: dict[str, Any], bench: str) -> str:
    return f"{_f(row.get(bench + '.api_f1'))} / {_f(row.get(bench + '.args_f1'))}"


def ablation_table(rows: Sequence[dict[str, Any]]) -> str:
    """The markdown table: per run, the masking and irrelevance settings, Seal-Tools Hammer F1
    (functions / arguments) plain and renamed and the drop in function F1, BFCL simple AST
    accuracy plain and renamed, BFCL irrelevance accuracy, training and evaluation minutes."""
    lines = [
        "| run | masked rows | irrelevance share | Seal-Tools F1 api / args | renamed F1 api / args | api F1 drop | BFCL simple AST | renamed AST | BFCL irrelevance acc | train min | eval min |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        mins = [_f(r[k] / 60, 1) if isinstance(r.get(k), (int, float)) else "-" for k in ("train_s", "eval_s")]
        drop = "-"
        a, b = r.get("sealtool.api_f1"), r.get("sealtool_renamed.api_f1")
        if a is not None and b is not None:
            drop = f"{a - b:.2f}"
        lines.append(
            f"| {r['run']} | {_f(r['masking_row_prob'])} | {_f(r['irrelevance_ratio'])} | {_pair(r, 'sealtool')} | {_pair(r, 'sealtool_renamed')} "
            f"| {drop} | {_f(r.get('bfcl_simple.bfcl_ast'))} | {_f(r.get('bfcl_simple_renamed.bfcl_ast'))} | {_f(r.get('bfcl_irrelevance.irrelevance'))} "
            f"| {mins[0]} | {mins[1]} |"
        )
    return "\n".join(lines) + "\n"


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
        help="folder of the runs (default outputs/sweep-<recipe name>, shared with scripts/sweep.py)",
    )
    p.add_argument("--benchmarks", default=DEFAULT_BENCHMARKS)
    p.add_argument("--limit", type=int, default=20, help="rows per benchmark (first N)")
    p.add_argument(
        "--eval_args",
        default="--max_new_tokens 128",
        help="further arguments for scripts/evaluate.py, one quoted string",
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
