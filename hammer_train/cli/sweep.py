"""Irrelevance / masking sweeps from the command line: one training plus one evaluation per grid
point, then a table and a figure (see :mod:`hammer_train.sweep` for what a sweep does).

    hammer-train sweep RECIPE --irrelevance_ratio 0,0.05,0.1,0.2,0.3 [--masking_row_prob 0,0.67,1.0] \\
        [--benchmarks sealtool,bfcl_irrelevance --limit 50] [--sweep_dir outputs/sweep-NAME] \\
        [--print_commands] [--collect_only] [--max_steps 100 ...]

Points run one after another locally (each in a fresh process), or ``--print_commands`` prints one
``accelerate launch -m hammer_train.cli train ... && hammer-train evaluate ...`` line per point for
a scheduler. Finished points are skipped. The table and figure land in the sweep folder
(``results.csv``, ``results.md``, ``irrelevance_sweep.png``).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from ..sweep import Runner, SweepSpec, parse_values, run_sweep, shell_line, train_arguments, write_report
from ._common import UsageError, setup_logging, user_errors


__all__ = ["make_parser", "spec_from_args", "validate_spec", "main"]

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
    p.add_argument(
        "--benchmarks", default=None, help="benchmarks for hammer-train evaluate, e.g. sealtool,bfcl_irrelevance"
    )
    p.add_argument("--limit", type=int, default=None, help="rows per benchmark for hammer-train evaluate")
    p.add_argument("--eval_args", default="", help="further arguments for hammer-train evaluate, one quoted string")
    p.add_argument(
        "--model", default=None, help="base model for evaluation (default: the recipe's model_name_or_path)"
    )
    p.add_argument(
        "--print_commands",
        action="store_true",
        help="print one shell line per point instead of running it: "
        "accelerate launch -m hammer_train.cli train ... && hammer-train evaluate ...",
    )
    p.add_argument("--accelerate_config", default=None, help="--config_file for accelerate launch in printed commands")
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
    return p


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


def validate_spec(spec: SweepSpec, parse: bool = True) -> None:
    """Parse the recipe with the first point's overrides (as ``hammer-train train`` will), so that
    an unknown key or a bad value stops the sweep before anything runs; also resolves the model
    for evaluation.

    Args:
        parse: ``False`` only resolves the model (``--no_validate``, ``--collect_only``).

    Raises:
        hammer_train.config.RecipeError: as :func:`hammer_train.config.parse_recipe`.
        UsageError: no model for evaluation.
    """
    if parse:
        from ..config import parse_recipe

        parse_recipe(train_arguments(spec, spec.points()[0]))
    try:
        spec.base_model()
    except ValueError as exc:
        raise UsageError(str(exc)) from None


@user_errors
def main(argv: Sequence[str] | None = None, runner: Runner | None = None) -> int:
    """``hammer-train sweep``: run, print or collect a sweep.

    Args:
        argv: command-line arguments (``sys.argv[1:]`` when ``None``).
        runner: replaces :func:`hammer_train.sweep.subprocess_runner` (tests).

    Returns:
        Exit status: 0, 1 when a point failed, 2 for a usage or recipe error (one line).
    """
    args, overrides = make_parser().parse_known_args(list(sys.argv[1:] if argv is None else argv))
    setup_logging()
    spec = spec_from_args(args, overrides)
    validate_spec(spec, parse=not (args.no_validate or args.collect_only))
    if args.print_commands:
        for point in spec.points():
            print(shell_line(spec, point))
        return 0
    if args.collect_only:
        paths = write_report(spec)
        print(f"[sweep] report: {', '.join(str(p) for p in paths.values())}")
        return 0
    outcome = run_sweep(spec, runner=runner)
    return 1 if outcome.failed else 0
