"""Recipe arguments: our dataclass next to TRL's ``SFTConfig`` and ``ModelConfig``.

A recipe is one flat YAML file (alignment-handbook style) whose keys are fields of these three
dataclasses; :func:`hammer_train.recipe_parser.parse_recipe` parses it with TRL's ``TrlParser`` and
applies command-line overrides (``--irrelevance_ratio 0.2 --learning_rate 1e-4``).

Hammer's own settings (paper arXiv 2410.04587 §3; docs/design.md "What Hammer does") are
the defaults here: 2/3 of rows masked, names of 5-15 / 4-10 characters from ``A-Za-z0-9_.``,
10% irrelevance rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from .masking import MaskingConfig, MaskingConfigError


__all__ = ["DEFAULT_TOOL_CALL_EVAL_STEPS", "DataSource", "HammerArguments", "RecipeError"]

FORMATS = ("xlam", "hammer_eval", "sharegpt", "openai", "bfcl")

_MASKING_DEFAULTS = {f.name: f.default for f in fields(MaskingConfig)}
"""MaskingConfig's defaults: the ``masking_*`` recipe fields take theirs from here, never their own."""

DEFAULT_TOOL_CALL_EVAL_STEPS = 320
"""Steps between runs when neither ``tool_call_eval_steps`` nor the trainer's ``eval_steps`` is set:
the middle and the end of the 640 steps the CPU quality recipe had in sessions 19-21 (its 800 steps
now: runs at steps 320, 640 and 800). On the CPU a run of the default 36-row slice costs as much as
13 to 23 training steps at 1,024 tokens (prefilling ~32k prompt tokens and decoding up to 80 tokens
per row; 72-101 s per run against 4.3-5.4 s per step in bf16, docs/quality.md), so 2 runs took
about 4-7% of the 640-step recipe's training time. Set
``tool_call_eval_steps`` for a finer curve; ``tool_call/final_cost_share`` reports what it cost."""


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
    masking_row_prob: float = field(
        default=_MASKING_DEFAULTS["row_prob"], metadata={"help": "Share of rows masked (Hammer: 2/3)."}
    )
    masking_function_prob: float = field(
        default=_MASKING_DEFAULTS["function_prob"],
        metadata={"help": "In a masked row, probability of masking function names."},
    )
    masking_parameter_prob: float = field(
        default=_MASKING_DEFAULTS["parameter_prob"],
        metadata={"help": "In a masked row, probability of masking parameter names."},
    )
    masking_default_prob: float = field(
        default=_MASKING_DEFAULTS["default_prob"],
        metadata={"help": "In a masked row, probability of replacing used default values."},
    )
    masking_function_name_length: list[int] = field(
        default_factory=lambda: list(_MASKING_DEFAULTS["function_name_length"]),
        metadata={"help": "Min and max length of masked function names (Hammer: 5 15)."},
    )
    masking_parameter_name_length: list[int] = field(
        default_factory=lambda: list(_MASKING_DEFAULTS["parameter_name_length"]),
        metadata={"help": "Min and max length of masked parameter names (Hammer: 4 10)."},
    )
    masking_alphabet: str = field(
        default=_MASKING_DEFAULTS["alphabet"],
        metadata={"help": "Characters of masked names, in draw order (Hammer: A-Z a-z 0-9 _ .)."},
    )
    masking_shuffle_tools: bool = field(
        default=_MASKING_DEFAULTS["shuffle_tools"], metadata={"help": "Shuffle the tool list of masked rows."}
    )
    masking_duplicate_padding: bool = field(
        default=_MASKING_DEFAULTS["duplicate_padding"], metadata={"help": "Hammer's duplicate padding of tool lists."}
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

    # ---- length fitting (issue 26; hammer_train/fitting.py), kept apart from the masking fields
    fit_long_rows: bool = field(
        default=True,
        metadata={
            "help": "Rows longer than max_length lose distractor tools (tools no answer calls) until they fit, and "
            "only rows whose query, called tools and answers alone are too long are dropped (before irrelevance "
            "mixing, so its share holds). false: over-long rows are dropped whole after mixing (earlier behaviour)."
        },
    )

    length_curriculum_max_length: int | None = field(
        default=None,
        metadata={"help": "Token limit of the first length_curriculum_steps steps (shorter than max_length)."},
    )
    length_curriculum_steps: int = field(
        default=0,
        metadata={
            "help": "Optimizer steps run on rows fitted to length_curriculum_max_length before the rest of max_steps "
            "runs at max_length, resumed from the phase's checkpoint (hammer_train/curriculum.py); 0: off."
        },
    )

    # ---- held-out benchmarks: their rows never train (decontamination)
    holdout_benchmarks: list[str] = field(
        default_factory=list,
        metadata={
            "help": "Benchmarks scored after training (names as in hammer-train evaluate --list, e.g. bfcl_simple, "
            "bfcl_irrelevance): a training row whose query is one of their rows is dropped and counted "
            "(held_out_benchmark_row). BFCL's live_irrelevance repeats five bfcl_irrelevance rows."
        },
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
            "help": "Not a recipe key: set by parse_recipe when the recipe says bf16: auto (or sets neither bf16 "
            "nor fp16), to what it resolved "
            "and why (hammer_train.precision.Bf16Choice.to_dict())."
        },
    )

    def __post_init__(self) -> None:
        self.sources = _sources(self.sources, "sources")
        self.eval_sources = _sources(self.eval_sources, "eval_sources")
        if not 0 <= self.irrelevance_ratio < 1:
            raise RecipeError(f"irrelevance_ratio must be in [0, 1), got {self.irrelevance_ratio}")
        try:  # MaskingConfig validates the masking_* fields it holds
            self.masking_config()
        except MaskingConfigError as exc:
            raise RecipeError(f"masking_{exc.field} {exc.problem}") from None
        if self.prompt_style not in ("hammer", "native"):
            raise RecipeError(f"prompt_style must be 'hammer' or 'native', got {self.prompt_style!r}")
        if self.masking_mode not in ("dynamic", "static"):
            raise RecipeError(f"masking_mode must be 'dynamic' or 'static', got {self.masking_mode!r}")
        if self.masking_copies < 1:
            raise RecipeError(f"masking_copies must be >= 1, got {self.masking_copies}")
        if self.length_curriculum_steps < 0 or (self.length_curriculum_max_length or 1) < 1:
            raise RecipeError("length_curriculum_steps must be >= 0 and length_curriculum_max_length >= 1")
        self._check_tool_call_eval()

    def masking_config(self) -> MaskingConfig:
        """The :class:`hammer_train.masking.MaskingConfig` these fields describe (``masking_mode``
        ``"dynamic"`` -> ``dynamic=True``; ``masking_copies`` is the data pipeline's).

        Raises:
            MaskingConfigError: a field out of range (``__post_init__`` reports it as a ``RecipeError``).
        """
        return MaskingConfig(
            row_prob=self.masking_row_prob,
            function_prob=self.masking_function_prob,
            parameter_prob=self.masking_parameter_prob,
            default_prob=self.masking_default_prob,
            function_name_length=self.masking_function_name_length,
            parameter_name_length=self.masking_parameter_name_length,
            alphabet=self.masking_alphabet,
            shuffle_tools=self.masking_shuffle_tools,
            duplicate_padding=self.masking_duplicate_padding,
            dynamic=self.masking_mode == "dynamic",
        )

    # ---- in-training tool-call metrics (hammer_train/callbacks.py: ToolCallEvalCallback) ----------------
    tool_call_eval: bool = field(
        default=False,
        metadata={"help": "Generate on a held-out slice every tool_call_eval_steps and log tool_call/* scores."},
    )
    tool_call_eval_benchmark: str = field(
        default="bfcl_simple",
        metadata={"help": "Benchmark of the slice's call rows (its renamed rows are built from them)."},
    )
    tool_call_eval_irrelevance: str | None = field(
        default="bfcl_irrelevance",
        metadata={"help": "Benchmark of the slice's irrelevance rows (gold []); empty or null for none."},
    )
    tool_call_eval_rows: int = field(
        default=36, metadata={"help": "Rows of the slice: a third call rows, a third irrelevance, a third renamed."}
    )
    tool_call_eval_steps: int | None = field(
        default=None,
        metadata={
            "help": "Optimizer steps between runs (and the last step); default: eval_steps, else "
            f"{DEFAULT_TOOL_CALL_EVAL_STEPS}."
        },
    )
    tool_call_eval_max_new_tokens: int = field(default=80, metadata={"help": "Generation limit per row of the slice."})
    tool_call_eval_batch_size: int = field(default=8, metadata={"help": "Prompts per generate call on each rank."})

    def _check_tool_call_eval(self) -> None:
        """Validate the tool_call_eval_* fields (benchmark names only when the callback is on)."""
        for name in ("tool_call_eval_rows", "tool_call_eval_max_new_tokens", "tool_call_eval_batch_size"):
            if getattr(self, name) < 1:
                raise RecipeError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.tool_call_eval_steps is not None and self.tool_call_eval_steps < 1:
            raise RecipeError(f"tool_call_eval_steps must be >= 1 or unset, got {self.tool_call_eval_steps}")
        if self.tool_call_eval_irrelevance in ("", "none", "None"):
            self.tool_call_eval_irrelevance = None
        if not self.tool_call_eval:
            return
        from .evaluation.benchmarks import BENCHMARKS

        for name in ("tool_call_eval_benchmark", "tool_call_eval_irrelevance"):
            bench = getattr(self, name)
            if bench is not None and bench not in BENCHMARKS:
                raise RecipeError(f"{name}: unknown benchmark {bench!r}; known: {', '.join(BENCHMARKS)}")
        if self.tool_call_eval_benchmark.endswith(("_renamed", "_shuffled")):
            raise RecipeError(
                f"tool_call_eval_benchmark: name a plain benchmark, not {self.tool_call_eval_benchmark!r} "
                "(the slice builds its renamed rows itself)"
            )
        minimum = 3 if self.tool_call_eval_irrelevance else 2
        if self.tool_call_eval_rows < minimum:
            raise RecipeError(
                f"tool_call_eval_rows must be >= {minimum} (one row per section), got {self.tool_call_eval_rows}"
            )

    # ---- end of the tool-call metrics block -------------------------------------------------------------
