"""Irrelevance / masking sweeps from the command line: one training plus one evaluation per grid
point, then a table and figures (see :mod:`hammer_train.sweep` for what a sweep does).

    hammer-train sweep RECIPE --irrelevance_ratio 0,0.05,0.1,0.2,0.3 [--masking_row_prob 0,0.67,1.0] \\
        [--benchmarks sealtool,bfcl_irrelevance --limit 50] [--sweep_dir outputs/sweep-NAME] \\
        [--launcher local|slurm|wandb] [--print_commands] [--collect_only] [--max_steps 100 ...]

    # Slurm, one job per point through submitit (--cluster local: the same jobs as local processes)
    hammer-train sweep hammer7b --irrelevance_ratio 0,0.05,0.1,0.2 --launcher slurm --slurm_partition gpu \\
        --slurm_account proj --nodes 1 --gpus_per_node 8 --timeout_min 720 [--no_wait]
    # W&B: write the sweep file, then `wandb sweep FILE` and `wandb agent ID` on any number of machines
    hammer-train sweep hammer7b --irrelevance_ratio 0,0.05,0.1,0.2 --launcher wandb

Points run one after another locally (each in a fresh process), as submitit jobs, or as W&B agent
runs; ``--print_commands`` prints one ``accelerate launch -m hammer_train.cli train ... &&
hammer-train evaluate ...`` line per point for a scheduler of your own. Finished points are skipped.
The table and figures land in the sweep folder (``results.csv``, ``results.md``,
``irrelevance_sweep.png``, ``training_curves.png``).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from ..sweep import (
    Runner,
    SweepSpec,
    log_point_to_wandb,
    parse_values,
    run_sweep,
    shell_line,
    train_arguments,
    write_report,
    write_wandb_sweep,
)
from ..sweep.submitit_launcher import CLUSTERS, SubmititOptions, SubmititParameterError, submit_sweep
from ._common import UsageError, positive_int, setup_logging, user_errors


__all__ = ["LAUNCHERS", "make_parser", "spec_from_args", "validate_spec", "submitit_options", "main"]

LAUNCHERS = ("local", "slurm", "wandb")

PROG = "hammer-train sweep"

# Overrides the sweep sets itself; passing them as extra overrides is an error.
_RESERVED = ("output_dir", "run_name", "config")


def _override_keys(overrides: Sequence[str]) -> list[str]:
    return [tok[2:].split("=", 1)[0] for tok in overrides if tok.startswith("--")]


def make_parser(prog: str = PROG) -> argparse.ArgumentParser:
    """The ``hammer-train sweep`` argument parser; arguments it does not know are recipe overrides
    passed to every training run."""
    p = argparse.ArgumentParser(
        prog=prog,
        description="Train and evaluate one adapter per grid point of irrelevance share (and masking share), "
        "then tabulate and plot call accuracy and irrelevance accuracy. Unknown --flags are recipe overrides "
        "for every point (e.g. --max_steps 200).",
        allow_abbrev=False,
    )
    _add_grid_arguments(p)
    _add_eval_arguments(p)
    _add_run_arguments(p)
    _add_slurm_arguments(p)
    p.add_argument(
        "--wandb_sweep_file", default=None, help="--launcher wandb: the file to write (default <sweep_dir>/sweep.yaml)"
    )
    return p


def _add_grid_arguments(p: argparse.ArgumentParser) -> None:
    """The recipe, the grid (irrelevance and masking shares) and the sweep folder."""
    p.add_argument("recipe", help="recipe: a YAML file or the name of a shipped recipe (hammer-train recipes)")
    p.add_argument(
        "--irrelevance_ratio", required=True, help="comma-separated shares of [] rows, e.g. 0,0.05,0.1,0.2,0.3"
    )
    p.add_argument(
        "--masking_row_prob",
        default=None,
        help="comma-separated shares of masked rows, e.g. 0,0.67,1.0 (the recipe's when absent)",
    )
    p.add_argument(
        "--sweep_dir",
        default=None,
        help="parent folder of the points (default outputs/sweep-<recipe name>); its name is the wandb group",
    )


def _add_eval_arguments(p: argparse.ArgumentParser) -> None:
    """The flags passed on to ``hammer-train evaluate`` for every point."""
    p.add_argument(
        "--benchmarks", default=None, help="benchmarks for hammer-train evaluate, e.g. sealtool,bfcl_irrelevance"
    )
    p.add_argument("--limit", type=positive_int, default=None, help="rows per benchmark for hammer-train evaluate")
    p.add_argument("--eval_args", default="", help="further arguments for hammer-train evaluate, one quoted string")
    p.add_argument(
        "--model", default=None, help="base model for evaluation (default: the recipe's model_name_or_path)"
    )


def _add_run_arguments(p: argparse.ArgumentParser) -> None:
    """How points run: printed, under accelerate, collected only, unvalidated; the launcher."""
    p.add_argument(
        "--print_commands",
        action="store_true",
        help="print one shell line per point instead of running it: "
        "accelerate launch -m hammer_train.cli train ... && hammer-train evaluate ...",
    )
    p.add_argument(
        "--accelerate_config",
        default=None,
        help="--config_file for accelerate launch: printed commands and Slurm jobs always train under accelerate "
        "launch; with this flag local runs (and so W&B agent runs) do too",
    )
    p.add_argument(
        "--collect_only",
        action="store_true",
        help="run nothing; only collect finished points into the table and figure",
    )
    p.add_argument(
        "--no_validate",
        action="store_true",
        help="skip parsing the recipe with the first point's overrides before starting",
    )
    p.add_argument(
        "--launcher",
        choices=LAUNCHERS,
        default="local",
        help="local: points one after another here (default); slurm: one submitit job per point; "
        "wandb: write a W&B grid sweep file for wandb agent",
    )


def _add_slurm_arguments(p: argparse.ArgumentParser) -> None:
    """The ``--launcher slurm`` flags: submitit's own parameter names."""
    g = p.add_argument_group("--launcher slurm (submitit; names as submitit's update_parameters)")
    g.add_argument(
        "--cluster",
        choices=CLUSTERS,
        default="slurm",
        help="submitit executor: slurm; local (the same jobs as processes on this machine); debug (in this process)",
    )
    g.add_argument("--slurm_partition", default=None)
    g.add_argument("--slurm_account", default=None)
    g.add_argument("--slurm_qos", default=None)
    g.add_argument("--nodes", type=positive_int, default=1, help="nodes per point (accelerate multi-node; default 1)")
    g.add_argument("--gpus_per_node", type=positive_int, default=None)
    g.add_argument("--cpus_per_task", type=positive_int, default=None)
    g.add_argument("--mem_gb", type=float, default=None)
    g.add_argument(
        "--timeout_min",
        type=positive_int,
        default=1440,
        help="minutes per job; at the limit submitit requeues it and training resumes from its last checkpoint",
    )
    g.add_argument(
        "--slurm_setup",
        action="append",
        default=[],
        help="a shell line run in the job first, e.g. 'source .venv/bin/activate' (repeatable)",
    )
    g.add_argument(
        "--submitit_parameter",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any other update_parameters key, e.g. slurm_constraint=a100 or slurm_array_parallelism=4 (repeatable)",
    )
    g.add_argument("--no_wait", action="store_true", help="submit and return; collect later with --collect_only")


