"""The commands of a point: ``hammer-train train`` (under ``accelerate launch`` where it matters) then
``hammer-train evaluate``, in three forms that run the same module with the same arguments:

* ``"local"``: ``sys.executable -m hammer_train.cli train ...`` (the interpreter running the sweep,
  so the same install); with ``--accelerate_config`` the training runs under
  ``sys.executable -m accelerate.commands.launch --config_file F -m hammer_train.cli train ...``;
* ``"printed"``: ``accelerate launch [--config_file F] -m hammer_train.cli train ... && hammer-train
  evaluate ...`` (installed commands, for a scheduler of the user's own);
* ``"job"``: a Slurm / submitit job: ``sys.executable -m accelerate.commands.launch [--config_file F]
  -m hammer_train.cli train ...`` (``accelerate launch`` without relying on ``PATH``; without a
  config accelerate starts one process per visible GPU), then the local evaluation command.
"""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass

from .spec import CLI_MODULE, RESULTS_FILE, SweepPoint, SweepSpec, format_value, point_status


__all__ = [
    "FORMS",
    "Step",
    "train_arguments",
    "train_command",
    "evaluate_command",
    "point_steps",
    "shell_line",
    "ACCELERATE_MODULE",
]

FORMS = ("local", "printed", "job")
"""Where a command runs: this machine, a printed shell line, a submitit job."""

ACCELERATE_MODULE = "accelerate.commands.launch"
"""``python -m accelerate.commands.launch`` is ``accelerate launch`` run by a given interpreter."""


@dataclass(frozen=True)
class Step:
    """One process to run for a point: ``stage`` is ``"train"`` or ``"evaluate"``."""

    stage: str
    argv: list[str]


def _check_form(form: str) -> None:
    if form not in FORMS:
        raise ValueError(f"form must be one of {FORMS}, got {form!r}")


def train_arguments(spec: SweepSpec, point: SweepPoint) -> list[str]:
    """The recipe arguments of a point's training: the recipe, the extra overrides, then
    ``--output_dir``, the swept fields and ``--run_name`` (later flags win in the recipe parser)."""
    argv = [str(spec.recipe), *spec.overrides, "--output_dir", str(point.output_dir)]
    for k, v in point.values.items():
        argv += [f"--{k}", format_value(v)]
    return [*argv, "--run_name", point.name]


def train_command(spec: SweepSpec, point: SweepPoint, form: str = "local") -> list[str]:
    """The training command of a point in one of :data:`FORMS` (see the module docstring).

    Returns:
        argv: the launcher, then :func:`train_arguments`.

    Raises:
        ValueError: an unknown ``form``.
    """
    _check_form(form)
    config = ["--config_file", spec.accelerate_config] if spec.accelerate_config else []
    module = ["-m", spec.cli_module, "train"]
    if form == "printed":
        head = ["accelerate", "launch", *config, *module]
    elif form == "job" or spec.accelerate_config:
        head = [sys.executable, "-m", ACCELERATE_MODULE, *config, *module]
    else:
        head = [sys.executable, *module]
    return [*head, *train_arguments(spec, point)]


def evaluate_command(spec: SweepSpec, point: SweepPoint, form: str = "local") -> list[str]:
    """The evaluation command of a point: ``hammer-train evaluate MODEL --adapter DIR
    [--prompt_style native] [--benchmarks B] [--limit N] [eval_args] --output DIR/results.json``
    (``--prompt_style native`` when the recipe trains with it). ``form="printed"`` starts with
    ``hammer-train evaluate``, the others with ``sys.executable -m hammer_train.cli evaluate``.

    Raises:
        ValueError: an unknown ``form``; no model for evaluation (:meth:`SweepSpec.base_model`).
    """
    _check_form(form)
    if form == "printed" and spec.cli_module == CLI_MODULE:
        argv = ["hammer-train", "evaluate"]
    else:
        argv = [sys.executable if form != "printed" else "python", "-m", spec.cli_module, "evaluate"]
    argv += [spec.base_model(), "--adapter", str(point.output_dir)]
    if spec.recipe_value("prompt_style") == "native" and "--prompt_style" not in spec.eval_args:
        argv += ["--prompt_style", "native"]  # evaluate as trained
    if spec.benchmarks:
        argv += ["--benchmarks", spec.benchmarks]
    if spec.limit is not None:
        argv += ["--limit", str(spec.limit)]
    argv += [*spec.eval_args, "--output", str(point.output_dir / RESULTS_FILE)]
    return argv


def point_steps(spec: SweepSpec, point: SweepPoint, status: str | None = None, form: str = "local") -> list[Step]:
    """What is left to run for a point: train + evaluate (``todo``), evaluate (``trained``) or
    nothing (``done``), as commands of ``form`` (:data:`FORMS`); ``status`` is read from the
    point's folder (:func:`~.spec.point_status`) when ``None``."""
    status = status or point_status(point.output_dir)
    steps = []
    if status == "todo":
        steps.append(Step("train", train_command(spec, point, form)))
    if status in ("todo", "trained"):
        steps.append(Step("evaluate", evaluate_command(spec, point, form)))
    return steps


def shell_line(spec: SweepSpec, point: SweepPoint) -> str:
    """One shell line for a point, for a scheduler: ``WANDB_RUN_GROUP=<sweep> accelerate launch
    -m hammer_train.cli train ... && hammer-train evaluate ...``; a finished point gives a
    ``# done:`` comment (so a Slurm array's line numbers stay the grid's)."""
    steps = point_steps(spec, point, form="printed")
    if not steps:
        return f"# done: {point.name} ({point.output_dir})"
    parts = []
    for step in steps:
        cmd = shlex.join(step.argv)
        if step.stage == "train":
            cmd = f"WANDB_RUN_GROUP={shlex.quote(spec.name)} {cmd}"
        parts.append(cmd)
    return " && ".join(parts)
