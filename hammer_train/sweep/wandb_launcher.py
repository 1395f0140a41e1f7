"""The W&B launcher: a sweep file for ``wandb sweep`` + ``wandb agent`` on any number of machines.

    hammer-train sweep hammer7b --irrelevance_ratio 0,0.05,0.1,0.2 --launcher wandb   # writes sweep.yaml
    wandb sweep --project hammer outputs/sweep-hammer7b/sweep.yaml                      # prints SWEEP_ID
    wandb agent ENTITY/hammer/SWEEP_ID                                                  # on each machine

The file is a ``method: grid`` sweep over the sweep's axes (W&B sweep configuration:
https://docs.wandb.ai/guides/sweeps/define-sweep-configuration). Its ``command`` is this same
``hammer-train sweep`` with the same settings and no axis values; the agent appends one grid
point's values through the ``${args}`` macro (``--irrelevance_ratio=0.1``), so each agent run is a
one-point local sweep: it trains (``accelerate launch`` when ``--accelerate_config`` is given) and
evaluates the point into ``<sweep_dir>/<point>/`` exactly as the local launcher does, skips a point
already finished there, and rewrites the folder's report. On a shared file system the folder's
``results.*`` therefore cover every agent's points; otherwise ``hammer-train sweep ...
--collect_only`` over the copied folders writes the full report.

Training logs to the agent's run (``--report_to wandb`` is added when the recipe does not already
report there); after the evaluation the point's scores (:meth:`~hammer_train.results.Results.summary`)
go to the same run's summary as ``eval/<score>`` (:func:`log_point_to_wandb`), which the file's
``metric`` (``eval/call_accuracy``) names.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .report import point_results
from .spec import SweepSpec


__all__ = ["SWEEP_FILE", "ARGS_MACRO", "METRIC", "wandb_sweep_config", "write_wandb_sweep", "log_point_to_wandb"]

SWEEP_FILE = "sweep.yaml"
ARGS_MACRO = "${args}"
"""W&B's macro for the run's parameters as ``--key=value`` flags."""

METRIC = "eval/call_accuracy"


def _command(spec: SweepSpec, recipe: str) -> list[str]:
    """``hammer-train sweep RECIPE --sweep_dir D [settings] [overrides] ${args}``."""
    argv = ["hammer-train", "sweep", recipe, "--sweep_dir", str(spec.sweep_dir)]
    for flag, value in (
        ("--benchmarks", spec.benchmarks),
        ("--limit", spec.limit),
        ("--eval_args", shlex.join(spec.eval_args) if spec.eval_args else None),
        ("--model", spec.model),
        ("--accelerate_config", spec.accelerate_config),
    ):
        if value is not None:
            argv += [flag, str(value)]
    argv += spec.overrides
    if "wandb" not in (spec.recipe_value("report_to") or ""):
        argv += ["--report_to", "wandb"]  # the agent's run gets the training's logs
    return [*argv, ARGS_MACRO]


def wandb_sweep_config(spec: SweepSpec, recipe: str | None = None) -> dict[str, Any]:
    """The W&B sweep configuration of ``spec``.

    Args:
        recipe: the recipe as the agents' machines should read it (a shipped recipe's name, or a
            path relative to where the agents run); ``spec.recipe`` when ``None``.

    Returns:
        ``{"name", "description", "method": "grid", "metric", "parameters": {axis: {"values"}},
        "command"}``.
    """
    recipe = recipe or str(spec.recipe)
    return {
        "name": spec.name,
        "description": f"hammer-train sweep of {recipe}: one training and one evaluation per grid point "
        f"into {spec.sweep_dir}/<point>/",
        "method": "grid",
        "metric": {"name": METRIC, "goal": "maximize"},
        "parameters": {axis: {"values": list(values)} for axis, values in spec.axes.items()},
        "command": _command(spec, recipe),
    }


def write_wandb_sweep(
    spec: SweepSpec, path: str | Path | None = None, recipe: str | None = None, written_by: str = ""
) -> Path:
    """Write :func:`wandb_sweep_config` as YAML (``<sweep_dir>/sweep.yaml`` by default), headed by
    comments with the command that wrote it and the two commands that run it.

    Returns:
        The path written.
    """
    import yaml

    path = Path(path) if path else Path(spec.sweep_dir) / SWEEP_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    header = [f"# Written by: {written_by}"] if written_by else []
    header += [
        "# Run it: wandb sweep [--project P] " + str(path) + "   (prints SWEEP_ID), then on each machine:",
        "#         wandb agent ENTITY/PROJECT/SWEEP_ID",
        "# Each agent run trains and evaluates one grid point with hammer-train sweep (see hammer_train/sweep/).",
    ]
    body = yaml.safe_dump(wandb_sweep_config(spec, recipe), sort_keys=False, width=1000)
    path.write_text("\n".join(header) + "\n" + body, encoding="utf-8")
    return path


def log_point_to_wandb(spec: SweepSpec, log: Callable[[str], None] = print) -> dict[str, float] | None:
    """Under a W&B agent (``WANDB_SWEEP_ID`` and ``WANDB_RUN_ID`` set), put a one-point sweep's
    evaluation into the agent's run: ``run.summary["eval/<score>"]`` for every known score of
    :meth:`~hammer_train.results.Results.summary` (the run is resumed with ``resume="allow"``;
    training has logged to it already).

    Returns:
        The summary logged, or ``None`` when not under an agent, when ``spec`` has several points,
        or when the point has no readable ``results.json`` (nothing is logged then).
    """
    run_id = os.environ.get("WANDB_RUN_ID")
    points = spec.points()
    if not (os.environ.get("WANDB_SWEEP_ID") and run_id) or len(points) != 1:
        return None
    results, _ = point_results(points[0].output_dir)
    if results is None:
        return None
    summary = {f"eval/{k}": v for k, v in results.summary().items() if v is not None}
    import wandb

    run = wandb.init(id=run_id, resume="allow", group=spec.name, name=points[0].name)
    try:
        run.summary.update(summary)
    finally:
        run.finish()
    log(f"[sweep] {points[0].name}: evaluation logged to W&B run {run_id}")
    return summary