def _grid(args: argparse.Namespace) -> dict[str, list[float]]:
    try:
        axes = {"irrelevance_ratio": parse_values(args.irrelevance_ratio, "irrelevance_ratio")}
        if args.masking_row_prob is not None:
            axes["masking_row_prob"] = parse_values(args.masking_row_prob, "masking_row_prob")
    except ValueError as exc:  # parse_values names the flag and the value
        raise UsageError(str(exc)) from None
    return axes


def spec_from_args(args: argparse.Namespace, overrides: list[str]) -> SweepSpec:
    """Build a :class:`SweepSpec` from parsed arguments and the leftover recipe overrides. A shipped
    recipe's name is resolved to its file (:func:`hammer_train.shipped_recipes.resolve_recipe`).

    Raises:
        UsageError: a bad grid value, a leftover that is not a ``--flag``, or an override the
            sweep sets itself (``--output_dir``, ``--run_name``, ``--config``).
        hammer_train.config.RecipeError: the recipe is neither a file nor a shipped recipe.
    """
    from ..shipped_recipes import resolve_recipe

    if overrides and not overrides[0].startswith("--"):
        raise UsageError(f"unexpected argument {overrides[0]!r} (recipe overrides are --key value)")
    reserved = sorted(set(_override_keys(overrides)) & set(_RESERVED))
    if reserved:
        raise UsageError(
            f"the sweep sets {', '.join('--' + k for k in reserved)} itself for every point; use --sweep_dir"
        )
    axes = _grid(args)
    swept_twice = sorted(set(_override_keys(overrides)) & set(axes))
    if swept_twice:
        raise UsageError(f"{swept_twice} given twice")
    if args.limit is not None and args.limit < 1:
        raise UsageError("--limit must be >= 1")
    if args.print_commands and args.launcher != "local":
        raise UsageError(f"--print_commands prints the local commands; it does not go with --launcher {args.launcher}")
    recipe = resolve_recipe(args.recipe)
    sweep_dir = Path(args.sweep_dir) if args.sweep_dir else Path("outputs") / f"sweep-{recipe.stem}"
    return SweepSpec(
        recipe=str(recipe),
        axes=axes,
        sweep_dir=sweep_dir,
        overrides=list(overrides),
        benchmarks=args.benchmarks,
        limit=args.limit,
        eval_args=shlex.split(args.eval_args or ""),
        accelerate_config=args.accelerate_config,
        model=args.model,
    )


