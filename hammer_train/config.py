"""Recipe arguments: our dataclass next to TRL's ``SFTConfig`` and ``ModelConfig``.

A recipe is one flat YAML file (alignment-handbook style) whose keys are fields of these three
dataclasses; :func:`parse_recipe` parses it with TRL's ``TrlParser`` and applies command-line
overrides (``--irrelevance_ratio 0.2 --learning_rate 1e-4``). Unknown keys are an error naming the
key, raised before any model or data is loaded.

Hammer's own settings (paper arXiv 2410.04587 §3; DESIGN.md "Function masking", "Irrelevance") are
the defaults here: 2/3 of rows masked, names of 5-15 / 4-10 characters from ``A-Za-z0-9_.``,
10% irrelevance rows.
"""

from __future__ import annotations

import string
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


__all__ = ["DataSource", "HammerArguments", "RecipeError", "make_parser", "parse_recipe"]

FORMATS = ("xlam", "hammer_eval", "sharegpt", "openai", "bfcl")


class RecipeError(ValueError):
    """A recipe field is missing or out of range; the message names the field."""


@dataclass
class DataSource:
    """One entry of a recipe's ``sources`` (or ``eval_sources``) list.

    Attributes:
        format: reader name: ``xlam``, ``hammer_eval``, ``sharegpt``, ``openai`` or ``bfcl``.
        path: local ``.json`` / ``.jsonl`` / ``.parquet`` file, a hub dataset id, or for ``bfcl``
            a comma-separated list of BFCL v4 categories (data from the ``bfcl-eval`` package).
        split: split for hub datasets.
        name: dataset config name for hub datasets.
        weight: share of the source's rows to use: ``0.5`` takes half (sampled with the recipe
            seed), ``2.0`` repeats every row twice.
        max_rows: cap on rows taken after reading (before weighting), ``None`` for all.
        kind: ``"irrelevance"`` marks an external irrelevance set (answers ``[]``), e.g. Hammer's
            ``MadeAgents/XLAM-7.5k-Irrelevance``; such rows are drawn first when mixing.
    """

    format: str
    path: str
    split: str = "train"
    name: str | None = None
    weight: float = 1.0
    max_rows: int | None = None
    kind: str | None = None

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise RecipeError(f"sources[].format: {self.format!r} is not one of {FORMATS}")
        if not self.path:
            raise RecipeError("sources[].path is required")
        if not self.weight > 0:
            raise RecipeError(f"sources[].weight must be > 0, got {self.weight}")
        if self.kind not in (None, "irrelevance", "call"):
            raise RecipeError(f"sources[].kind must be 'irrelevance', 'call' or unset, got {self.kind!r}")


def _sources(items: Any, name: str) -> list[DataSource]:
    out = []
    for i, item in enumerate(items or []):
        if isinstance(item, DataSource):
            out.append(item)
            continue
        if not isinstance(item, dict):
            raise RecipeError(f"{name}[{i}] must be a mapping with format and path, got {item!r}")
        unknown = set(item) - set(DataSource.__dataclass_fields__)
        if unknown:
            raise RecipeError(f"{name}[{i}]: unknown key(s) {sorted(unknown)}")
        try:
            out.append(DataSource(**item))
        except TypeError as exc:
            raise RecipeError(f"{name}[{i}]: {exc}") from None
        except RecipeError as exc:
            raise RecipeError(str(exc).replace("sources[]", f"{name}[{i}]")) from None
    return out


