"""Build a recipe's training data and print its data report.

    hammer-train prepare-data RECIPE --report [--tokenize] [--save_rows rows.jsonl] [--field value ...]

The rows do not depend on the device, so the recipe is parsed as on a CPU (``--use_cpu true``): a
GPU recipe's data can be prepared on a machine without a GPU. Without ``--tokenize`` no model is loaded: the report covers reading, drops by reason, irrelevance
mixing and masking. With ``--tokenize`` the recipe's tokenizer is loaded and the report adds
token-length percentiles, rows dropped as too long, and the padding share. A source that gives no
rows is a warning in the report (``warnings``) and on stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from ._common import setup_logging, user_errors


__all__ = ["make_parser", "main"]

PROG = "hammer-train prepare-data"


def _own_arguments(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    parser.add_argument("--report", action="store_true", help="print the data report (JSON)")
    parser.add_argument("--tokenize", action="store_true", help="load the recipe's tokenizer and report token lengths")
    parser.add_argument("--save_rows", help="write the rendered prompt / completion rows (epoch 0) as JSON lines")


def make_parser(prog: str = PROG):
    """The recipe fields (TRL's ``TrlParser``, as ``hammer-train train``) plus this command's own
    ``--report``, ``--tokenize`` and ``--save_rows``; used for ``--help``."""
    from ..recipe_parser import make_parser as recipe_parser

    parser = recipe_parser()
    parser.prog = prog
    parser.usage = f"{prog} RECIPE [--report] [--tokenize] [--save_rows FILE] [--field value ...]"
    parser.description = (
        "Build a recipe's training rows and print the data report. RECIPE is a YAML file or the name of a "
        "shipped recipe (hammer-train recipes); recipe fields can be overridden as in hammer-train train."
    )
    _own_arguments(parser.add_argument_group("hammer-train prepare-data"))
    return parser


@user_errors
def main(argv: list[str] | None = None) -> int:
    """``hammer-train prepare-data``: 0, or 2 for a user's mistake (one line)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if "-h" in argv or "--help" in argv:
        make_parser().print_help()
        return 0
    setup_logging(logging.WARNING)
    own_parser = argparse.ArgumentParser(prog=PROG, add_help=False, allow_abbrev=False)
    _own_arguments(own_parser)
    own, rest = own_parser.parse_known_args(argv)
    from ..data import build_dataset
    from ..recipe_parser import parse_recipe

    # the rows do not depend on the device: a bf16 GPU recipe prepares its data without a GPU
    hammer_args, sft_config, model_config = parse_recipe(rest, device_free=True)
    tokenizer = None
    if own.tokenize:
        from transformers import AutoTokenizer

        from ..checks import check_model

        path = check_model(model_config.model_name_or_path, model_config.model_revision)
        tokenizer = AutoTokenizer.from_pretrained(path, revision=model_config.model_revision)
    dataset, report = build_dataset(
        hammer_args,
        sft_config.seed,
        tokenizer=tokenizer,
        max_length=sft_config.max_length if tokenizer else None,
        batch_size=sft_config.per_device_train_batch_size,
        sampling_strategy=str(
            getattr(sft_config.train_sampling_strategy, "value", sft_config.train_sampling_strategy)
        ),
    )
    if own.save_rows:
        rows = dataset
        if tokenizer is not None:  # the fitted rows (distractor tools removed), as conversations
            rows = build_dataset(
                hammer_args, sft_config.seed, tokenizer=tokenizer, max_length=sft_config.max_length, conversations=True
            )[0]
        with open(own.save_rows, "w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
    if own.report or not own.save_rows:
        print(report.to_json())
    return 0
