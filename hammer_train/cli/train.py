"""Train a LoRA adapter from a recipe.

    hammer-train train RECIPE [--field value ...] [--dry_run]
    accelerate launch --config_file accelerate_configs/multi_gpu.yaml -m hammer_train.cli train hammer7b
    accelerate launch scripts/train.py recipes/hammer7b.yaml          (from a checkout)

RECIPE is a YAML file or the name of a shipped recipe (``hammer-train recipes``). Every recipe field
can be overridden on the command line (``--irrelevance_ratio 0.2``); ``--help`` lists them all: ours
(:class:`hammer_train.config.HammerArguments`), TRL's ``SFTConfig`` and TRL's ``ModelConfig``. Before
any model loads, the recipe is parsed, ``--resume_from_checkpoint`` is checked and the model is
looked up with its LoRA target modules (:mod:`hammer_train.checks`); ``--dry_run`` stops there,
checking the model only when it is already on this machine (no network, no GGUF conversion).
"""

from __future__ import annotations

import os
import sys

from ._common import setup_logging, user_errors


__all__ = ["make_parser", "main"]

PROG = "hammer-train train"


def make_parser(prog: str = PROG):
    """TRL's ``TrlParser`` over ``(HammerArguments, SFTConfig, ModelConfig)`` (the recipe fields),
    plus this command's own ``--dry_run``; used for ``--help`` (the recipe itself is parsed by
    :func:`hammer_train.recipe_parser.parse_recipe`)."""
    from ..recipe_parser import make_parser as recipe_parser

    parser = recipe_parser()
    parser.prog = prog
    parser.usage = f"{prog} RECIPE [--field value ...] [--dry_run]"
    parser.description = (
        "Train a LoRA adapter from a recipe. RECIPE is a YAML file or the name of a shipped recipe "
        "(hammer-train recipes). Every field below can be set in the recipe or overridden here."
    )
    own = parser.add_argument_group("hammer-train train")
    own.add_argument(
        "--dry_run",
        action="store_true",
        help="parse the recipe and check --resume_from_checkpoint, print the resolved recipe (YAML), "
        "and stop before any data or model loads; a model already on this machine (a local folder, "
        "a cached hub id, a converted GGUF file) is checked with its LoRA target modules, offline",
    )
    return parser


@user_errors
def main(argv: list[str] | None = None) -> int:
    """``hammer-train train``: 0 when the adapter is saved, 2 for a user's mistake (one line)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if "-h" in argv or "--help" in argv:
        make_parser().print_help()
        return 0
    dry_run = "--dry_run" in argv
    argv = [a for a in argv if a != "--dry_run"]
    setup_logging()
    from ..checks import check_checkpoint, check_lora_target_modules, check_model
    from ..recipe_parser import parse_recipe

    hammer_args, sft_config, model_config = parse_recipe(argv)
    if sft_config.resume_from_checkpoint:
        check_checkpoint(sft_config.resume_from_checkpoint)
    if dry_run:
        import yaml

        from ..checks import dry_run_model_check
        from ..train import resolved_recipe

        checked = dry_run_model_check(model_config, sft_config.trust_remote_code)
        print(yaml.safe_dump(resolved_recipe(hammer_args, sft_config, model_config), sort_keys=False), end="")
        print(checked, file=sys.stderr)
        return 0
    path = check_model(model_config.model_name_or_path, model_config.model_revision)
    check_lora_target_modules(model_config, path, sft_config.trust_remote_code)
    from ..train import train

    out = train(hammer_args, sft_config, model_config)
    if os.environ.get("RANK", "0") == "0":  # one line, not one per process under accelerate launch
        print(f"adapter saved to {out}")
    return 0