@dataclass
class HammerArguments:
    """Our recipe fields: data, masking, irrelevance, prompt, output. (Training fields are TRL's
    ``SFTConfig``; model / LoRA / QLoRA fields are TRL's ``ModelConfig``.)"""

    sources: list[dict] = field(
        default_factory=list, metadata={"help": "Training data sources (list of DataSource mappings)."}
    )
    eval_sources: list[dict] = field(
        default_factory=list, metadata={"help": "Evaluation-loss data sources (same layout)."}
    )
    strict: bool = field(
        default=False, metadata={"help": "Raise on the first invalid row instead of dropping and counting it."}
    )
    prompt_style: str = field(
        default="hammer", metadata={"help": "'hammer' (four fenced blocks) or 'native' (tokenizer's tool template)."}
    )
    system_prompt: str = field(
        default="You are a helpful assistant.", metadata={"help": "System turn (Hammer fixes this one)."}
    )
    irrelevance_ratio: float = field(
        default=0.1, metadata={"help": "Target share of rows whose answer is [] (Hammer: ~0.1)."}
    )
    masking_row_prob: float = field(default=2 / 3, metadata={"help": "Share of rows masked (Hammer: 2/3)."})
    masking_function_prob: float = field(
        default=1.0, metadata={"help": "In a masked row, probability of masking function names."}
    )
    masking_parameter_prob: float = field(
        default=1.0, metadata={"help": "In a masked row, probability of masking parameter names."}
    )
    masking_default_prob: float = field(
        default=1.0, metadata={"help": "In a masked row, probability of replacing used default values."}
    )
    masking_function_name_length: list[int] = field(
        default_factory=lambda: [5, 15], metadata={"help": "Min and max length of masked function names."}
    )
    masking_parameter_name_length: list[int] = field(
        default_factory=lambda: [4, 10], metadata={"help": "Min and max length of masked parameter names."}
    )
    masking_alphabet: str = field(
        default=string.ascii_letters + string.digits + "_.", metadata={"help": "Characters of masked names."}
    )
    masking_shuffle_tools: bool = field(default=True, metadata={"help": "Shuffle the tool list of masked rows."})
    masking_duplicate_padding: bool = field(
        default=False, metadata={"help": "Hammer's duplicate padding of tool lists."}
    )
    masking_mode: str = field(
        default="dynamic",
        metadata={
            "help": "'dynamic': fresh names every epoch (on the fly); 'static': masked once into copies (Hammer)."
        },
    )
    masking_copies: int = field(
        default=1, metadata={"help": "Static mode: number of masked copies of the data (Hammer: 3)."}
    )
    merge: bool = field(
        default=False, metadata={"help": "Also save the base model merged with the adapter under output_dir/merged."}
    )

    # --- compute (issue 26): where the training compute goes; independent of the data fields above ---
    label_logits_only: bool = field(
        default=True,
        metadata={
            "help": "Run the LM head and the loss only at positions that have a label (hammer_train.trainer); "
            "false: TRL's SFTTrainer loss unchanged."
        },
    )
    bf16_auto: dict | None = field(
        default=None,
        init=False,
        metadata={
            "help": "Not a recipe key: set by parse_recipe when the recipe says bf16: auto, to what it resolved "
            "and why (hammer_train.precision.Bf16Choice.to_dict())."
        },
    )

    def __post_init__(self) -> None:
        self.sources = _sources(self.sources, "sources")
        self.eval_sources = _sources(self.eval_sources, "eval_sources")
        if not 0 <= self.irrelevance_ratio < 1:
            raise RecipeError(f"irrelevance_ratio must be in [0, 1), got {self.irrelevance_ratio}")
        for name in ("masking_row_prob", "masking_function_prob", "masking_parameter_prob", "masking_default_prob"):
            v = getattr(self, name)
            if not 0 <= v <= 1:
                raise RecipeError(f"{name} must be in [0, 1], got {v}")
        for name in ("masking_function_name_length", "masking_parameter_name_length"):
            v = getattr(self, name)
            if len(v) != 2 or not 1 <= v[0] <= v[1]:
                raise RecipeError(f"{name} must be [min, max] with 1 <= min <= max, got {v}")
        if self.prompt_style not in ("hammer", "native"):
            raise RecipeError(f"prompt_style must be 'hammer' or 'native', got {self.prompt_style!r}")
        if self.masking_mode not in ("dynamic", "static"):
            raise RecipeError(f"masking_mode must be 'dynamic' or 'static', got {self.masking_mode!r}")
        if self.masking_copies < 1:
            raise RecipeError(f"masking_copies must be >= 1, got {self.masking_copies}")
        if len(set(self.masking_alphabet)) < 2:
            raise RecipeError("masking_alphabet needs at least two distinct characters")

    def masking_config(self):
        """The :class:`hammer_train.masking.MaskingConfig` these fields describe."""
        from .masking import MaskingConfig

        return MaskingConfig(
            row_prob=self.masking_row_prob,
            function_prob=self.masking_function_prob,
            parameter_prob=self.masking_parameter_prob,
            default_prob=self.masking_default_prob,
            function_name_length=tuple(self.masking_function_name_length),
            parameter_name_length=tuple(self.masking_parameter_name_length),
            alphabet=self.masking_alphabet,
            shuffle_tools=self.masking_shuffle_tools,
            duplicate_padding=self.masking_duplicate_padding,
            dynamic=self.masking_mode == "dynamic",
        )


def make_parser():
    """``TrlParser`` over ``(HammerArguments, SFTConfig, ModelConfig)``."""
    from trl import ModelConfig, SFTConfig, TrlParser

    return TrlParser((HammerArguments, SFTConfig, ModelConfig))


def _config_args(argv: list[str]) -> list[str]:
    """Map ``RECIPE.yaml [overrides]`` (the mission's form) onto ``--config RECIPE.yaml``."""
    if argv and not argv[0].startswith("-") and argv[0].endswith((".yaml", ".yml")):
        return ["--config", argv[0], *argv[1:]]
    return argv


def parse_recipe(argv: list[str] | None = None):
    """Parse a recipe and command-line overrides.

    Args:
        argv: ``["recipes/x.yaml", "--learning_rate", "1e-4", ...]`` (the YAML may also be given
            as ``--config x.yaml``); defaults to ``sys.argv[1:]``. ``bf16: auto`` (YAML or
            ``--bf16 auto``) is resolved for this machine first (:func:`hammer_train.precision.
            resolve_bf16_auto`: CUDA bf16 support, or the CPU's ``avx512_bf16`` / ``amx_bf16``).

    Returns:
        ``(hammer_args, sft_config, model_config)``; with ``bf16: auto``, ``hammer_args.bf16_auto``
        holds ``{"requested": "auto", "bf16": bool, "device": str, "reason": str}`` (None otherwise).

    Raises:
        RecipeError: unknown key (named), missing model, a value out of range (field named),
            recipe file not found. Raised before any model or data is loaded.
    """
    argv = _config_args(list(sys.argv[1:] if argv is None else argv))
    if "--config" in argv:
        path = Path(argv[argv.index("--config") + 1])
        if not path.is_file():
            raise RecipeError(f"recipe file {str(path)!r} does not exist")
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
        raise RecipeError(msg) from None
    if not model_config.model_name_or_path:
        raise RecipeError("model_name_or_path is required (a hub id, a local folder, or a .gguf file)")
    if not hammer_args.sources:
        raise RecipeError("sources is required: at least one training data source")
    hammer_args.bf16_auto = bf16_auto.to_dict() if bf16_auto is not None else None
    return hammer_args, sft_config, model_config