def validate_spec(spec: SweepSpec, parse: bool = True, elsewhere: bool = False) -> None:
    """Parse the recipe with the first point's overrides (as ``hammer-train train`` will), so that
    an unknown key or a bad value stops the sweep before anything runs; also resolves the model
    for evaluation.

    Args:
        parse: ``False`` only resolves the model (``--no_validate``, ``--collect_only``).
        elsewhere: the points train on other machines (Slurm jobs, W&B agents, printed commands):
            this machine's devices are not checked (``parse_recipe(device_free=True)``, so a bf16
            GPU recipe validates on a login node without a GPU).

    Raises:
        hammer_train.config.RecipeError: as :func:`hammer_train.recipe_parser.parse_recipe`.
        UsageError: no model for evaluation.
    """
    if parse:
        from ..recipe_parser import parse_recipe

        argv = train_arguments(spec, spec.points()[0])
        parse_recipe(argv, device_free=elsewhere)
    try:
        spec.base_model()
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def submitit_options(args: argparse.Namespace) -> SubmititOptions:
    """The :class:`~hammer_train.sweep.submitit_launcher.SubmititOptions` of the ``--launcher slurm``
    flags; ``--submitit_parameter`` values are read as YAML scalars (``4`` an int, ``a100`` a string).

    Raises:
        UsageError: a ``--submitit_parameter`` without ``=``, or a count below 1.
    """
    import yaml

    extra = {}
    for item in args.submitit_parameter:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--submitit_parameter {item!r}: expected KEY=VALUE, e.g. slurm_constraint=a100")
        extra[key.strip()] = yaml.safe_load(value)
    for flag in ("nodes", "gpus_per_node", "cpus_per_task", "timeout_min"):
        value = getattr(args, flag)
        if value is not None and value < 1:
            raise UsageError(f"--{flag} must be >= 1, got {value}")
    return SubmititOptions(
        cluster=args.cluster,
        partition=args.slurm_partition,
        account=args.slurm_account,
        qos=args.slurm_qos,
        nodes=args.nodes,
        gpus_per_node=args.gpus_per_node,
        cpus_per_task=args.cpus_per_task,
        mem_gb=args.mem_gb,
        timeout_min=args.timeout_min,
        setup=list(args.slurm_setup),
        parameters=extra,
    )


@user_errors
def main(argv: Sequence[str] | None = None, runner: Runner | None = None) -> int:
    """``hammer-train sweep``: run (locally, as submitit jobs), print, collect, or write a W&B sweep.

    Args:
        argv: command-line arguments (``sys.argv[1:]`` when ``None``).
        runner: replaces :func:`hammer_train.sweep.subprocess_runner` for the local launcher (tests).

    Returns:
        Exit status: 0, 1 when a point failed, 2 for a usage or recipe error (one line).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    args, overrides = make_parser().parse_known_args(argv)
    setup_logging()
    spec = spec_from_args(args, overrides)
    elsewhere = args.print_commands or args.launcher != "local"
    validate_spec(spec, parse=not (args.no_validate or args.collect_only), elsewhere=elsewhere)
    if args.print_commands:
        for point in spec.points():
            print(shell_line(spec, point))
        return 0
    if args.collect_only:
        paths = write_report(spec)
        print(f"[sweep] report: {', '.join(str(p) for p in paths.values())}")
        return 0
    if args.launcher == "wandb":
        path = write_wandb_sweep(
            spec, args.wandb_sweep_file, recipe=args.recipe, written_by=f"{PROG} {shlex.join(argv)}"
        )
        print(f"[sweep] wrote {path}; run it with: wandb sweep {path}  then on each machine: wandb agent SWEEP_ID")
        return 0
    if args.launcher == "slurm":
        try:
            outcome = submit_sweep(
                spec, submitit_options(args), wait=not args.no_wait, poll_s=30.0 if args.cluster == "slurm" else 1.0
            )
        except SubmititParameterError as exc:
            raise UsageError(str(exc)) from None
        return 1 if outcome.failed else 0
    outcome = run_sweep(spec, runner=runner)
    log_point_to_wandb(spec)  # only under a W&B agent (one-point sweep): the run gets eval/* scores
    return 1 if outcome.failed else 0
