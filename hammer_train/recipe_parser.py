"""Reading a recipe: ``RECIPE [--overrides]`` from the command line into TRL's ``TrlParser`` over
:class:`hammer_train.config.HammerArguments`, ``SFTConfig`` and ``ModelConfig``.

Unknown keys and values out of range (:mod:`hammer_train.checks`) are errors naming the key, raised
before any model or data is loaded; ``bf16: auto`` is resolved for this machine before parsing
(:mod:`hammer_train.precision`).
"""

from __future__ import annotations

import sys
from pathlib import Path

from .config import HammerArguments, RecipeError


__all__ = ["make_parser", "parse_recipe"]


def make_parser():
    """``TrlParser`` over ``(HammerArguments, SFTConfig, ModelConfig)``."""
    from trl import ModelConfig, SFTConfig, TrlParser

    return TrlParser((HammerArguments, SFTConfig, ModelConfig))


def _config_args(argv: list[str]) -> list[str]:
    """Map ``RECIPE [overrides]`` (the mission's form; a YAML path or a shipped recipe's name) onto
    ``--config FILE``, and resolve a shipped name given to ``--config``."""
    from .shipped_recipes import resolve_recipe

    if argv and not argv[0].startswith("-"):  # TrlParser has no positional argument: this is the recipe
        argv = ["--config", argv[0], *argv[1:]]
    if "--config" in argv:
        i = argv.index("--config")
        if i + 1 >= len(argv):
            raise RecipeError("--config needs a recipe file or a shipped recipe's name")
        argv = [*argv[: i + 1], str(resolve_recipe(argv[i + 1])), *argv[i + 2 :]]
    return argv


def _single_target_as_list(model_config) -> None:
    """Give back the list a recipe wrote for ``lora_target_modules: [q_proj]``.

    TRL's ``ModelConfig.__post_init__`` turns a one-element list into its string, and PEFT reads a
    string as a regular expression that must match a module's *whole* dotted name
    (``model.layers.0.self_attn.q_proj``), so ``[q_proj]`` would match nothing and fail after the
    model loaded, while ``[q_proj, v_proj]`` matches by name suffix. A plain name (letters, digits,
    ``_``, ``.``) other than ``all-linear`` is made a one-element list again; a real pattern stays a
    string, as PEFT documents (``LoraConfig.target_modules``).
    """
    import re

    target = getattr(model_config, "lora_target_modules", None)
    if isinstance(target, str) and target != "all-linear" and re.fullmatch(r"[A-Za-z0-9_.]+", target):
        model_config.lora_target_modules = [target]


def parse_recipe(argv: list[str] | None = None, *, device_free: bool = False):
    """Parse a recipe and command-line overrides.

    Args:
        argv: ``["recipes/x.yaml", "--learning_rate", "1e-4", ...]``; the recipe is a YAML path or
            the name of a shipped recipe (``"smollm2-135m"``, see
            :mod:`hammer_train.shipped_recipes`), and may also be given as ``--config x.yaml``;
            defaults to ``sys.argv[1:]``. ``bf16: auto`` (YAML or ``--bf16 auto``; also what a
            recipe setting neither ``bf16`` nor ``fp16`` gets) is resolved for this machine first
            (:func:`hammer_train.precision.resolve_bf16_auto`: CUDA bf16 support, or the CPU's
            ``avx512_bf16`` / ``amx_bf16``).
        device_free: parse as for another machine, without checking this one's devices: the recipe
            is parsed with ``--use_cpu true`` (``TrainingArguments`` then accepts ``bf16: true``
            without a GPU). For what does not depend on the device: the rows of ``prepare-data``, a
            sweep validated on a login node for Slurm jobs.

    Returns:
        ``(hammer_args, sft_config, model_config)``; with ``bf16: auto``, ``hammer_args.bf16_auto``
        holds ``{"requested": "auto" | "unset", "bf16": bool, "device": str, "reason": str}``
        (None where the recipe set ``bf16`` or ``fp16``).

    Raises:
        RecipeError: unknown key (named), missing model, a value out of range (field named),
            recipe file not found, not UTF-8 (byte named), not YAML (line and column named).
            A training value out of range (:func:`hammer_train.checks.check_training_values`). A
            length curriculum that cannot run (:func:`hammer_train.curriculum.check_length_curriculum`).
            Raised before any model or data is loaded.
    """
    argv = _config_args(list(sys.argv[1:] if argv is None else argv))
    if device_free:
        argv += ["--use_cpu", "true"]
    from .checks import check_recipe_file, check_training_values

    if "--config" in argv:
        check_recipe_file(Path(argv[argv.index("--config") + 1]))
    from .precision import resolve_bf16_auto

    argv, bf16_auto = resolve_bf16_auto(argv)  # SFTConfig.bf16 is a bool: decide "auto" before parsing
    parser = make_parser()
    try:
        hammer_args, sft_config, model_config = parser.parse_args_and_config(argv)
    except ValueError as exc:
        msg = str(exc)
        if msg.startswith("Unknown arguments from config file"):
            keys = [
                s[2:] for s in msg.split("[", 1)[1].split("]")[0].replace("'", "").split(", ") if s.startswith("--")
            ]
            raise RecipeError(f"unknown recipe key(s): {keys}") from None
        if "doesn't support bf16" in msg:  # TrainingArguments: bf16 true, no bf16 GPU, use_cpu false
            raise RecipeError(
                "bf16: true needs a CUDA device with bf16 (Ampere or later) or use_cpu: true, and this machine "
                "has no such device: set bf16: auto (bf16 where the hardware has it, fp32 elsewhere), "
                "bf16: false, or use_cpu: true"
            ) from None
        raise RecipeError(msg) from None
    if not model_config.model_name_or_path:
        raise RecipeError("model_name_or_path is required (a hub id, a local folder, or a .gguf file)")
    if not hammer_args.sources:
        raise RecipeError("sources is required: at least one training data source")
    from .curriculum import check_length_curriculum

    _single_target_as_list(model_config)
    check_training_values(sft_config, model_config)
    check_length_curriculum(hammer_args, sft_config)
    hammer_args.bf16_auto = bf16_auto.to_dict() if bf16_auto is not None else None
    return hammer_args, sft_config, model_config
