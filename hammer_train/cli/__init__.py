"""The ``hammer-train`` command: one subcommand per module of this package, as TRL's ``trl sft``.

    hammer-train train RECIPE [--field value ...]      train a LoRA adapter (RECIPE: file or shipped name)
    hammer-train prepare-data RECIPE --report          build the training rows, print the data report
    hammer-train evaluate MODEL --adapter DIR ...      score on function-calling benchmarks
    hammer-train sweep RECIPE --irrelevance_ratio ...  one training + evaluation per grid point
    hammer-train recipes [NAME]                        list the shipped recipes (or print one)
    hammer-train export ADAPTER [--gguf q8_0]          merged model + training chat template for serving
    hammer-train synthesize --tools tools.json ...     make verified training data for your own tools

    accelerate launch [--config_file F] -m hammer_train.cli train RECIPE    many GPUs

Each command is a module ``hammer_train.cli.<name with _ for ->`` with ``make_parser()`` and
``main(argv=None) -> int``; adding a command is one line of :data:`COMMANDS` plus its module. A
user's mistake ends as one line and exit status 2 (:mod:`hammer_train.cli._common`).
"""

from __future__ import annotations

import argparse
import importlib
import sys


__all__ = ["COMMANDS", "make_parser", "main"]

COMMANDS: dict[str, str] = {
    "train": "Train a LoRA adapter from a recipe (TRL SFTTrainer, PEFT, accelerate).",
    "prepare-data": "Build a recipe's training rows and print the data report.",
    "evaluate": "Score a model or adapter on function-calling benchmarks, or merge results.",
    "sweep": "Train and evaluate one adapter per irrelevance (and masking) share.",
    "recipes": "List the recipes shipped with the package, or print one.",
    "export": "Merge an adapter into its base with the training chat template (+ GGUF, Ollama Modelfile) for serving.",
    "synthesize": "Synthesize and verify function-calling data for your own tools (ToolACE / ToolAlpaca), "
    "or lint data with --verify_only.",
}
"""Command name -> one-line help. The command's code is the module ``hammer_train.cli.<name>``
(``-`` written ``_``)."""


def make_parser() -> argparse.ArgumentParser:
    """The top-level parser: lists the commands; each command parses its own arguments."""
    parser = argparse.ArgumentParser(
        prog="hammer-train",
        description="Fine-tune language models for function calling the Hammer way (function masking and "
        "irrelevance augmentation) on TRL's SFTTrainer with PEFT LoRA.",
        epilog="Run 'hammer-train COMMAND --help' for a command's arguments.",
        allow_abbrev=False,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(title="commands", dest="command", metavar="COMMAND")
    for name, help_text in COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("hammer-train")
    except PackageNotFoundError:  # run from a checkout that is not installed
        return "(not installed)"


def main(argv: list[str] | None = None) -> int:
    """Run ``hammer-train COMMAND ...``: the command's ``main`` gets the arguments after its name.

    Returns:
        The command's exit status; 0 for ``--help``, 2 for an unknown command.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = make_parser()
    if not argv or argv[0] in ("-h", "--help"):
        parser.print_help()
        return 0
    if argv[0] not in COMMANDS:
        parser.parse_args(argv[:1])  # --version, or the usage error for an unknown command (exit 2)
        return 2  # pragma: no cover - parse_args exits
    module = importlib.import_module(f"{__name__}.{argv[0].replace('-', '_')}")
    return module.main(argv[1:])
